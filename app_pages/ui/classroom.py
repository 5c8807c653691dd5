"""Classroom: the lesson panel, keyboard pacing, presenter view, control hiding, the language, the
model in links, the link to this view, and a visible note for link settings that could not be used.
The frame calls :func:`preamble` before every page's widgets and :func:`finish` after them. The live
class (code, tally, follow-the-teacher) is :mod:`app_pages.ui.live_class`.

URL parameters read here: ``lesson`` (an id) and ``step`` (1-based), ``present=1``, ``hide``
(comma-separated widget keys), ``lang`` (en, de, es), ``model`` (an embedded model) and the class's
(``class``, ``teach``, ``me``, ``notes``). Anything else must be a widget key of the page.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urlsplit

import streamlit as st

from app_pages.site import TITLES, current_key, page
from app_pages.ui import class_access, live_class, models, queue
from app_pages.ui.text import plain_md
from latent.core.models import DEFAULT_LM, EMBEDDED, embedded
from latent.lessons import LANGUAGES, LessonError, load_lessons
from latent.lessons.words import t
from latent.style import PRESENT

OWN_PARAMS = {"v", "lesson", "step", "present", "hide", "embed", "lang", "model", "class", "teach", "me", "notes"}
KEY = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")
PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header, .st-key-lesson_jump { display: none !important; }
html, body, [data-testid="stAppViewContainer"] { font-size: 20px !important; }
h1 { font-size: 2.2rem !important; } h2, h3 { font-size: 1.7rem !important; }
p, li, label, button, [data-testid="stMarkdownContainer"] { font-size: 1.15rem !important; }
.block-container { max-width: 100% !important; padding: 0.6rem 1.2rem !important; }
</style>"""
# during a lesson, in presenter view or on a wide screen, the panel sits at the right, beside the charts
SIDE_CSS = """<style>
%(media)s {
  .st-key-lesson_panel { position: fixed; top: 0.5rem; right: 0.5rem; width: 31vw; max-height: calc(100vh - 1rem);
    overflow-y: auto; z-index: 999990; background: var(--background-color, #fff); box-shadow: 0 2px 12px rgba(0,0,0,.18);
    padding: 0.6rem 0.8rem; }
  .st-key-lesson_panel p, .st-key-lesson_panel li, .st-key-lesson_panel label, .st-key-lesson_panel button,
  .st-key-lesson_panel [data-testid="stMarkdownContainer"] { font-size: 0.95rem !important; }
  [data-testid="stMainBlockContainer"], .block-container { padding-right: calc(31vw + 1.5rem) !important; }
}
</style>"""
KEYS_JS = """<script>
// installed in the page itself (parent realm), so it keeps working when Streamlit replaces this iframe.
// Capture phase on the window: the keys change the step wherever focus is (a radio option included)
// and never change a widget's value; only text fields keep their keys.
window.parent.eval(`
if (!window.__lessonKeys) {
  window.__lessonKeys = true; document.__lessonKeys = true;
  window.addEventListener('keydown', (e) => {
    const t = e.target, tag = (t && t.tagName) || '';
    const typing = (tag === 'TEXTAREA' || (t && t.isContentEditable) ||
      (tag === 'INPUT' && !['radio', 'checkbox', 'button', 'range'].includes((t.type || '').toLowerCase())) ||
      (t && t.getAttribute && t.getAttribute('role') === 'combobox'));
    if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
    const which = (e.key === 'ArrowRight' || e.key === ' ') ? 'next' : (e.key === 'ArrowLeft' ? 'back' : null);
    if (!which) return;
    const b = document.querySelector('.st-key-do_lesson_' + which + ' button');
    if (!b) return;
    e.preventDefault(); e.stopPropagation();
    if (!b.disabled) b.click();
  }, true);
}
// bring the step's chart into view once per step, only where the panel sits beside it (a fixed panel: on the
// projector and from 1600 px); narrower, the panel is on top with the chart after it, and the question stays in view
window.__lessonChart = %(chart)s;
// Only once the run is over (while it runs, the last step's elements still stand above the chart, and their
// removal would move it), and again for 12 s while the layout settles (charts drawing, parts hidden until a
// reveal; on a loaded machine the page's next reruns still move it), unless the reader scrolls meanwhile.
if (!window.__lessonScroll) {
  window.__lessonScroll = true;
  const mine = () => { window.__lessonUserScrolledAt = performance.now(); };
  for (const ev of ['wheel', 'touchmove', 'mousedown']) window.addEventListener(ev, mine, {passive: true, capture: true});
  window.addEventListener('keydown', (e) => {
    if (['PageUp', 'PageDown', 'Home', 'End', 'ArrowUp', 'ArrowDown'].includes(e.key)) mine();
  }, true);
  window.setInterval(() => {
    const w = window, want = w.__lessonChart;
    if (!want) return;
    const settling = w.__lessonScrolled === want.id && performance.now() - w.__lessonScrolledAt < 12000
      && !(w.__lessonUserScrolledAt > w.__lessonScrolledAt);
    if (w.__lessonScrolled === want.id && !settling) return;
    const app = w.document.querySelector('[data-testid="stApp"]');
    if (app && app.getAttribute('data-test-script-state') === 'running') return;
    const panel = w.document.querySelector('.st-key-lesson_panel');
    if (!panel || w.getComputedStyle(panel).position !== 'fixed') return;
    const el = w.document.querySelector('.st-key-chart_' + want.key);
    if (!el || el.getBoundingClientRect().height <= 50) return;
    if (settling && Math.abs(el.getBoundingClientRect().top) <= 2) return;
    el.scrollIntoView({block: 'start'});
    if (!settling) { w.__lessonScrolled = want.id; w.__lessonScrolledAt = performance.now(); }
  }, 400);
}
`);
</script>"""


def lang() -> str:
    return live_class.lang()


def _lessons():
    try:
        return load_lessons(lang=lang(), pages=TITLES, keys=current_key)
    except LessonError as e:
        st.sidebar.error(f"Lessons could not be read: {e}")
        return {}


def _notes() -> list[str]:
    return st.session_state.setdefault("_url_notes", [])


def _read_url(tab: str) -> None:
    """Language, model, class, lesson, step, presenter and hidden controls from the URL, each checked,
    once per page visit."""
    q = st.query_params
    lg = q.get("lang")
    if lg is not None:
        if lg in LANGUAGES:
            st.session_state["_lang"] = st.session_state["lb_lang"] = lg
        else:
            _notes().append(f"lang={lg[:20]!r} is not a language of this app (choose one of: {', '.join(LANGUAGES)}); "
                            "English is shown.")
            del q["lang"]
    m = q.get("model")
    if m is not None:
        emb = embedded(m)
        if emb is not None:
            st.session_state["model_name"] = emb.name
        else:
            _notes().append(f"model={m[:60]!r} is not an embedded model (links may name: {', '.join(EMBEDDED)}); "
                            f"using {models.model_name()}.")
            del q["model"]
    class_step = live_class.read_url(_notes())
    lessons = _lessons()
    lid = q.get("lesson") or (st.session_state.get("_class_lesson") if live_class.code() else None)
    if lid is not None and lid != st.session_state.get("lesson_id"):
        if lid in lessons:
            step = class_step if class_step is not None else _int(q.get("step"), 1, len(lessons[lid].steps)) - 1
            start(lid, step)
        else:
            _notes().append(f"lesson={lid[:60]!r} is not a lesson (choose one of: {', '.join(lessons)}); no lesson started.")
            del q["lesson"]
    present = q.get("present")              # kept for the session (a page switch clears the URL): 0 turns it off
    if present in ("0", "1"):
        st.session_state["_present"] = present == "1"
    elif present is not None:
        _notes().append(f"present={present[:20]!r}: use 1 or 0; presenter view is unchanged.")
        del q["present"]
    if "hide" in q:
        hide = [k for k in q.get("hide").split(",") if k]
        bad = [k for k in hide if not KEY.match(k)]
        if bad:
            _notes().append(f"hide: {', '.join(repr(k[:40]) for k in bad)} is not a control key; ignored.")
        st.session_state["_hide"] = [k for k in hide if KEY.match(k)]
    st.session_state["_url_at_start"] = {k: q.get(k) for k in q.keys()}


def _int(text, lo: int, hi: int) -> int:
    try:
        n = int(text)
    except (TypeError, ValueError):
        if text is not None:
            _notes().append(f"step={str(text)[:20]!r} is not a step number; starting at step {lo}.")
        return lo
    if not lo <= n <= hi:
        _notes().append(f"step={n}: this lesson has steps {lo} to {hi}; starting at step {min(max(n, lo), hi)}.")
    return min(max(n, lo), hi)


def start(lesson_id: str, step: int = 0) -> None:
    st.session_state["lesson_id"], st.session_state["lesson_step"] = lesson_id, step
    st.session_state.pop("lesson_applied", None)
    models.warm_lesson(lesson_id)          # its answers compute in the background, in step order


def stop() -> None:
    for k in ("lesson_id", "lesson_step", "lesson_applied"):
        st.session_state.pop(k, None)
    for k in ("lesson", "step"):
        if k in st.query_params:
            del st.query_params[k]


def _guess_key(lesson_id: str, i: int) -> str:
    """The prediction radio's key for this visit of the step: a new key on every step change, so a step
    that comes back draws a new radio from the saved prediction (a reused radio could keep showing the
    browser's stale empty state)."""
    return f"lesson_guess_{lesson_id}_{i}_{st.session_state.get('_visit', 0)}"


def sync_guess(lesson_id: str, i: int) -> None:
    """Keep this step's prediction (for going back) and send it to the class. Called on every run that
    draws the step, before a step change, and by the class's timers: a widget change that Streamlit
    folds into a timer's fragment run never reaches the page script otherwise."""
    value, saved = st.session_state.get(_guess_key(lesson_id, i)), st.session_state.setdefault("_guesses", {})
    if value is not None and saved.get((lesson_id, i)) != value:
        saved[(lesson_id, i)] = value
        live_class.predicted(i, value)


def _go(step: int) -> None:
    if st.session_state.get("lesson_id"):
        sync_guess(st.session_state["lesson_id"], st.session_state.get("lesson_step", 0))
    st.session_state["_visit"] = st.session_state.get("_visit", 0) + 1
    st.session_state["lesson_step"] = step
    st.session_state.pop("lesson_applied", None)
    live_class.moved(step)


def _move(delta: int) -> None:
    _go(st.session_state.get("lesson_step", 0) + delta)


def _jump() -> None:
    _go(int(st.session_state["lesson_jump"]) - 1)


def presenting() -> bool:
    return bool(st.session_state.get("_present")) or st.query_params.get("present") == "1"


def _leave_presenter() -> None:
    st.session_state["_present"] = False
    if "present" in st.query_params:
        del st.query_params["present"]


def _keep_url() -> None:
    """Write the session's own settings into this page's URL (a page switch clears it)."""
    q = st.query_params
    if presenting():
        q["present"] = "1"
    hide = st.session_state.get("_hide", [])
    if hide:
        q["hide"] = ",".join(hide)
    if lang() != "en":
        q["lang"] = lang()
    if models.model_name() != DEFAULT_LM and models.model_name() in EMBEDDED:
        q["model"] = models.model_name()
    elif "model" in q:
        del q["model"]
    live_class.keep_url()


def preamble(tab: str) -> None:
    """Before the page's widgets: URL checks, presenter CSS, hidden controls, the active lesson's step
    (its page and widget values), and the lesson panel."""
    if st.session_state.get("_url_tab") != tab:            # a new page visit: read the link once
        st.session_state["_url_tab"] = tab
        _read_url(tab)
    PRESENT.set(presenting())
    _keep_url()
    css = PRESENT_CSS if presenting() else ""
    hide = st.session_state.get("_hide", [])
    css += "".join(f"<style>.st-key-{k} {{ display: none !important; }}</style>" for k in hide)
    lessons = _lessons()
    lid = st.session_state.get("lesson_id")
    if lid in lessons:
        css += SIDE_CSS % {"media": "@media (min-width: 0px)" if presenting() else "@media (min-width: 1600px)"}
    if css:
        st.markdown(css, unsafe_allow_html=True)       # fixed CSS; hidden keys are checked against KEY
    class_access.class_error()
    class_access.remember_teacher()
    st.session_state.pop("_lesson_hides", None)
    if lid not in lessons:
        return
    lesson = lessons[lid]
    i = min(max(int(st.session_state.get("lesson_step", 0)), 0), len(lesson.steps) - 1)
    st.session_state["lesson_step"] = i
    step = lesson.steps[i]
    st.query_params["lesson"], st.query_params["step"] = lid, str(i + 1)
    if step.page != tab:
        st.switch_page(page(step.page).file)
    if step.ask and step.hide:
        st.session_state["_lesson_hides"] = (lid, i, step)
    if st.session_state.get("lesson_applied") != (lid, i):
        st.session_state["_lesson_visit"] = st.session_state.get("_lesson_visit", 0) + 1
        for k, v in step.set.items():
            st.session_state[k] = v        # keys under today's names (load_lessons(keys=current_key))
        st.session_state["lesson_applied"] = (lid, i)
    st.markdown(class_access.stack_css(step.chart, presenting()), unsafe_allow_html=True)   # fixed CSS, checked key
    _panel(lesson, i, step)


def revealed(lesson_id: str, i: int) -> bool:
    """Whether step ``i``'s answer is out: in a class, once the presenter revealed it (for every view);
    on one's own, once this session pressed Reveal."""
    if live_class.code():
        known = live_class.revealed_step(i)
        if known is not None:
            return known
    return st.session_state.get(f"lesson_fact_{lesson_id}_{i}") is not None


def answer_hidden(part: str) -> bool:
    """Whether the page must keep ``part`` (a name the lesson step's ``hide`` lists, such as
    ``"sense_stars"``) hidden now: the active step asks, hides that part, and its answer is not revealed
    yet. Pages ask this before drawing what answers the question, and draw :func:`hidden_note` instead."""
    held = st.session_state.get("_lesson_hides")
    if not held:
        return False
    lid, i, step = held
    return step.hides(part) and not revealed(lid, i)


def hidden_text(mark: str = "") -> str:
    """The note for a hidden part: "hidden until the teacher reveals" in a class, "until you reveal" alone
    (``mark``: a sign put in front, such as the ★ of the stars it stands for)."""
    note = t("hidden_class" if live_class.code() else "hidden_solo", lang())
    return f"{mark} {note}" if mark else note


def hidden_note(where=st, key: str = "") -> None:
    """The note drawn where a hidden part would be. ``key``: the step's chart key, so the note sits in the
    ``chart_<key>`` container that the lesson brings into view (and puts right under the panel)."""
    box = where.container(key=f"chart_{key}") if key else where
    box.info(hidden_text())


def _short(text: str, n: int = 60) -> str:
    """A step's text for the jump list: plain (no markdown marks), cut to ``n`` characters."""
    plain = re.sub(r"[*_`]", "", text)
    return plain if len(plain) <= n else plain[: n - 1] + "…"


def _panel(lesson, i: int, step) -> None:
    n, lg = len(lesson.steps), lang()
    with st.container(border=True, key="lesson_panel"):
        st.markdown(f"**{t('lesson', lg)}: {lesson.title}** · {t('step_of', lg, i=i + 1, n=n)}")
        pulse = live_class.state(i)                    # in a class: the class and this step, as drawn now
        # a student in a class goes no further than the teacher's step; following, the teacher moves them
        student = pulse is not None and not live_class.teaching()
        following = student and st.session_state.get("lesson_follow", True)
        last = min(n, pulse.info.step) - 1 if student else n - 1
        st.session_state["_panel_following"] = following
        if not following:
            c = st.columns(2)
            c[0].button(t("back", lg), key="do_lesson_back", on_click=_move, args=(-1,), disabled=i == 0, width="stretch")
            c[1].button(t("next", lg), key="do_lesson_next", on_click=_move, args=(1,), disabled=i >= last,
                        type="primary", width="stretch")
        if st.session_state.pop("_class_cleared", False):
            st.info(t("cleared", lg))
        if pulse is not None and pulse.info.ended is not None:
            live_class.summary_box(lesson)
        st.markdown(step.text)                          # lesson text is ours (assets/lessons), not user input
        if step.ask:
            if pulse is not None and not live_class.teaching():
                _predict_in_class(lesson, i, step, pulse)
            else:
                _predict(lesson, i, step, pulse)
        if live_class.teaching():
            _presenter_class(lesson, i, step, pulse)
        elif live_class.code():
            live_class.follow(i, lambda: sync_guess(lesson.id, i))
        if live_class.notes_view() and (step.notes or step.say):      # the teacher's own view, never the projector
            with st.expander(t("teacher_says", lg), expanded=True):
                st.markdown(step.notes)
                for o in step.options:
                    st.markdown(f"- **{step.label(o)}**: {step.say_text(o)}")
        j = st.columns([3, 2], vertical_alignment="center")
        if not following:
            j[0].selectbox(t("jump", lg), list(range(1, max(last, i) + 2)), index=i, key="lesson_jump", on_change=_jump,
                           format_func=lambda s: f"{s}. {_short(lesson.steps[s - 1].text)}", label_visibility="collapsed")
        j[1].button(t("end", lg), key="do_lesson_end", on_click=stop, width="stretch")
        if not following:
            st.caption(t("keys", lg))
    # a reveal that shows hidden parts moves the chart (they stand above it): it comes into view again
    shown = "/shown" if step.ask and step.hide and revealed(lesson.id, i) else ""
    # each visit of a step is its own id: coming back to a step brings its chart into view again
    visit = st.session_state.get("_lesson_visit", 0)
    chart = {"id": f"{lesson.id}/{i}/{visit}{shown}", "key": step.chart} if step.chart else None
    st.iframe(KEYS_JS % {"chart": json.dumps(chart)} + live_class.device_script(), height=1)


def _presenter_class(lesson, i: int, step, pulse) -> None:
    lg = lang()
    if i == 0 or st.session_state.get("_show_join"):
        live_class.join_box(lesson.id, page(lesson.steps[0].page).path)
    # one row that wraps (three equal columns cut the labels to "Scan…", "Reset t…" in the projector's panel)
    with st.container(horizontal=True, wrap=True, vertical_alignment="center", key="class_controls"):
        st.toggle(t("scan", lg), key="_show_join", width="content")
        st.button(t("reset", lg), key="do_class_reset", on_click=live_class.ask, args=("reset",), width="content")
        st.button(t("end_class", lg), key="do_class_end", on_click=live_class.ask, args=("end",), width="content",
                  disabled=pulse is None or pulse.info.ended is not None)
    what = st.session_state.get("_class_confirm")
    if what in ("reset", "end"):                  # asked first: both change every student's screen
        with st.container(border=True, key="class_confirm"):
            st.warning(t("reset_confirm" if what == "reset" else "end_confirm", lg))
            y, no = st.columns(2)
            y.button(t("yes_reset" if what == "reset" else "yes_end", lg), key=f"do_class_{what}_yes", type="primary",
                     on_click=live_class.reset if what == "reset" else live_class.end, width="stretch")
            no.button(t("cancel", lg), key="do_class_confirm_no", on_click=live_class.ask, args=(None,), width="stretch")
    if st.session_state.pop("_class_reset", False):
        st.success(t("reset_done", lg))


def _predict_in_class(lesson, i: int, step, pulse) -> None:
    """A student's prediction in a class: blind and open until the presenter locks the step; then the
    radio shows the prediction as counted (it can no longer change), and the model's answer once revealed.
    There is no Reveal button: the reveal is the presenter's, for the whole class."""
    lg = lang()
    guess_key = _guess_key(lesson.id, i)
    if not pulse.locked and pulse.info.ended is None:
        # this session's choice, else the one the class holds for this member (a restarted server's new session)
        kept = st.session_state.setdefault("_guesses", {}).get((lesson.id, i)) or live_class.prediction(i)
        guess = st.radio(t("predict", lg, ask=step.ask), step.options, key=guess_key, horizontal=True,
                         index=step.options.index(kept) if kept in step.options else None, format_func=step.label)
        sync_guess(lesson.id, i)
        if guess is not None and live_class.prediction(i) == str(guess):
            st.caption(t("sent", lg))
        elif guess is not None and live_class.locked(i):
            st.warning(t("locked_late", lg))       # locked between the draw and the click
        st.caption(t("wait_teacher", lg))
        return
    counted = live_class.prediction(i)
    late = st.session_state.get(guess_key)
    st.radio(t("predict", lg, ask=step.ask), step.options, key=f"{guess_key}_locked", horizontal=True, disabled=True,
             index=step.options.index(counted) if counted in step.options else None, format_func=step.label)
    if late is not None and str(late) != counted:
        st.warning(t("locked_late", lg))
    st.caption(t("locked_you", lg, guess=step.label(counted)) if counted is not None else t("locked_none", lg))
    fact = live_class.fact(i) if pulse.revealed else None
    if fact is None:
        if pulse.info.ended is None:
            st.info(t("wait_reveal", lg))
        return
    _show_fact(step, fact, counted)


def _predict(lesson, i: int, step, pulse=None) -> None:
    """The prediction and the reveal outside a class, and on the presenter's screen (whose reveal is the
    class's: it locks the step, computes the answer and stores it for every student)."""
    lg = lang()
    teach = live_class.teaching()
    guess_key, fact_key = _guess_key(lesson.id, i), f"lesson_fact_{lesson.id}_{i}"
    kept = st.session_state.setdefault("_guesses", {}).get((lesson.id, i))     # back to a step: its prediction
    guess = st.radio(t("predict", lg, ask=step.ask), step.options, key=guess_key, horizontal=True,
                     index=step.options.index(kept) if kept in step.options else None, format_func=step.label)
    sync_guess(lesson.id, i)
    if guess is not None:                 # drawn by the server: the prediction has arrived and is kept
        st.caption(t("your_prediction", lg, guess=step.label(guess)))
    if teach:
        live_class.tally(i, step.options, step.label, lambda: sync_guess(lesson.id, i))
    fact = live_class.fact(i) if teach else st.session_state.get(fact_key)
    if teach and fact is None and pulse is not None and pulse.lock_at is None and pulse.info.ended is None:
        st.button(t("countdown", lg, s=live_class.COUNTDOWN_SECONDS), key=f"do_class_countdown_{i}",
                  on_click=live_class.lock, args=(i, live_class.COUNTDOWN_SECONDS))
    if fact is None and st.button(t("reveal", lg), key=f"do_lesson_reveal_{lesson.id}_{i}",
                                  disabled=guess is None and not teach):
        live_class.lock(i)                # the class's predictions close at the click, before the answer computes
        with st.spinner(t("computing", lg)):
            try:
                fact = st.session_state[fact_key] = queue.answer(models.lm(), step.fact, encoder=models.encoder(),
                                                                 label=t("computing", lg))   # progress, ETA
                live_class.revealed(i, fact["answer"], fact)
                st.rerun()            # redraw the panel: the answer, and the tally with it
            except Exception as e:  # noqa: BLE001 - a lesson step fails alone, with its reason
                st.error(f"{t('failed', lg)}: {type(e).__name__}: {str(e)[:200]}")
    if fact is None:
        if guess is None and not teach:
            st.caption(t("unlock", lg))
        return
    _show_fact(step, fact, guess)


def _show_fact(step, fact: dict, guess) -> None:
    lg = lang()
    mark = ""
    if guess is not None:
        mark = t("as_predicted", lg) if str(guess) == str(fact["answer"]) else t("you_predicted", lg, guess=step.label(guess))
        mark = f" ({mark})"
    st.success(f"{t('answer', lg)}: **{step.label(fact['answer'])}**{mark}. {step.plain_text(fact)}")
    details = step.reveal_text(fact)
    if presenting():
        with st.expander(t("details", lg)):
            st.markdown(details)
    else:
        st.markdown(details)


def link_box() -> None:
    """The current view as a link (st.code has a copy button), in the sidebar. Built from the page
    registry's path, so a mistyped address never ends up in the box."""
    url = urlsplit(str(st.context.url or ""))
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    spec_path = page(st.session_state.get("_url_tab", "Home")).path
    root = f"{url.scheme or 'http'}://{url.netloc or 'localhost'}/" + (f"{base}/" if base else "")
    query = {k: st.query_params.get(k) for k in st.query_params.keys() if k not in ("teach", "me")}
    st.sidebar.caption("Copy link to this view")
    st.sidebar.code(root + spec_path + (f"?{urlencode(query)}" if query else ""), language=None, wrap_lines=True)


def _same(url_value, value) -> bool:
    """Whether a link's text gave this widget value (numbers and booleans compared as values)."""
    if isinstance(value, bool):
        return str(url_value).lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(url_value) == float(value)
        except (TypeError, ValueError):
            return False
    if isinstance(value, (list, tuple)):
        return True            # several values: Streamlit checks each one
    return str(url_value) == str(value)


def finish() -> None:
    """After the page's widgets: the link, and a note for link settings that were cleared, changed or unknown."""
    start = st.session_state.pop("_url_at_start", None)
    if start:
        handled = st.session_state.pop("_url_handled", set())
        own = OWN_PARAMS | handled
        gone = [k for k, v in start.items() if k not in own and (st.query_params.get(k) != v or (
            k in st.session_state and not _same(v, st.session_state[k])))]
        unknown = [k for k in start if k not in own and k not in st.session_state and k not in gone]
        notes = _notes()
        notes += [f"{k}={str(start[k])[:60]!r} could not be used (out of range or not an option); the default is shown."
                  for k in gone]
        notes += [f"{k[:40]!r} is not a setting of this page; ignored." for k in unknown]
    notes = st.session_state.pop("_url_notes", [])
    if notes:                        # each note as plain text: a link's value never renders as a link or markdown
        text = "Some link settings were not used:\n\n" + "\n\n".join(f"- {plain_md(n)}" for n in notes)
        st.sidebar.warning(text)
        if presenting():
            st.warning(text)
    if presenting():
        st.button("Leave presenter view", key="do_present_exit", on_click=_leave_presenter)
    else:
        link_box()


def lesson_link(lesson_id: str, step: int = 1, present: bool = False, hide: list[str] | None = None,
                lang: str = "en") -> str:
    """The query string that starts a lesson at a step (optionally presenting, with controls hidden)."""
    q = {"v": "1", "lesson": lesson_id, "step": str(step)}
    if present:
        q["present"] = "1"
    if hide:
        q["hide"] = ",".join(k for k in hide if KEY.match(k))
    if lang != "en":
        q["lang"] = lang
    return "?" + urlencode(q)
