"""The frame: one page registry (:mod:`app_pages.site`), and the set-up and tear-down that every page
shares, run once here around ``pg.run()`` (Streamlit's multipage entry point)."""
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from app_pages.site import PAGES, page
from app_pages.ui import frame

pg = st.navigation([st.Page(p.file, title=p.title, icon=p.icon or None, url_path=p.path or None, default=p.home)
                    for p in PAGES])
spec = page(pg.title)
frame.setup(spec)
try:
    pg.run()
except StopException:           # st.stop() in a page: its link box and notes are still drawn
    frame.teardown(spec)
    raise
frame.teardown(spec)
