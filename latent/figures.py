"""Plotly figure builders. They take tables (DataFrames) and return ``go.Figure``; no model code.

All hover text is HTML-escaped (:func:`hover`), because plotly renders ``<b>``, ``<a>`` and
``<span style>`` from hover strings.
"""
from __future__ import annotations

import html
import textwrap

import pandas as pd
import plotly.graph_objects as go

# 20 distinct colours (Tableau 10 + a darker/lighter second row), so 11 speakers never share one
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#e7ba52",
           "#3182bd", "#843c39", "#8ca252", "#ce6dbd", "#636363"]
FONT = dict(size=15)


def hover(text: str, width: int = 60, max_chars: int = 400) -> str:
    """Escape user/model text for plotly hover labels and wrap it.

    >>> hover("<b>hi</b>")
    '&lt;b&gt;hi&lt;/b&gt;'
    """
    s = str(text)
    if len(s) > max_chars:
        s = s[: max_chars - 1] + "…"
    lines = textwrap.wrap(s, width) or [""]
    return "<br>".join(html.escape(ln, quote=False) for ln in lines)


def base_layout(fig: go.Figure, title: str, dims: int = 2) -> go.Figure:
    fig.update_layout(title=dict(text=html.escape(title, quote=False)), font=FONT,
                      template="plotly_white", height=620, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(itemsizing="constant"))
    if dims == 2:
        fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
        fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    return fig


def dialogue_map_figure(df: pd.DataFrame, *, color: str = "speaker", dims: int = 2,
                        title: str = "Dialogue map") -> go.Figure:
    """Every turn is a point; consecutive turns of one dialogue are joined as a path.

    ``df`` needs columns dialogue, title, turn, speaker, text, x, y (and z for 3D).
    """
    fig = go.Figure()
    scatter = go.Scatter3d if dims == 3 else go.Scatter
    coords = ["x", "y", "z"][:dims]
    # paths first (thin grey), so points draw on top
    for did, g in df.groupby("dialogue", sort=False):
        g = g.sort_values("turn")
        fig.add_trace(scatter(**{a: g[a] for a in coords}, mode="lines", hoverinfo="skip",
                              line=dict(color="rgba(120,120,120,0.35)", width=1.5),
                              name=f"path {did}", showlegend=False, legendgroup=f"path-{did}"))
    key = "speaker" if color == "speaker" else "title"
    for i, (name, g) in enumerate(df.groupby(key, sort=False)):
        text = [f"<b>{hover(r.speaker, 40)}</b> · {hover(r.title, 50)} · turn {r.turn}<br>{hover(r.text)}"
                for r in g.itertuples()]
        marker = dict(size=6 if dims == 3 else 10, color=PALETTE[i % len(PALETTE)],
                      line=dict(width=0.5, color="white"))
        fig.add_trace(scatter(**{a: g[a] for a in coords}, mode="markers", name=html.escape(str(name)),
                              text=text, hovertemplate="%{text}<extra></extra>", marker=marker,
                              customdata=list(zip(g["dialogue"], g["turn"]))))
    return base_layout(fig, title, dims)
