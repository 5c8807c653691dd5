"""The frame: builds the navigation from the one page registry (:mod:`app_pages.site`) and runs the
set-up and tear-down that every page shares, once, around ``pg.run()`` (Streamlit's multipage entry point).

The pages live in ``app_pages/``, not ``pages/``: a folder named ``pages/`` beside this script puts
Streamlit in its old multipage mode until ``st.navigation`` runs, so a fresh server's first deep link
(and every AppTest page switch) ran the page script alone, without this frame."""
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
