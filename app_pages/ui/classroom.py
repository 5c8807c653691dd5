"""Classroom: the lesson panel, keyboard pacing, presenter view, control hiding, the link to this
view, and a visible note for link settings that could not be used. The frame calls
:func:`preamble` before every page's widgets and :func:`finish` after them.

URL parameters read here: ``lesson`` (an id) and ``step`` (1-based), ``present=1``, and ``hide``
(comma-separated widget keys). Anything else must be a widget key of the page.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import streamlit as st

from app_pages.ui import models
from latent.lessons import LessonError, compute_fact, load_lessons
from latent.site import page
from latent.style import PRESENT

OWN_PARAMS = {"v", "lesson", "step", "present", "hide", "embed"}
KEY = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")
PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header, .st-key-lesson_jump { display: none !important; }
html, body, [data-testid="stAppViewContainer"] { font-size: 22px !important; }
h1 { font-size: 2.6rem !important; } h2, h3 { font-size: 2rem !important; }
p, li, label, button, [data-testid="stMarkdownContainer"] { font-size: 1.25rem !important; }
.block-container { max-width: 100% !important; padding: 1rem 2rem !important; }
</style>"""
KEYS_JS = """<script>
// installed in the page itself (parent realm), so it keeps working when Streamlit replaces this iframe
window.parent.eval(`
if (!document.__lessonKeys) {
  document.__lessonKeys = true;
  document.addEventListener('keydown', (e) => {
    const t = e.target, tag = (t && t.tagName) || '';
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || (t && t.isContentEditable)) return;
    const want = (e.key === 'ArrowRight' || e.key === ' ') ? 'Next step' : (e.key === 'ArrowLeft' ? 'Previous step' : null);
    if (!want) return;
    const b = Array.from(document.querySelectorAll('button')).find((x) => x.innerText.includes(want) && !x.disabled);
    if (b) { e.preventDefault(); b.click(); }
  });
}`);
</script>"""


def _lessons():
    try:
        return load_lessons()
    except LessonError as e:
        st.sidebar.error(f"Lessons could not be read: {e}")
        return {}


def _notes() -> list[str]:
    return st.session_state.setdefault("_url_notes", [])


def _read_url(tab: str) -> None:
    """Lesson, step, presenter and hidden controls from the URL, each checked, once per page visit."""
    q = st.query_params
    lessons = _lessons()
    lid = q.get("lesson")
    if lid is not None and lid != st.session_state.get("lesson_id"):
        if lid in lessons:
            start(lid, _int(q.get("step"), 1, len(lessons[lid].steps)) - 1)
        else:
            _notes().append(f"lesson={lid!r} is not a lesson (choose one of: {', '.join(lessons)}); no lesson started.")
            del q["lesson"]
    present = q.get("present")              # kept for the session (a page switch clears the URL): 0 turns it off
    if present in ("0", "1"):
        st.session_state["_present"] = present == "1"
    elif present is not None:
        _notes().append(f"present={present!r}: use 1 or 0; presenter view is unchanged.")
        del q["present"]
    if "hide" in q:
        hide = [k for k in q.get("hide").split(",") if k]
        bad = [k for k in hide if not KEY.match(k)]
        if bad:
            _notes().append(f"hide: {', '.join(map(repr, bad))} is not a control key; ignored.")
        st.session_state["_hide"] = [k for k in hide if KEY.match(k)]
    st.session_state["_url_at_start"] = {k: q.get(k) for k in q.keys()}


def _int(text, lo: int, hi: int) -> int:
    try:
        return min(max(int(text), lo), hi)
    except (TypeError, ValueError):
        if text is not None:
            _notes().append(f"step={text!r} is not a step number; starting at step {lo}.")
        return lo


def start(lesson_id: str, step: int = 0) -> None:
    st.session_state["lesson_id"], st.session_state["lesson_step"] = lesson_id, step
    st.session_state.pop("lesson_applied", None)


def stop() -> None:
    for k in ("lesson_id", "lesson_step", "lesson_applied"):
        st.session_state.pop(k, None)
    for k in ("lesson", "step"):
        if k in st.query_params:
            del st.query_params[k]


def _move(delta: int) -> None:
    st.session_state["lesson_step"] = st.session_state.get("lesson_step", 0) + delta
    st.session_state.pop("lesson_applied", None)


def _jump() -> None:
    st.session_state["lesson_step"] = int(st.session_state["lesson_jump"]) - 1
    st.session_state.pop("lesson_applied", None)


def presenting() -> bool:
    return bool(st.session_state.get("_present")) or st.query_params.get("present") == "1"


def _leave_presenter() -> None:
    st.session_state["_present"] = False
    if "present" in st.query_params:
        del st.query_params["present"]


def preamble(tab: str) -> None:
    """Before the page's widgets: URL checks, presenter CSS, hidden controls, the active lesson's step
    (its page and widget values), and the lesson panel."""
    if st.session_state.get("_url_tab") != tab:            # a new page visit: read the link once
        st.session_state["_url_tab"] = tab
        _read_url(tab)
    PRESENT.set(presenting())
    css = PRESENT_CSS if presenting() else ""
    if presenting():
        st.query_params["present"] = "1"
    hide = st.session_state.get("_hide", [])
    if hide:
        st.query_params["hide"] = ",".join(hide)
    css += "".join(f"<style>.st-key-{k} {{ display: none !important; }}</style>" for k in hide)
    if css:
        st.markdown(css, unsafe_allow_html=True)       # fixed CSS; hidden keys are checked against KEY
    lessons = _lessons()
    lid = st.session_state.get("lesson_id")
    if lid not in lessons:
        return
    lesson = lessons[lid]
    i = min(max(int(st.session_state.get("lesson_step", 0)), 0), len(lesson.steps) - 1)
    st.session_state["lesson_step"] = i
    step = lesson.steps[i]
    st.query_params["lesson"], st.query_params["step"] = lid, str(i + 1)
    if step.page != tab:
        st.switch_page(page(step.page).file)
    if st.session_state.get("lesson_applied") != (lid, i):
        for k, v in step.set.items():
            st.session_state[k] = v
        st.session_state["lesson_applied"] = (lid, i)
    _panel(lesson, i, step)


def _panel(lesson, i: int, step) -> None:
    n = len(lesson.steps)
    with st.container(border=True, key="lesson_panel"):
        st.markdown(f"**Lesson: {lesson.title}** · step {i + 1} of {n}")
        st.markdown(step.text)                          # lesson text is ours (assets/lessons), not user input
        if step.ask:
            _predict(lesson, i, step)
        c = st.columns([1, 1, 2, 1])
        c[0].button("← Previous step", key="do_lesson_back", on_click=_move, args=(-1,), disabled=i == 0)
        c[1].button("Next step →", key="do_lesson_next", on_click=_move, args=(1,), disabled=i == n - 1,
                    type="primary")
        c[2].selectbox("Jump to step", list(range(1, n + 1)), index=i, key="lesson_jump", on_change=_jump,
                       format_func=lambda s: f"{s}. {lesson.steps[s - 1].text[:50]}…", label_visibility="collapsed")
        c[3].button("End lesson", key="do_lesson_end", on_click=stop)
        st.caption("Space or → for the next step, ← to go back.")
    st.iframe(KEYS_JS, height=1)


def _predict(lesson, i: int, step) -> None:
    guess_key, fact_key = f"lesson_guess_{lesson.id}_{i}", f"lesson_fact_{lesson.id}_{i}"
    guess = st.radio(f"Predict first: {step.ask}", step.options, index=None, key=guess_key, horizontal=True)
    if st.button("Reveal the model's answer", key=f"do_lesson_reveal_{lesson.id}_{i}", disabled=guess is None):
        with st.spinner("Computing the answer on the model…"):
            try:
                st.session_state[fact_key] = compute_fact(models.lm(), step.fact, encoder=models.encoder())
            except Exception as e:  # noqa: BLE001 - a lesson step fails alone, with its reason
                st.error(f"This step could not be computed: {type(e).__name__}: {str(e)[:200]}")
    fact = st.session_state.get(fact_key)
    if fact is None:
        if guess is None:
            st.caption("Choose an answer to unlock the reveal.")
        return
    mark = "as you predicted" if str(guess) == str(fact["answer"]) else f"you predicted {guess}"
    st.success(f"Model's answer: **{fact['answer']}** ({mark}). {step.reveal_text(fact)}")


def link_box() -> None:
    """The current view as a link (st.code has a copy button), in the sidebar."""
    base = str(st.context.url or "").split("?")[0]
    query = {k: st.query_params.get(k) for k in st.query_params.keys()}
    st.sidebar.caption("Copy link to this view")
    st.sidebar.code(f"{base}?{urlencode(query)}" if query else base, language=None, wrap_lines=True)


def finish() -> None:
    """After the page's widgets: the link, and a note for link settings that were cleared or unknown."""
    start = st.session_state.pop("_url_at_start", None)
    if start:
        gone = [k for k, v in start.items() if k not in OWN_PARAMS and st.query_params.get(k) != v]
        unknown = [k for k in start if k not in OWN_PARAMS and k not in st.session_state and k not in gone]
        notes = _notes()
        notes += [f"{k}={start[k]!r} could not be used (out of range or not an option); the default is shown." for k in gone]
        notes += [f"{k!r} is not a setting of this page; ignored." for k in unknown]
    notes = st.session_state.pop("_url_notes", [])
    if notes:
        st.sidebar.warning("Some link settings were not used:\n\n" + "\n\n".join(f"- {n}" for n in notes))
    if presenting():
        st.button("Leave presenter view", key="do_present_exit", on_click=_leave_presenter)
    else:
        link_box()


def lesson_link(lesson_id: str, step: int = 1, present: bool = False, hide: list[str] | None = None) -> str:
    """The query string that starts a lesson at a step (optionally presenting, with controls hidden)."""
    q = {"v": "1", "lesson": lesson_id, "step": str(step)}
    if present:
        q["present"] = "1"
    if hide:
        q["hide"] = ",".join(k for k in hide if KEY.match(k))
    return "?" + urlencode(q)
