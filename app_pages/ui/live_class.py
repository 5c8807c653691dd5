"""A class run live: the presenter starts it (a short code, a projector link and a students' link with
a QR code), students join by the link, and their lesson step follows the presenter's. Predictions are
blind (the projector shows "answered N of M") until the presenter's reveal locks them and pushes the
model's answer to every student's screen within :data:`FOLLOW_SECONDS`. A student is one device: a
random id kept in a cookie (:data:`COOKIE`), so re-opening the link keeps the member. Reset (asked
first) starts a new round for everyone at step 1; "End class" ends it with a summary (CSV, printable
page). State lives in SQLite (:mod:`latent.lessons.classes`), so a server restart loses nothing.

URL parameters: ``class`` (the code), ``teach`` (the presenter's secret: only in the projector
link), ``me`` (a student's member id, written after joining so a reload or a restart keeps it; the
device's cookie wins over it).
"""
from __future__ import annotations

import io
import math
import os
import secrets
import socket
import time
from urllib.parse import urlencode, urlsplit

import segno
import streamlit as st

from app_pages.ui import models
from latent.lessons.classes import DEVICE, ClassError, Pulse, class_db, tally_text
from latent.lessons.words import t

FOLLOW_SECONDS = 2
CHECK_IN_SECONDS = 10      # a student's page tells the class it is still there (for "N joined")
COOKIE = "latent_device"   # this browser's random id: one member per device and class
COUNTDOWN_SECONDS = 30
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
    me = _member_for(info.code, q.get("me"))
    st.session_state["_member"], st.session_state["_class_round"] = me, info.round
    q["me"] = me
    return info.step - 1


def _cookie() -> str | None:
    """The device id this browser sent (a cookie set by :func:`device_script` on an earlier visit)."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no browser (a bare script run): no cookie
        return None
    return value if isinstance(value, str) and DEVICE.match(value) else None


def device() -> str:
    """This browser's random id: its cookie, else one made for this session (which the panel's script keeps
    in the browser, so the next visit sends it)."""
    return _cookie() or st.session_state.setdefault("_device", secrets.token_urlsafe(12))


def device_script() -> str:
    """A script that keeps this session's device id in the browser (a year), unless the browser has one."""
    if _cookie() or not code() or teaching():
        return ""
    return ("<script>(() => { const d = window.parent.document;"
            f" if (!d.cookie.split('; ').some((c) => c.startsWith('{COOKIE}=')))"
            f" d.cookie = '{COOKIE}={device()}; path=/; max-age=31536000; SameSite=Lax'; }})();</script>")


def _member_for(c: str, me: str | None) -> str:
    """The member for this device: the device's own (its cookie) first, else the link's or the session's
    member, else a new member joined with this session's device id."""
    db = class_db()
    if _cookie():
        return db.join(c, device=_cookie())
    me = me or member()
    if me and db.is_member(c, me):
        return me
    return db.join(c, device=device())


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


def predicted(step: int, option) -> bool:
    """Send a student's prediction; False when the class did not take it (locked, ended, not a member)."""
    if code() and member() and option is not None:
        try:
            class_db().predict(code(), member(), step + 1, str(option))
            return True
        except ClassError:
            return False
    return False


def lock(step: int, seconds: float = 0) -> None:
    """The presenter closes the step's predictions, now or after a countdown."""
    if teaching():
        class_db().lock(code(), st.session_state["_teach"], step + 1, seconds)


def revealed(step: int, answer, fact: dict | None = None) -> None:
    if teaching():
        class_db().reveal(code(), step + 1, str(answer), fact)


def state(step: int) -> Pulse | None:
    """The class and this step, as the panel draws them now (a student's page reruns when they change)."""
    if not code():
        return None
    try:
        p = class_db().pulse(code(), step + 1)
    except ClassError:
        return None
    if not teaching():
        st.session_state["_class_drawn"] = _signature(step, p)
    return p


def _signature(step: int, p: Pulse) -> tuple:
    return step, p.locked, p.lock_at is not None, p.revealed, p.info.ended is not None, p.info.round


def revealed_step(step: int) -> bool | None:
    """Whether the class's presenter revealed this step (0-based); None when the class is gone."""
    try:
        return class_db().pulse(code(), step + 1).revealed if code() else None
    except ClassError:
        return None


def fact(step: int) -> dict | None:
    return class_db().fact(code(), step + 1) if code() else None


def locked(step: int) -> bool:
    return bool(code()) and class_db().locked(code(), step + 1)


def prediction(step: int) -> str | None:
    return class_db().prediction(code(), member(), step + 1) if code() and member() else None


def _restart_lesson() -> None:
    """This session's lesson back to step 1, with its predictions and answers forgotten."""
    st.session_state["_guesses"] = {}
    for k in [k for k in st.session_state if str(k).startswith("lesson_fact_")]:
        del st.session_state[k]
    st.session_state["lesson_step"] = st.session_state["_followed"] = 0
    st.session_state["_visit"] = st.session_state.get("_visit", 0) + 1        # new prediction radios
    st.session_state.pop("lesson_applied", None)


def reset() -> None:
    """The presenter's confirmed reset: a new round for everyone, at step 1."""
    st.session_state.pop("_class_confirm", None)
    if teaching():
        class_db().reset(code(), st.session_state["_teach"])
        _restart_lesson()
        st.session_state["_class_reset"] = True


def end() -> None:
    """The presenter's confirmed end of the class."""
    st.session_state.pop("_class_confirm", None)
    if teaching():
        class_db().end(code(), st.session_state["_teach"])


def ask(what: str | None) -> None:
    st.session_state["_class_confirm"] = what


def _cleared(rnd: int) -> None:
    """A student's page sees a new round: its answers are gone, it joins the new round at step 1."""
    _restart_lesson()
    st.session_state["_class_round"], st.session_state["_class_cleared"] = rnd, True
    st.session_state["_member"] = class_db().join(code(), device=device())


def _check_in() -> None:
    now = time.time()
    if now - st.session_state.get("_checked_in", 0) < CHECK_IN_SECONDS:
        return
    st.session_state["_checked_in"] = now
    if member() and not class_db().seen(code(), member()):
        st.session_state["_member"] = class_db().join(code(), device=device())


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
        st.warning(t("local_only", lang()))


@st.fragment(run_every=FOLLOW_SECONDS)
def tally(step: int, options: list, label, tick=None) -> None:
    """The class's predictions for this step, live: blind ("answered N of M") until the step is locked,
    then the counts per option and, once revealed, the model's answer beside them."""
    if tick is not None:
        tick()
    if not code():
        return
    try:
        p = class_db().pulse(code(), step + 1)
        counts = class_db().tally(code(), step + 1) if p.locked else {}
        answer = class_db().answer(code(), step + 1) if p.revealed else None
    except ClassError:
        st.caption(t("class_gone", lang()))
        return
    lg = lang()
    with st.container(border=True, key="class_tally"):
        st.markdown(f"**{t('tally', lg)}** · {t('class', lg, code=code())} · {t('joined', lg, n=p.info.present)}")
        if not p.locked:
            st.markdown(f"#### {t('answered', lg, n=p.answered, m=max(p.info.present, p.answered))}")
            if p.lock_at is not None:
                st.warning(t("locks_in", lg, s=math.ceil(p.lock_at - time.time())))
            st.caption(t("blind", lg))
        else:
            st.text(tally_text(options, counts, answer, label, lg))


@st.fragment(run_every=FOLLOW_SECONDS)
def follow(step: int, tick=None) -> None:
    """For a student: move to the presenter's step when it changes (the student's inputs are kept), and
    redraw the panel when the step is locked or revealed, the class reset (a new round) or ended."""
    if tick is not None:
        tick()
    if not code() or teaching():
        return
    try:
        p = class_db().pulse(code(), step + 1)
        _check_in()
    except ClassError:
        st.caption(t("class_gone", lang()))
        return
    if p.info.round != st.session_state.setdefault("_class_round", p.info.round):
        _cleared(p.info.round)
        st.rerun(scope="app")
    if _signature(step, p) != st.session_state.get("_class_drawn"):
        st.rerun(scope="app")                     # the reveal, a lock or the end: the panel shows it
    if p.info.ended is not None:
        return
    if p.lock_at is not None and not p.locked:
        st.warning(t("locks_in", lang(), s=math.ceil(p.lock_at - time.time())))
    on = st.toggle(t("follow", lang()), value=True, key="lesson_follow")
    if on != st.session_state.get("_panel_following", on):
        st.rerun(scope="app")                     # the panel offers Back and Next only while not following
    if not on:
        return
    target = p.info.step - 1
    if target != step and target != st.session_state.get("_followed"):
        st.session_state["_followed"] = target
        st.session_state["lesson_step"] = target
        st.session_state["_visit"] = st.session_state.get("_visit", 0) + 1       # a new prediction radio
        st.session_state.pop("lesson_applied", None)
        st.rerun(scope="app")
    st.session_state["_followed"] = target
    st.caption(t("following", lang(), i=target + 1))


def summary_box(lesson) -> None:
    """The ended class's summary: per asking step, the predictions against the model's answer, and the
    downloads (CSV and a printable page)."""
    lg = lang()
    try:
        s = class_db().summary(code(), lesson)
    except ClassError:
        st.caption(t("class_gone", lg))
        return
    with st.container(border=True, key="class_summary"):
        st.markdown(f"**{t('ended', lg)}**")
        for x in s.steps:
            labels = {o: label for o, label, _ in x.options}
            st.caption(f"{t('step', lg, i=x.step)}: {x.question}")
            st.text(tally_text(list(labels), {o: n for o, _, n in x.options}, x.answer, labels.get, lg))
        # one under the other: side by side, the labels are cut in the presenter's narrow panel
        st.download_button(t("summary_csv", lg), s.to_csv(), f"class-{s.code}-summary.csv", mime="text/csv",
                           key="do_class_csv", on_click="ignore", width="stretch")
        st.download_button(t("summary_html", lg), s.to_html(), f"class-{s.code}-summary.html", mime="text/html",
                           key="do_class_html", on_click="ignore", width="stretch")
