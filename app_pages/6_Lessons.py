"""Lessons: guided tours through the live pages, and a lesson-link builder for teachers."""
import streamlit as st

from app_pages.ui import classroom
from latent.lessons import LessonError, load_lessons
from latent.site import page as page_spec

st.caption("A lesson walks through the real pages: each step sets the widgets, shows the live result and, where it "
           "asks you to predict, computes the answer on the loaded model before it says anything about it. "
           "Space or → goes to the next step, ← back.")
try:
    lessons = load_lessons()
except LessonError as e:
    st.error(str(e))
    st.stop()
for lid, lesson in lessons.items():
    with st.container(border=True):
        st.markdown(f"**{lesson.title}** — {lesson.summary}")
        pages = ", ".join(dict.fromkeys(s.page for s in lesson.steps))
        st.caption(f"{len(lesson.steps)} steps · {sum(bool(s.ask) for s in lesson.steps)} to predict · on {pages}")
        st.button("Start this lesson", key=f"do_lesson_start_{lid}", on_click=classroom.start, args=(lid,))

st.subheader("Lesson-link builder")
st.caption("Choose a lesson, where it starts, and which controls your students see; then copy the link.")
lid = st.selectbox("Lesson", list(lessons), format_func=lambda k: lessons[k].title, key="lb_lesson")
step = int(st.number_input("Start at step", 1, len(lessons[lid].steps), 1, key="lb_step"))
present = st.toggle("Presenter view (large type, thick lines, no sidebar)", key="lb_present")
page = lessons[lid].steps[step - 1].page
labels = dict(page_spec(page).controls)
hide = st.multiselect(f"Hide these controls on {page}", list(labels), key="lb_hide", format_func=labels.get)
root = str(st.context.url or "").split("?")[0].rsplit("/", 1)[0] + "/"
st.code(root + classroom.lesson_link(lid, step, present, hide), language=None, wrap_lines=True)
st.caption("Presenter view can also be switched on for any page by adding `present=1` to its link.")
