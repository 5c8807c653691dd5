"""Lessons: guided tours through the live pages; a class for a lesson in one click (its code, links and an
"Open the projector" button, right under the click); the teacher's handout; and a lesson-link builder."""
import streamlit as st

from app_pages.site import TITLES, current_key
from app_pages.site import page as page_spec
from app_pages.ui import class_access, classroom, live_class, models
from latent.lessons import LANGUAGES, LessonError, load_lessons
from latent.lessons.handout import handout_html, handout_pdf
from latent.lessons.words import t

langs = list(LANGUAGES)
st.session_state.setdefault("lb_lang", classroom.lang())


def _set_lang():
    st.session_state["_lang"] = st.session_state["lb_lang"]


# the page's own words in the lesson language (latent.lessons.words): the radio's value is this run's language
lang = st.session_state.get("lb_lang") if st.session_state.get("lb_lang") in LANGUAGES else "en"
st.caption(t("lp_intro", lang))
lang = st.radio(t("lp_language", lang), langs, key="lb_lang", horizontal=True, format_func=LANGUAGES.get,
                on_change=_set_lang, help=t("lp_language_help", lang))
try:
    lessons = load_lessons(lang=lang, pages=TITLES, keys=current_key)
except LessonError as e:
    st.error(str(e))
    st.stop()


# The handouts are given to the buttons as bytes, made (once per lesson and language) while the page draws, not
# as callables made on the click: a file made on the click belongs to no session, and every other session's
# script run (a class's pages redraw every 2 s) may delete it before the browser fetches it (a 404). A file
# the page drew stays as long as the page shows its button.
@st.cache_data(max_entries=32, show_spinner=False)
def _pdf(lid: str, lg: str) -> bytes:
    return handout_pdf(load_lessons(lang=lg, pages=TITLES, keys=current_key)[lid])


@st.cache_data(max_entries=32, show_spinner=False)
def _html(lid: str, lg: str) -> str:
    return handout_html(load_lessons(lang=lg, pages=TITLES, keys=current_key)[lid])


for lid, lesson in lessons.items():
    with st.container(border=True):
        st.markdown(f"**{lesson.title}** — {lesson.summary}")
        pages = ", ".join(dict.fromkeys(s.page for s in lesson.steps))
        st.caption(t("lp_meta", lang, n=len(lesson.steps), k=sum(bool(s.ask) for s in lesson.steps), pages=pages,
                     m=f"{lesson.minutes:g}"))
        models.show_warm_note(lid, lang)         # "answers ready: 3 of 4" while its answers compute in the background
        b = st.columns([1, 1, 1, 1])
        b[0].button(t("lp_start", lang), key=f"do_lesson_start_{lid}", on_click=classroom.start, args=(lid,))
        with b[1]:
            class_access.start_button(lid, t("lp_start_class", lang), where=lid)
        b[2].download_button(t("lp_pdf", lang), _pdf(lid, lang), f"handout-{lid}-{lang}.pdf",
                             mime="application/pdf", key=f"do_handout_pdf_{lid}", on_click="ignore")
        b[3].download_button(t("lp_html", lang), _html(lid, lang), f"handout-{lid}-{lang}.html",
                             mime="text/html", key=f"do_handout_html_{lid}", on_click="ignore")
        if live_class.teaching() and st.session_state.get("_class_lesson") == lid:    # right where the click was
            class_access.class_box(lid, lesson.title, page_spec(lesson.steps[0].page).path)

st.subheader(t("lp_builder", lang))
st.caption(t("lp_builder_help", lang))
lid = st.selectbox(t("lesson", lang), list(lessons), format_func=lambda k: lessons[k].title, key="lb_lesson")
step = int(st.number_input(t("lp_start_at", lang), 1, len(lessons[lid].steps), 1, key="lb_step"))
page = lessons[lid].steps[step - 1].page
labels = dict(page_spec(page).controls)
hide = st.multiselect(t("lp_hide", lang, page=page), list(labels), key="lb_hide", format_func=labels.get)
root = live_class.public_root()
c1, c2 = st.columns(2)
c1.markdown(f"**{t('lp_for_students', lang)}**")
c1.code(root + classroom.lesson_link(lid, step, False, hide, lang), language=None, wrap_lines=True)
c2.markdown(f"**{t('lp_for_projector', lang)}**")
c2.code(root + classroom.lesson_link(lid, step, True, hide, lang), language=None, wrap_lines=True)
st.markdown(f"**{t('lp_notes', lang)}**")
st.code(root + classroom.lesson_link(lid, step, False, hide, lang) + "&notes=1", language=None, wrap_lines=True)
st.caption(t("lp_present_tip", lang))
