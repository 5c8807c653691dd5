"""Join a class: type the code the teacher shows (any case, with or without spaces; O and 0, I and 1 read
alike) and the class opens on its lesson, as a student who follows the teacher's step. A code that
names no class says so here."""
import streamlit as st

from app_pages.site import TITLES, current_key, page
from app_pages.ui import live_class
from app_pages.ui.text import plain_md
from latent.lessons import LessonError, load_lessons
from latent.lessons.classes import CODE_LEN, ClassError, class_db
from latent.lessons.words import t

lg = live_class.lang()             # the link's lang=, or the language chosen on the Lessons page
st.markdown(t("jn_intro", lg, n=CODE_LEN))
with st.form("do_join_form", border=True):
    typed = st.text_input(t("jn_code", lg), key="jn_code", max_chars=20, placeholder=t("jn_placeholder", lg))
    go = st.form_submit_button(t("jn_join", lg), type="primary", key="do_join")

if go:
    if not typed.strip():
        st.error(t("jn_empty", lg))
        st.stop()
    try:
        info = class_db().find(typed)
    except ClassError as e:
        st.error(f"{t('jn_wrong', lg, typed=plain_md(typed.strip()))} {plain_md(e)}")
        st.caption(t("jn_check", lg))
        st.stop()
    try:
        lesson = load_lessons(lang=info.lang, pages=TITLES, keys=current_key).get(info.lesson)
    except LessonError:
        lesson = None
    query = {"v": "1", "class": info.code, "lesson": info.lesson}
    if info.lang != "en":
        query["lang"] = info.lang
    st.switch_page(page(lesson.steps[0].page).file if lesson else page("Home").file, query_params=query)

if live_class.code():
    st.info(t("jn_in_class", lg, code=live_class.code()))
