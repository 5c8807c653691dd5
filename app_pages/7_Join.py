"""Join a class: type the code the teacher shows (any case, with or without spaces; O and 0, I and 1 read
alike) and the class opens on its lesson, as a student who follows the teacher's step. A code that
names no class says so here."""
import streamlit as st

from app_pages.site import TITLES, page
from app_pages.ui import live_class
from app_pages.ui.text import plain_md
from latent.lessons import LessonError, load_lessons
from latent.lessons.classes import CODE_LEN, ClassError, class_db

st.markdown(f"Type the {CODE_LEN}-character code your teacher shows on the projector. Capitals or not, "
            "with or without spaces: it opens the lesson, and your screen follows the teacher's.")
with st.form("do_join_form", border=True):
    typed = st.text_input("Class code", key="jn_code", max_chars=20, placeholder="e.g. K7M P4Q")
    go = st.form_submit_button("Join the class", type="primary", key="do_join")

if go:
    if not typed.strip():
        st.error("Type the class code first.")
        st.stop()
    try:
        info = class_db().find(typed)
    except ClassError as e:
        st.error(f"No class was joined: the code {plain_md(typed.strip())} did not open one. {plain_md(e)}")
        st.caption("Check the code on the projector (it has no O, 0, I or 1, so those are read as their look-alikes) "
                   "and type it again.")
        st.stop()
    try:
        lesson = load_lessons(lang=info.lang, pages=TITLES).get(info.lesson)
    except LessonError:
        lesson = None
    query = {"v": "1", "class": info.code, "lesson": info.lesson}
    if info.lang != "en":
        query["lang"] = info.lang
    st.switch_page(page(lesson.steps[0].page).file if lesson else page("Home").file, query_params=query)

if live_class.code():
    st.info(f"This browser tab is in class {live_class.code()}: a new code above moves it to that class.")
