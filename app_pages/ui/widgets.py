"""Widgets drawn from the library's parameter specs (:class:`latent.claims.Param`)."""
from __future__ import annotations

import streamlit as st


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
