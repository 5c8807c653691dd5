"""A class run live: the presenter starts it (a short code, a projector link and a students' link with
a QR code), students join by the link, their predictions are tallied on the projector, and their
lesson step follows the presenter's. State lives in SQLite (:mod:`latent.lessons.classes`), so a
server restart loses nothing.

URL parameters: ``class`` (the code), ``teach`` (the presenter's secret: only in the projector
link), ``me`` (a student's member id, written after joining so a reload or a restart keeps it).
"""
from __future__ import annotations

import io
import os
import secrets
import socket
from urllib.parse import urlencode, urlsplit

import segno
import streamlit as st

from app_pages.ui import models
from latent.lessons.classes import ClassError, class_db, tally_text
from latent.lessons.words import t

FOLLOW_SECONDS = 2
TEACH_COOKIE = "latent_teach_%s"        # the projector's browser keeps the presenter's key for a class


def lang() -> str:
    return st.session_state.get("_lang", "en")


def code() -> str | None:
    return st.session_state.get("_class")


def teaching() -> bool:
    return bool(code() and st.session_state.get("_teach"))


def member() -> str | None:
    return st.session_state.get("_member")


def read_url(notes: list[str]) -> int | None:
    """Join or resume the class named in the link; returns the class's current step (0-based) for a
    student, else None. The code is read forgivingly (any case, O for 0, I for 1); one that names no
    class is said in the main area too (``_class_error``), not only in the sidebar's notes. The
    presenter's key leaves the address bar once read: the session keeps it, and the projector's browser
    keeps it in a cookie (:mod:`app_pages.ui.class_access`) so a reload of ``present=1`` stays the projector."""
    q = st.query_params
    if "notes" in q:                 # the teacher's notes view: only with the presenter's key in a class
        st.session_state["_notes_view"] = q.get("notes") == "1"
    c = q.get("class")
    if c is None:
        return None
    try:
        info = class_db().find(c)
    except ClassError as e:
        notes.append(f"class: {e} Not joined.")
        st.session_state["_class_error"] = (st.session_state.get("_url_tab"), str(c)[:20], str(e))
        _leave()
        return None
    st.session_state.pop("_class_error", None)
    if c != info.code:
        q["class"] = info.code
    held = st.session_state.get("_teach_key") if st.session_state.get("_class") == info.code else None
    kept = st.context.cookies.get(TEACH_COOKIE % info.code) if "1" in (q.get("present"), q.get("notes")) else None
    teach = q.get("teach") or held or kept
    st.session_state["_class"], st.session_state["_class_lesson"] = info.code, info.lesson
    if "teach" in q:
        del q["teach"]
    if teach is not None:
        if secrets.compare_digest(str(teach), info.teacher):
            st.session_state["_teach_key"] = info.teacher
            st.session_state.pop("_member", None)
            if st.session_state.get("_notes_view"):      # the teacher's own device: it follows the class
                st.session_state.pop("_teach", None)
                return info.step - 1
            st.session_state["_teach"] = info.teacher
            return None
        notes.append("teach=…: this is not the presenter's key for this class; joined as a student.")
    for k in ("_teach", "_teach_key", "_notes_view"):
        st.session_state.pop(k, None)
    me = q.get("me") or member()
    if not me or not class_db().is_member(info.code, me):
        me = class_db().join(info.code)
    st.session_state["_member"] = me
    q["me"] = me
    return info.step - 1


def notes_view() -> bool:
    """Whether this session shows the teacher's notes: a ``notes=1`` link holding the class's presenter key
    (the teacher's own device), or ``notes=1`` outside any class. Never the projector (``present=1``),
    never a student."""
    return bool(st.session_state.get("_notes_view")) and (not code() or bool(st.session_state.get("_teach_key")))


def _leave() -> None:
    for k in ("_class", "_teach", "_teach_key", "_member", "_class_lesson"):
        st.session_state.pop(k, None)
    for k in ("class", "teach", "me"):
        if k in st.query_params:
            del st.query_params[k]


def keep_url() -> None:
    """Write the class into this page's URL (a page switch clears it)."""
    if code():
        st.query_params["class"] = code()
        if member():                    # (the presenter's key stays in the session and its browser, not in the URL)
            st.query_params["me"] = member()
    if notes_view():
        st.query_params["notes"] = "1"


def create(lesson_id: str) -> None:
    """Start a class for a lesson: this session becomes its presenter."""
    info = class_db().create(lesson_id, lang())
    models.warm_lesson(lesson_id)          # the class's answers compute in the background, in step order
    st.session_state["_class"], st.session_state["_teach"] = info.code, info.teacher
    st.session_state["_teach_key"] = info.teacher
    st.session_state["_class_lesson"] = lesson_id
    st.session_state.pop("_member", None)


def moved(step: int) -> None:
    """The presenter moved to ``step`` (0-based): the class follows."""
    if teaching():
        try:
            class_db().set_step(code(), st.session_state["_teach"], step + 1)
        except ClassError:
            pass


def predicted(step: int, option) -> None:
    if code() and member() and option is not None:
        try:
            class_db().predict(code(), member(), step + 1, str(option))
        except ClassError:
            pass


def revealed(step: int, answer) -> None:
    if teaching():
        class_db().reveal(code(), step + 1, str(answer))


def reset() -> None:
    if teaching():
        class_db().reset(code(), st.session_state["_teach"])
        st.session_state["_class_reset"] = True


# ----------------------------------------------------------------------------- addresses and links
def public_root() -> str:
    """The address students' devices use: ``$LATENT_PUBLIC_URL``, else this server's network address
    (its LAN IP when it listens on all interfaces), else the address in the browser."""
    env = os.environ.get("LATENT_PUBLIC_URL", "").strip()
    if env:
        return env.rstrip("/") + "/"
    url = urlsplit(str(st.context.url or "http://localhost:8501/"))
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    host = url.hostname or "localhost"
    if host in ("localhost", "127.0.0.1", "::1") and not local_only():
        host = lan_ip() or host
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme or 'http'}://{host}{port}/" + (f"{base}/" if base else "")


def local_only() -> bool:
    """Whether this server listens only on this computer (students' devices cannot reach it)."""
    return str(st.get_option("server.address") or "") in ("localhost", "127.0.0.1", "::1")


def lan_ip() -> str | None:
    """This machine's address on the local network (no packet is sent: a UDP socket is only pointed)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        return None if ip.startswith("127.") else ip
    except OSError:
        return None


def links(lesson_id: str, page_path: str = "") -> tuple[str, str]:
    """(projector link, students' link) for this session's class."""
    root = public_root()
    q = {"v": "1", "lesson": lesson_id, "class": code()}
    if lang() != "en":
        q["lang"] = lang()
    student = root + page_path + "?" + urlencode(q)
    projector = root + page_path + "?" + urlencode({**q, "teach": st.session_state.get("_teach", ""), "present": "1"})
    return projector, student


def qr_png(text: str) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=6, border=2)
    return buf.getvalue()


# ----------------------------------------------------------------------------- on the lesson panel
def join_box(lesson_id: str, page_path: str) -> None:
    """For the presenter: the class code, the students' link and its QR code."""
    _, student = links(lesson_id, page_path)
    with st.container(key="class_join"):
        st.markdown(f"### {t('class', lang(), code=code())}")
        st.image(qr_png(student), caption=t("scan", lang()), width=200)
        st.code(student, language=None, wrap_lines=True)
        unreachable_note()


def unreachable_note() -> None:
    """Say so when students' devices cannot open the class's links (the server listens on localhost)."""
    if local_only():
        st.warning("This server listens only on this computer, so students' devices cannot open these links. "
                   "Stop it and start it with `make class`, which listens on the local network (or set "
                   "`LATENT_PUBLIC_URL` to the address students use).")


@st.fragment(run_every=FOLLOW_SECONDS)
def tally(step: int, options: list, label, tick=None) -> None:
    """The class's predictions for this step, live: counts per option, then the model's answer."""
    if tick is not None:
        tick()
    if not code():
        return
    try:
        info = class_db().get(code())
        counts = class_db().tally(code(), step + 1)
        answer = class_db().answer(code(), step + 1)
    except ClassError:
        st.caption(t("class_gone", lang()))
        return
    with st.container(border=True, key="class_tally"):
        st.markdown(f"**{t('tally', lang())}** · {t('class', lang(), code=code())} · {t('joined', lang(), n=info.members)}")
        st.text(tally_text(options, counts, answer, label, lang()))


@st.fragment(run_every=FOLLOW_SECONDS)
def follow(step: int, tick=None) -> None:
    """For a student: move to the presenter's step when it changes (the student's inputs are kept)."""
    if tick is not None:
        tick()
    if not code() or teaching():
        return
    on = st.toggle(t("follow", lang()), value=True, key="lesson_follow")
    if not on:
        return
    try:
        target = class_db().get(code()).step - 1
    except ClassError:
        st.caption(t("class_gone", lang()))
        return
    if target != step and target != st.session_state.get("_followed"):
        st.session_state["_followed"] = target
        st.session_state["lesson_step"] = target
        st.session_state["_visit"] = st.session_state.get("_visit", 0) + 1       # a new prediction radio
        st.session_state.pop("lesson_applied", None)
        st.rerun(scope="app")
    st.session_state["_followed"] = target
    st.caption(t("following", lang(), i=target + 1))
