"""Lessons: guided tours through the live pages; a class for a lesson in one click (its code, links and an
"Open the projector" button, right under the click); the teacher's handout; and a lesson-link builder."""
import streamlit as st

from app_pages.site import TITLES
from app_pages.site import page as page_spec
from app_pages.ui import class_access, classroom, live_class, models
from latent.lessons import LANGUAGES, LessonError, load_lessons
from latent.lessons.handout import handout_html, handout_pdf

st.caption("A lesson walks through the real pages: each step sets the widgets, shows the live result and, where it "
           "asks you to predict, computes the answer on the loaded model before it says anything about it. "
           "Space or → goes to the next step, ← back.")
langs = list(LANGUAGES)
st.session_state.setdefault("lb_lang", classroom.lang())


def _set_lang():
    st.session_state["_lang"] = st.session_state["lb_lang"]


lang = st.radio("Language of the lessons", langs, key="lb_lang", horizontal=True, format_func=LANGUAGES.get,
                on_change=_set_lang, help="The lesson texts, the lesson panel and the glossary; the model's own "
                "text stays as it is. In a link: lang=de.")
try:
    lessons = load_lessons(lang=lang, pages=TITLES)
except LessonError as e:
    st.error(str(e))
    st.stop()


# The handouts are given to the buttons as bytes, made (once per lesson and language) while the page draws, not
# as callables made on the click: a file made on the click belongs to no session, and every other session's
# script run (a class's pages redraw every 2 s) may delete it before the browser fetches it (a 404). A file
# the page drew stays as long as the page shows its button.
@st.cache_data(max_entries=32, show_spinner=False)
def _pdf(lid: str, lg: str) -> bytes:
    return handout_pdf(load_lessons(lang=lg, pages=TITLES)[lid])


@st.cache_data(max_entries=32, show_spinner=False)
def _html(lid: str, lg: str) -> str:
    return handout_html(load_lessons(lang=lg, pages=TITLES)[lid])


for lid, lesson in lessons.items():
    with st.container(border=True):
        st.markdown(f"**{lesson.title}** — {lesson.summary}")
        pages = ", ".join(dict.fromkeys(s.page for s in lesson.steps))
        st.caption(f"{len(lesson.steps)} steps · {sum(bool(s.ask) for s in lesson.steps)} to predict · on {pages} · "
                   f"about {lesson.minutes:g} minutes")
        models.show_warm_note(lid)         # "answers ready: 3 of 4" while its answers compute in the background
        b = st.columns([1, 1, 1, 1])
        b[0].button("Start this lesson", key=f"do_lesson_start_{lid}", on_click=classroom.start, args=(lid,))
        with b[1]:
            class_access.start_button(lid, "Start a class", where=lid)
        b[2].download_button("Handout (PDF)", _pdf(lid, lang), f"handout-{lid}-{lang}.pdf",
                             mime="application/pdf", key=f"do_handout_pdf_{lid}", on_click="ignore")
        b[3].download_button("Handout (HTML)", _html(lid, lang), f"handout-{lid}-{lang}.html",
                             mime="text/html", key=f"do_handout_html_{lid}", on_click="ignore")
        if live_class.teaching() and st.session_state.get("_class_lesson") == lid:    # right where the click was
            class_access.class_box(lid, lesson.title, page_spec(lesson.steps[0].page).path)

st.subheader("Lesson-link builder")
st.caption("Choose a lesson, where it starts, and which controls your students see; then copy a link.")
lid = st.selectbox("Lesson", list(lessons), format_func=lambda k: lessons[k].title, key="lb_lesson")
step = int(st.number_input("Start at step", 1, len(lessons[lid].steps), 1, key="lb_step"))
page = lessons[lid].steps[step - 1].page
labels = dict(page_spec(page).controls)
hide = st.multiselect(f"Hide these controls on {page}", list(labels), key="lb_hide", format_func=labels.get)
root = live_class.public_root()
c1, c2 = st.columns(2)
c1.markdown("**For students**")
c1.code(root + classroom.lesson_link(lid, step, False, hide, lang), language=None, wrap_lines=True)
c2.markdown("**For the projector** (presenter view: large type, no sidebar)")
c2.code(root + classroom.lesson_link(lid, step, True, hide, lang), language=None, wrap_lines=True)
st.markdown("**Teacher's notes** (on your own device, not the projector: the projector never shows them)")
st.code(root + classroom.lesson_link(lid, step, False, hide, lang) + "&notes=1", language=None, wrap_lines=True)
st.caption("Presenter view can also be switched on for any page by adding `present=1` to its link.")
