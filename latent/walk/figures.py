"""Figures for the latent walk: meters against strength, the steered map, the interpolation path."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.style import base_layout, hover

PANELS = (  # (row, col, meter column, its band's column prefix, colour); intervals are <meter>_lo/_hi
    (1, 1, "effect", "random", "#c2410c"),
    (1, 2, "distinct2", "distinct2_random", "#1f77b4"),
    (2, 1, "typicality", "typicality_random", "#2ca02c"),
    (2, 2, "kl", "kl_random", "#9467bd"),
)


def meters_figure(sw, hide_answer: bool = False, lang: str = "en") -> go.Figure:
    """Four meters against strength. In each: the direction's mean with its 95 % interval over
    prompt × seed, beside the band (mean ± 2 sd, clipped to the meter's range) of random directions of
    the same norm measured in the same batch (at strength 0 the band is the unsteered rows': every
    direction is the baseline there); in the concept panel, for a direction built from texts, also the
    band of its data-shaped null (directions built the same way from neutral text). ``hide_answer``: the
    bands only, no trace of the direction (a lesson step that asks whether the direction leaves them,
    until its reveal)."""
    t = sw.summary
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.1, subplot_titles=tuple(tr(s, lang) for s in (
        "concept change vs unsteered (↑ toward +pole)", "distinct-2: share of distinct bigrams (1 = no repeats)",
        "typicality: mean log-prob under the unsteered model", "KL of the first token vs unsteered")))
    x = list(t["strength"])
    n_rand = sw.recipe["n_random"]          # every sweep records its count
    for i, (r, c, col, band, color) in enumerate(PANELS):
        fig.add_trace(go.Scatter(x=x + x[::-1], y=list(t[f"{band}_hi"]) + list(t[f"{band}_lo"][::-1]), fill="toself",
                                 mode="lines", fillcolor="rgba(150,150,150,0.3)", line=dict(width=0), legendgroup="band",
                                 name=tr("{n} random directions (mean ± 2 sd)", lang, n=n_rand), showlegend=i == 0), r, c)
        if hide_answer:
            continue
        err = dict(type="data", symmetric=False, array=t[f"{col}_hi"] - t[col], arrayminus=t[col] - t[f"{col}_lo"])
        fig.add_trace(go.Scatter(x=x, y=t[col], mode="lines+markers", name=tr("this direction (mean, 95 % CI)", lang),
                                 legendgroup="direction", showlegend=i == 0, line=dict(width=3, color=color),
                                 marker=dict(size=9), error_y=err), r, c)
    if getattr(sw, "has_data_null", False):   # the concept panel: the data-shaped null's band beside the random one
        k = sw.data_null.n_splits
        fig.add_trace(go.Scatter(x=x + x[::-1], y=list(t["data_hi"]) + list(t["data_lo"][::-1]), fill="toself",
                                 mode="lines", fillcolor="rgba(217,119,6,0.18)",
                                 line=dict(width=1, color="rgba(217,119,6,0.6)", dash="dot"),
                                 name=tr("{k} data-shaped null directions from neutral text (mean ± 2 sd)", lang, k=k),
                                 legendgroup="data"), 1, 1)
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey", row=1, col=2, annotation_text=tr("degenerate below", lang))
    if sw.cliff is not None and not hide_answer:        # the cliff is where the direction's own texts repeat
        for r, c in ((1, 1), (1, 2), (2, 1), (2, 2)):
            for sign in (-1, 1):
                fig.add_vline(x=sign * sw.cliff, line_dash="dash", line_color="#d62728", row=r, col=c)
    for r, c in ((1, 1), (1, 2), (2, 1), (2, 2)):
        fig.update_xaxes(title_text=tr("strength (× layer norm)", lang) if r == 2 else None, row=r, col=c)
    n_prompts = int(sw.rows["prompt"].nunique())
    title = "Meters · layer {layer} · n = {n} per strength · KL: n = {k} prompt" + ("s" if n_prompts > 1 else "")
    fig.update_layout(title=tr(title, lang, layer=sw.layer, n=int(t["n"].max()), k=n_prompts),
                      template="plotly_white", height=620, font=dict(size=15),
                      legend=dict(orientation="h", y=1.12, x=0))
    return fig


def steered_map_figure(df: pd.DataFrame, label: str, lang: str = "en") -> go.Figure:
    fig = go.Figure()
    styles = {"positive pole": ("#2ca02c", "triangle-up"), "negative pole": ("#d62728", "triangle-down"),
              "baseline": ("black", "x")}
    for kind, (color, symbol) in styles.items():
        g = df[df["kind"] == kind]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=tr(kind, lang), text=[hover(t) for t in g["text"]],
                                 hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=12, color=color, symbol=symbol)))
    g = df[df["kind"] == "generation"].sort_values("strength")
    fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers+lines+text", name=tr("steered generations", lang),
                             text=[f"{s:+.2f}" for s in g["strength"]], textposition="top center",
                             hovertext=[hover(t) for t in g["text"]], hovertemplate="%{hovertext}<extra></extra>",
                             marker=dict(size=13, color=g["strength"], colorscale="RdBu", cmid=0,
                                         showscale=True, colorbar=dict(title=tr("strength", lang))),
                             line=dict(color="rgba(0,0,0,0.25)")))
    base_layout(fig, tr("Where the steered texts land · x = along {label}", lang, label=label))
    fig.update_xaxes(title=html.escape(tr("along the direction ({label})", lang, label=label), quote=False), showticklabels=True)
    fig.update_yaxes(title=tr("first principal component of the rest", lang), showticklabels=True)
    fig.update_layout(legend=dict(orientation="h", y=-0.15, x=0))  # below the plot, clear of the colour bar
    return fig


def interpolation_figure(path: pd.DataFrame, layer: int, lang: str = "en") -> go.Figure:
    fig = go.Figure()
    for kind, color in (("A", "#1f77b4"), ("B", "#d62728")):
        g = path[path["kind"] == kind]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=tr("tokens of {what}", lang, what=kind),
                                 text=[hover(repr(t)) for t in g["label"]], hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=9, color=color, opacity=0.6)))
    g = path[path["kind"] == "mix"]
    fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="lines+markers+text", name=tr("walk A → B", lang),
                             text=list(g["label"]), textposition="top center",
                             marker=dict(size=12, color="black"), line=dict(width=3, color="black")))
    return base_layout(fig, tr("Interpolation path on the hidden-state map (layer {layer}, PCA)", lang, layer=layer))
