"""Shared figure style: palette, fonts, layout and escaped hover text for every figure builder.

All hover text is HTML-escaped (:func:`hover`), because plotly renders ``<b>``, ``<a>`` and
``<span style>`` from hover strings.
"""
from __future__ import annotations

import html
import textwrap
from contextvars import ContextVar

import plotly.graph_objects as go

# presenter view (large type, thick lines, big markers): set per browser session by the page preamble
PRESENT: ContextVar[bool] = ContextVar("latent_present", default=False)

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


def present(fig: go.Figure) -> go.Figure:
    """For a projector: big type, thick lines and big markers (only in presenter view)."""
    if PRESENT.get():
        fig.update_layout(font=dict(size=22), title_font_size=26, legend_font_size=20)
        fig.update_traces(selector=dict(type="scatter"), line_width=5, marker_size=14)
        fig.update_traces(selector=dict(type="scattergl"), marker_size=10)
        fig.update_annotations(font_size=20)
        # a projector's first screen (1280×720) holds the whole chart
        fig.update_layout(height=min(fig.layout.height or 560, 560))
    return fig


def base_layout(fig: go.Figure, title: str, dims: int = 2) -> go.Figure:
    fig.update_layout(title=dict(text=html.escape(title, quote=False)), font=FONT,
                      template="plotly_white", height=620, margin=dict(l=10, r=10, t=60, b=10),
                      # the legend goes under the plot: beside it, it squeezed maps to ~270 px at 1024 px
                      legend=dict(itemsizing="constant", orientation="h", yanchor="top", y=-0.02, x=0))
    if dims == 2:
        fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
        fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    return fig


def claim_style(fig: go.Figure, title: str) -> go.Figure:
    """Seed-claim charts: panels side by side at full width, the legend underneath."""
    fig.update_layout(title=dict(text=html.escape(title, quote=False)), template="plotly_white", height=560,
                      font=dict(size=14), margin=dict(l=10, r=10, t=90, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, x=0, font=dict(size=12)))
    fig.update_annotations(font_size=13)
    return present(fig)
