"""Widgets drawn from the library's parameter specs (:class:`latent.claims.Param`), and widgets whose
value travels in the page's link as the option's value (its label stays on the screen)."""
from __future__ import annotations

import streamlit as st

from app_pages.ui.text import md_escape


def params(specs, lm, *, key: str) -> dict:
    """One widget per spec, defaults from the loaded model; returns the checked values."""
    out = {}
    for p in specs:
        k, d = f"{key}_{p.name}", p.default_for(lm)
        if p.kind == "layer":
            out[p.name] = st.slider(p.label, int(p.lo or 0), lm.n_layers, d, key=k)
        elif p.kind == "float":
            out[p.name] = st.slider(p.label, float(p.lo), float(p.hi), float(d), float(p.step or 0.1), key=k)
        elif p.kind == "int":
            out[p.name] = int(st.number_input(p.label, int(p.lo), int(p.hi), int(d), key=k))
        elif p.kind == "ints":
            default = d or tuple(sorted({2 ** i for i in range(20) if 2 ** i < lm.d_model} | {lm.d_model}))
            text = st.text_input(p.label, ",".join(map(str, default)), key=k, max_chars=400)
            out[p.name] = p.parse(text, lm)
        elif p.kind == "choices":
            out[p.name] = p.check(tuple(st.multiselect(p.label, list(p.options), list(d), key=k)), lm)
        else:
            text = st.text_area(p.label, "", key=k, max_chars=20_000)
            out[p.name] = tuple(t for t in text.splitlines() if t.strip()) or None
    return out


def from_link(name: str):
    """The value the page's link gave ``name`` on this visit (else None); the frame's link check then
    leaves ``name`` to the caller."""
    start = st.session_state.get("_url_at_start") or {}
    if name not in start:
        return None
    st.session_state.setdefault("_url_handled", set()).add(name)
    return start[name]


def to_link(name: str, value, default) -> None:
    """Write ``value`` into the page's link under ``name`` (nothing when it is the default)."""
    if value != default and value is not None:
        st.query_params[name] = str(value)
    elif name in st.query_params:
        del st.query_params[name]


def choice(where, kind: str, label: str, options: list, *, key: str, format_func=str, **kw):
    """``where.radio`` or ``where.selectbox`` whose link carries the option's value (``map_source=lm``);
    a link with the on-screen label (the old form) still works, and anything else gets a note."""
    given = from_link(key)
    if given is not None:
        match = next((o for o in options if str(o) == given), None)
        if match is None:
            match = next((o for o in options if str(format_func(o)) == given), None)
        if match is None:
            st.session_state.setdefault("_url_notes", []).append(
                f"{key}={given[:60]!r} is not an option (choose one of: {', '.join(map(str, options))}); the default is shown.")
        else:
            st.session_state[key] = match
    value = getattr(where, kind)(label, options, key=key, format_func=format_func, **kw)
    to_link(key, value, options[0])
    return value


DOCK_CSS = """<style>
.st-key-progress_dock:has([data-testid="stProgress"]) { position: fixed; bottom: 1rem; left: 50%;
  transform: translateX(-50%); width: min(640px, 92vw); z-index: 999995; background: var(--background-color, #fff);
  box-shadow: 0 2px 14px rgba(0,0,0,.25); border-radius: 8px; padding: 0.7rem 1rem; }
</style>"""


def dock():
    """A container pinned to the bottom of the window while it holds a progress bar: a long run's
    progress stays in view wherever the page is scrolled (at 1024×768 a bar under a button is often
    below the fold)."""
    st.markdown(DOCK_CSS, unsafe_allow_html=True)        # fixed CSS, no user text
    return st.container(key="progress_dock")


def cancel_button(where, key: str, what: str):
    """A Cancel button for a long run drawn in ``where`` (the dock keeps it in view). A click makes
    Streamlit rerun the page, which stops this run at its next screen update: queued model rows are
    dropped and a decode nobody else waits on stops (``Scheduler.cancel``); nothing half-done is kept.
    :func:`stopped_note` on the next run says so. Returns the button's slot: call :func:`finished` with
    it when the run completes."""
    st.session_state[f"_running_{key}"] = what
    slot = where.empty()
    slot.button("Cancel", key=f"do_cancel_{key}", help="Stop this run; nothing half-done is kept.")
    return slot


def finished(key: str, slot=None) -> None:
    st.session_state.pop(f"_running_{key}", None)
    if slot is not None:
        slot.empty()


def stopped_note(key: str) -> None:
    """After a run was stopped before it finished (Cancel, or another click while it ran): say so once."""
    what = st.session_state.pop(f"_running_{key}", None)
    if what:
        st.info(f"Stopped: {what} did not finish (Cancel, or another click while it ran), and nothing of it was "
                "kept. Start it again when you are ready.")


def stream_cards(slot, prompt: str, strengths, tokens: int):
    """An ``on_token`` for a sweep: the first prompt's cards (unsteered, and the direction at each
    nonzero strength), drawn in ``slot`` as their texts decode, in the final cards' order."""
    nonzero = [s for s in strengths if s != 0]
    order = ([0.0] if 0 not in strengths else []) + list(strengths)

    def show(step, texts):
        by = {0.0: texts[0], **{s: texts[1 + i] for i, s in enumerate(nonzero) if 1 + i < len(texts)}}
        with slot.container():
            st.caption(f"Decoding these cards… token {min(step + 1, tokens)} of {tokens}." if step < tokens else
                       "These cards are done. The meters and their controls follow when the other rows are decoded "
                       "(the other prompts and seeds, and the random directions at every strength).")
            cols = st.columns(len(order))
            for col, s in zip(cols, order):
                with col.container(border=True):
                    st.markdown(f"**{'unsteered' if s == 0 else f'strength {s:+g}'}**")
                    st.markdown(md_escape(prompt + by.get(s, "")))
    return show
