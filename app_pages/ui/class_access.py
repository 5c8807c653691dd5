"""The ways into a class, and who sees what: starting a class in one click (the code, the two links and
an "Open the projector" button at once), the teacher's notes on their own view (``notes=1``, never on
the projector), the presenter's key kept in the projector's browser (a cookie) once it left the address
bar, a class code that names no class said in the main area, and the lesson panel above the step's
chart on screens narrower than the side-by-side layout.

The state lives in :mod:`app_pages.ui.live_class` (which reads the link); this module draws.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import streamlit as st

from app_pages.site import TITLES, current_key, page
from app_pages.ui import live_class
from app_pages.ui.text import plain_md
from latent.lessons import LessonError, load_lessons
from latent.lessons.words import t

JOIN = page("Join a class")
COOKIE_HOURS = 12
SIDE_MIN_PX = 1600          # from this width (and on the projector) the lesson panel sits beside the charts
_CHART_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")


# ----------------------------------------------------------------------------- starting a class
def start_button(lesson_id: str, label: str, where: str, **kw) -> None:
    """One click: a class for this lesson, its box (:func:`class_box`) drawn by the same run. The button's
    key is ``do_class_start_<where>``."""
    st.button(label, key=f"do_class_start_{where}", on_click=live_class.create, args=(lesson_id,),
              help=t("start_help", live_class.lang()), **kw)


def links(lesson_id: str, first_page_path: str) -> dict[str, str]:
    """The class's links: the projector's (with the presenter's key), the students', the teacher's notes
    (with the key, for the teacher's own device) and the Join page."""
    projector, student = live_class.links(lesson_id, first_page_path)
    q = {"v": "1", "lesson": lesson_id, "class": live_class.code(), "teach": st.session_state.get("_teach", ""),
         "notes": "1"}
    if live_class.lang() != "en":
        q["lang"] = live_class.lang()
    root = live_class.public_root()
    return {"projector": projector, "students": student, "notes": root + first_page_path + "?" + urlencode(q),
            "join": root + JOIN.path}


def class_box(lesson_id: str, title: str, first_page_path: str) -> None:
    """For the teacher who just started a class: the code, the projector's link with a button that opens
    it, the students' link, and (apart) the teacher's notes link."""
    code, lg = live_class.code(), live_class.lang()
    at = links(lesson_id, first_page_path)
    with st.container(border=True, key="class_links"):
        st.subheader(t("cb_title", lg, code=code, title=title))     # the code is from the class alphabet, the title ours
        st.markdown(f"{t('cb_code', lg)} `{code}`")
        st.markdown(t("cb_projector", lg))
        st.link_button(t("cb_open_projector", lg), at["projector"], type="primary", key="do_open_projector")
        st.code(at["projector"], language=None, wrap_lines=True)
        st.markdown(t("cb_students", lg, code=f"`{code}`", join=plain_md(at["join"])))
        st.code(at["students"], language=None, wrap_lines=True)
        live_class.unreachable_note()
        st.caption(t("cb_keep", lg))
    with st.container(border=True, key="class_teacher"):
        st.markdown(t("cb_notes", lg))
        st.link_button(t("cb_open_notes", lg), at["notes"], key="do_open_notes")
        with st.expander(t("cb_notes_link", lg)):
            st.code(at["notes"], language=None, wrap_lines=True)


def current_class_box() -> None:
    """This session's class box, where it is the class's presenter (Home draws it after its one click)."""
    lid = st.session_state.get("_class_lesson")
    if not live_class.teaching() or not lid:
        return
    try:
        lesson = load_lessons(lang=live_class.lang(), pages=TITLES, keys=current_key)[lid]
    except (LessonError, KeyError):
        return
    class_box(lid, lesson.title, page(lesson.steps[0].page).path)


# ----------------------------------------------------------------------------- on every page
def remember_teacher() -> None:
    """The projector's (and the notes view's) browser keeps the presenter's key for this class in a cookie,
    so a reload of its address (which no longer has the key) stays the projector. Only ``present=1`` and
    ``notes=1`` links read it back (:func:`app_pages.ui.live_class.read_url`): the students' link opened in
    the same browser stays a student's."""
    key = st.session_state.get("_teach_key")
    if not key or not live_class.code():
        return
    cookie = f"{live_class.TEACH_COOKIE % live_class.code()}={key}; path=/; max-age={COOKIE_HOURS * 3600}; SameSite=Strict"
    with st.container(key="teach_cookie", height=1, border=False):
        st.iframe(f"<script>window.parent.document.cookie = {json.dumps(cookie)};</script>", height=1)


def class_error() -> None:
    """A class code in the link that names no class: said in the main area (with the way to the Join page),
    until the reader joins a class or closes the note."""
    err = st.session_state.get("_class_error")
    if not err or live_class.code():
        return
    _, typed, why = err
    lg = live_class.lang()
    with st.container(border=True, key="class_error"):
        st.error(f"{t('not_in_class', lg, typed=plain_md(typed))} {plain_md(why)}")
        st.caption(t("not_in_class_help", lg))
        a, b = st.columns([2, 1])
        a.page_link(JOIN.file, label=t("type_code", lg))
        b.button(t("close_note", lg), key="do_class_error_close", on_click=st.session_state.pop, args=("_class_error", None))


PHONE_MAX_PX = 640          # Streamlit's own narrow layout (columns stack): a phone


def stack_css(chart_key: str | None, presenting: bool) -> str:
    """The lesson's layout CSS. On the projector (whose panel sits beside the charts at every width):
    :func:`projector_css`. Elsewhere below :data:`SIDE_MIN_PX`: the lesson panel first and the step's chart
    right after it, then the rest of the page. The main column is a flex column, so ``order`` moves the
    panel's and the chart's top-level blocks up without moving any widget in the page's script. On a phone
    (below :data:`PHONE_MAX_PX`) the page's heading goes below them, small, and Back and Next share a row: the
    first screen is the lesson panel, with its question."""
    if presenting:
        return projector_css()
    main = '[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"]'
    rules = [f"{main} > :first-child {{ order: -3; }}",          # the page's heading stays on top
             f"{main} > .st-key-class_error, {main} > :has(.st-key-class_error) {{ order: -3; }}",
             f"{main} > .st-key-lesson_panel, {main} > :has(.st-key-lesson_panel) {{ order: -2; }}"]
    if chart_key and _CHART_KEY.match(chart_key):
        rules.append(f"{main} > .st-key-chart_{chart_key}, {main} > :has(.st-key-chart_{chart_key}) {{ order: -1; }}")
    nav = '.st-key-lesson_panel [data-testid="stHorizontalBlock"]:has(.st-key-do_lesson_next)'
    phone = [f"{main} > :first-child {{ order: 0; }}",           # the heading after the panel and the chart
             f"{main} > :first-child h1 {{ font-size: 1.4rem !important; padding: 0.4rem 0 !important; }}",
             '[data-testid="stMainBlockContainer"] { padding-top: 4rem !important; }',
             f"{nav} {{ flex-wrap: nowrap !important; }}",
             f"{nav} > [data-testid='stColumn'] {{ min-width: 0 !important; width: auto !important; flex: 1 1 0 !important; }}"]
    return (f"<style>@media (max-width: {SIDE_MIN_PX - 0.02}px) {{ {' '.join(rules)} }}"
            f"@media (max-width: {PHONE_MAX_PX - 0.02}px) {{ {' '.join(phone)} }}</style>")


def projector_css() -> str:
    """The projector's lesson panel (1280×720 and up): the class's code large enough to read from the back of a
    room, and the class's part (the code and QR code on step 1, the tally on an asking step) right under Back
    and Next, so it is on the first screen however long the step's text is; the panel's spacing tighter."""
    panel = ".st-key-lesson_panel"
    return ("<style>"
            f"{panel} {{ gap: 0.55rem !important; }}"
            f"{panel} > :first-child {{ order: -3; }}"
            f"{panel} > :has(.st-key-do_lesson_next) {{ order: -2; }}"
            f"{panel} > :has(.st-key-class_join), {panel} > :has(.st-key-class_tally) {{ order: -1; }}"
            f"{panel} .st-key-class_join h3 {{ font-size: 3.4rem !important; line-height: 1.1 !important; "
            "letter-spacing: 0.08em; font-variant-numeric: tabular-nums; padding: 0 !important; margin: 0 !important; }"
            f"{panel} .st-key-class_tally h4 {{ font-size: 1.6rem !important; padding: 0.1rem 0 !important; }}"
            f"{panel} .st-key-class_tally {{ gap: 0.3rem !important; padding: 0.5rem 0.8rem !important; }}"
            "</style>")
