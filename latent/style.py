"""Shared figure style: palette, fonts, layout and escaped hover text for every figure builder.

All hover text is HTML-escaped (:func:`hover`), because plotly renders ``<b>``, ``<a>`` and
``<span style>`` from hover strings.
"""
from __future__ import annotations

import html
import re
import textwrap
from contextvars import ContextVar

import plotly.graph_objects as go

# presenter view (large type, thick lines, big markers): set per browser session by the page preamble
PRESENT: ContextVar[bool] = ContextVar("latent_present", default=False)
# a phone's screen (from the browser's user agent): one column, legend below, short titles
NARROW: ContextVar[bool] = ContextVar("latent_narrow", default=False)
PHONE_PANEL_HEIGHT = 300
PRESENT_TITLE = 36          # characters per title line in presenter view

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


def _cells(fig: go.Figure) -> list[tuple[str, str, tuple, tuple]]:
    """(x axis name, y axis name, x domain, y domain) of each 2-D panel, top-left first."""
    out = []
    for name in fig.layout:
        if name.startswith("xaxis"):
            x = fig.layout[name]
            y_name = "yaxis" + name[5:]
            if y_name in fig.layout and x.domain is not None and fig.layout[y_name].domain is not None:
                out.append((name, y_name, tuple(x.domain), tuple(fig.layout[y_name].domain)))
    return sorted(out, key=lambda c: (-round(c[3][1], 3), round(c[2][0], 3)))


def narrow(fig: go.Figure) -> go.Figure:
    """For a phone (390 px): panels side by side are stacked in one column, each with its title above
    it; the legend goes below; titles wrap; tick labels stay horizontal and few.

    >>> from plotly.subplots import make_subplots
    >>> f = make_subplots(1, 2, subplot_titles=("a", "b"))
    >>> g = narrow(f)
    >>> [tuple(round(v, 2) for v in g.layout[a].domain) for a in ("xaxis", "xaxis2")]
    [(0.0, 1.0), (0.0, 1.0)]
    >>> g.layout.yaxis.domain[0] > g.layout.yaxis2.domain[1]
    True
    """
    cells = _cells(fig)
    titles = [a for a in fig.layout.annotations if a.xref == "paper" and a.yref == "paper" and a.yanchor == "bottom"]
    n = len(cells)
    if n > 1 and len({c[2] for c in cells}) > 1:                  # panels side by side: stack them
        gap = 0.18 / n
        for k, (xa, ya, xd, yd) in enumerate(cells):
            top, bottom = 1 - k / n, 1 - (k + 1) / n + gap
            for a in titles:                                     # the panel's title moves with it
                if xd[0] - 0.01 <= (a.x or 0) <= xd[1] + 0.01 and abs((a.y or 0) - yd[1]) < 0.02:
                    a.update(x=0.5, y=top)
            fig.layout[xa].domain, fig.layout[ya].domain = (0.0, 1.0), (bottom, top)
        fig.update_layout(height=PHONE_PANEL_HEIGHT * n + 160)
    fig.update_layout(font_size=12, margin=dict(l=8, r=8, t=80, b=8),
                      legend=dict(orientation="h", yanchor="top", y=-0.06, x=0, font_size=11))
    fig.update_xaxes(tickangle=0, nticks=5, automargin=True)
    for axis in {tr.xaxis or "x" for tr in fig.data if getattr(tr, "x", None) is not None}:
        xs = [v for tr in fig.data if (tr.xaxis or "x") == axis and tr.x is not None for v in tr.x]
        if xs and all(isinstance(v, str) and re.match(r"^\d+: ", v) for v in xs):    # "3: honey worker hive queen"
            vals = list(dict.fromkeys(xs))
            fig.layout["xaxis" + axis[1:]].update(tickvals=vals, ticktext=[v.split(":")[0] for v in vals])
    fig.update_annotations(font_size=12)
    return fit_title(fig, 40, 14, clear=PHONE_TOOLBAR)


# Plotly never wraps a title: one long line was cut at 1024 px, and a title wrapped by hand grew down into the
# panels' own titles (subplot titles) at 1280 px. So every chart's title is wrapped here, at a width that fits
# the narrowest place a chart is drawn (a half-width column at 1024 px; beside the lesson panel on the projector),
# hung from the top of the figure, with a top margin that holds its lines and the panels' titles under them.
PHONE_TOOLBAR = 30      # px: a touch screen shows the chart's toolbar over the figure's top right, where a title starts
TITLE_CHARS, TITLE_SIZE = 52, 17        # a title line at 17 px: ~470 px, half the main column at 1024 px
PRESENT_TITLE_SIZE = 26


def _subplot_title_band(fig: go.Figure) -> float:
    """Pixels the panels' own titles need above the top panel (0 where there are none up there)."""
    tops = [a for a in fig.layout.annotations if a.xref == "paper" and a.yref == "paper" and a.yanchor == "bottom"
            and (a.y or 0) >= 0.98]
    if not tops:
        return 0.0
    size = max((a.font.size or fig.layout.font.size or 15) for a in tops)
    return size * 1.5 + 4


def fit_title(fig: go.Figure, chars: int = TITLE_CHARS, size: float = TITLE_SIZE, clear: int = 0) -> go.Figure:
    """Wrap the title at ``chars`` characters (at most 3 lines; a word and the number after it stay together),
    hang it from the figure's top, and make the top margin hold its lines and the panels' titles under them.
    ``clear``: pixels kept free above the title (a phone shows the chart's toolbar there at all times).

    >>> f = fit_title(go.Figure(layout=dict(title_text="Reliability at layer 3: ECE 0.050 (a calibrated model at n=48 "
    ...                                                  "reaches up to 0.117)")))
    >>> f.layout.title.text, f.layout.margin.t
    ('Reliability at layer 3: ECE 0.050 (a calibrated<br>model at n=48 reaches up to 0.117)', 60)
    >>> g = fit_title(go.Figure(layout=dict(title_text="Sense map")), clear=30)    # a phone: under its toolbar
    >>> g.layout.title.pad.t, g.layout.margin.t
    (40, 69)
    """
    text = fig.layout.title.text or ""
    if not text:
        return fig
    if "<br>" in text:
        lines = text.split("<br>")
    else:
        glued = re.sub(r"(\S) (?=[\d★=])", "\\1\u00a0", text)        # "layer 3", "n = 48", "· ★ =" stay whole
        lines = [ln.replace("\u00a0", " ") for ln in textwrap.wrap(glued, chars)[:3]] or [text]
    pad = 10 + clear
    top = pad + len(lines) * size * 1.25 + 8 + _subplot_title_band(fig)
    fig.update_layout(title=dict(text="<br>".join(lines), font_size=size, y=1, yref="container", yanchor="top",
                                 pad=dict(t=pad + _multiline_drop(len(lines), size)), x=0.01, xanchor="left"),
                      margin_t=round(max(top, 40)))
    return fig


def _multiline_drop(n_lines: int, size: float) -> int:
    """Pixels a title of several lines must come down to hang from its pad as a one-line title does. Plotly
    (plotly.js 4.1 and Streamlit's 4.2) lowers a top-anchored title by its cap height (0.7 em, the text's
    ``dy``), but a title with ``<br>`` draws each line as a tspan with its own ``dy`` (the first "0em"), which
    drops that shift: the first line's baseline sat on the pad, its letters above it, and the figure's top
    cut them (2-3 px at 17 px on a 1024 px screen; 14 px of a 26 px presenter title's box above the figure).

    >>> _multiline_drop(1, 17), _multiline_drop(2, 17), _multiline_drop(3, 26)
    (0, 12, 18)
    """
    return round(0.7 * size) if n_lines > 1 else 0


def present(fig: go.Figure, share: float = 1.0) -> go.Figure:
    """For a projector: big type, thick lines and big markers, long titles wrapped (only in presenter view).
    On a phone: :func:`narrow`. Everywhere: the title fits (:func:`fit_title`). ``share``: the chart's width
    against the place the title widths assume (half the main column at 1024 px, beside the lesson panel on a
    screen): a chart in a narrower column (the sense map beside its table: 0.65) wraps its title sooner. On a
    projector, the presenter width already is the narrowest column's.

    >>> tok = PRESENT.set(True)
    >>> f = present(base_layout(go.Figure(), "Sense map at layer 9 (PCA) · ★ = context steps"))
    >>> PRESENT.reset(tok)
    >>> f.layout.title.text, f.layout.margin.t
    ('Sense map at layer 9 (PCA) · ★ =<br>context steps', 83)
    >>> present(base_layout(go.Figure(), "Sense map at layer 9 (PCA) · ★ = context steps"), share=0.65).layout.title.text
    'Sense map at layer 9 (PCA) · ★ =<br>context steps'
    """
    if NARROW.get() and not PRESENT.get():
        return narrow(fig)
    if PRESENT.get():
        fig.update_layout(font=dict(size=22), title_font_size=26, legend_font_size=20)
        fig.update_traces(selector=dict(type="scatter"), line_width=5, marker_size=14)
        fig.update_traces(selector=dict(type="scattergl"), marker_size=10)
        fig.update_annotations(font_size=20)
        # a projector's first screen (1280×720) holds the whole chart
        fig.update_layout(height=min(fig.layout.height or 560, 560))
        return fit_title(fig, PRESENT_TITLE, PRESENT_TITLE_SIZE)      # ~500-600 px beside the lesson panel, any column
    return fit_title(fig, _chars(TITLE_CHARS, share))


def _chars(chars: int, share: float) -> int:
    """Characters per title line for a chart ``share`` as wide as the usual place (at least 20)."""
    return max(20, round(chars * min(share, 1.0)))


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
