"""The frame around every page, run once by ``app.py``: :func:`setup` before the page script and
:func:`teardown` after it. Pages only read widgets, call ``latent/`` and render.

Set-up: wide layout and the tab title, inputs kept across page switches, the session's model work
routed through the shared scheduler, the link version, the glossary, the heading, and the classroom
preamble (link checks, presenter view, the lesson panel). Tear-down: the link to this view with a
note for unusable link settings, then (once per process) the background loads.
"""
from __future__ import annotations

import streamlit as st

from app_pages.site import PageSpec, current_key, is_value_key
from app_pages.ui import classroom, models, queue
from latent.lessons.words import glossary_file, t
from latent.style import NARROW

LINK_VERSION = "1"
APP_NAME = "Latent Dialogue Explorer"


def setup(spec: PageSpec) -> None:
    st.set_page_config(page_title=APP_NAME if spec.home else f"{spec.title} · {APP_NAME}", page_icon="🧭",
                       layout="wide")
    old_link_keys()
    keep_inputs()
    NARROW.set(phone())
    queue.route_model_work()
    link_version()
    st.title(spec.heading)
    classroom.preamble(spec.title)
    if not classroom.presenting():
        glossary()


def teardown(spec: PageSpec) -> None:
    """After the page: the link and notes per session (never inside a cached function: Streamlit
    replays a cached function's elements to every later session), then the background loads."""
    classroom.finish()
    models.background_loads()


def phone() -> bool:
    """Whether the browser says it is a phone (its user agent): charts then lay out in one column."""
    try:
        ua = str(st.context.headers.get("User-Agent", ""))
    except Exception:  # noqa: BLE001 - no request context (bare runs, AppTest)
        return False
    return any(k in ua for k in ("Mobi", "iPhone", "Android"))


def keep_inputs() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning every value widget's
    state at the top of each page keeps typed prompts and settings across page switches. Action
    widgets (buttons, uploads, downloads, editors) cannot be set: their keys start with
    :data:`app_pages.site.ACTION` and are skipped (a test checks every page's action widgets do)."""
    for k in list(st.session_state.keys()):
        v = st.session_state[k]
        plain = isinstance(v, (str, int, float, bool, list, tuple)) or v is None and k.endswith("_layer")
        if plain and is_value_key(k):
            st.session_state[k] = v


def old_link_keys() -> None:
    """A link written before today's widget names (``hs_method=umap``, ``wk_preset=…``, ``hide=hs_layers``)
    opens the same view: its settings are read under today's keys (:func:`app_pages.site.current_key`)."""
    q = st.query_params
    old = [k for k in q.keys() if current_key(k) != k]
    for k in old:
        if current_key(k) not in q:
            q[current_key(k)] = q.get(k)
        del q[k]
    if "hide" in q and any(current_key(k) != k for k in q.get("hide").split(",")):
        q["hide"] = ",".join(current_key(k) for k in q.get("hide").split(","))
        old.append("hide")
    if old:             # widgets bound to the link read it as the run starts: run again on the renamed link
        st.rerun()


def link_version() -> None:
    """Widgets at their defaults are not written to the URL, so a link depends on the app's defaults:
    every URL carries ``v`` so a later version can read old links by their defaults."""
    if st.query_params.get("v") != LINK_VERSION:
        st.query_params["v"] = LINK_VERSION


def glossary() -> None:
    """The plain-words glossary (assets/glossary.md), in the sidebar of every page."""
    lang = st.session_state.get("_lang", "en")
    with st.sidebar.expander(t("glossary", lang)):
        st.markdown(glossary_file(lang).read_text(encoding="utf-8"))
