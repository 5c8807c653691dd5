"""Figures for the latent walk: meters against strength, the steered map, the interpolation path."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from latent.style import base_layout, hover


def meters_figure(sw) -> go.Figure:
    """Concept score, fluency and first-token KL against strength, with baseline lines."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("concept (↑ = toward +pole)", "fluency (mean log-prob)",
                                                        "KL of first token vs baseline"))
    for i, (name, y, base) in enumerate((("concept", sw.concept, sw.recipe.get("baseline_concept")),
                                         ("fluency", sw.fluency, sw.recipe.get("baseline_fluency")),
                                         ("kl", sw.kl, 0.0)), start=1):
        fig.add_trace(go.Scatter(x=sw.strengths, y=y, mode="lines+markers", name=name, line=dict(width=3)), 1, i)
        if base is not None:
            fig.add_hline(y=base, line_dash="dot", line_color="grey", row=1, col=i)
        fig.update_xaxes(title_text="strength (× layer norm)", row=1, col=i)
    fig.update_layout(title=f"Meters for every generation · layer {sw.layer} (dotted: unsteered)",
                      template="plotly_white", height=380, showlegend=False)
    return fig


def steered_map_figure(df: pd.DataFrame, label: str) -> go.Figure:
    fig = go.Figure()
    styles = {"positive pole": ("#2ca02c", "triangle-up"), "negative pole": ("#d62728", "triangle-down"),
              "baseline": ("black", "x")}
    for kind, (color, symbol) in styles.items():
        g = df[df["kind"] == kind]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=kind, text=[hover(t) for t in g["text"]],
                                 hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=12, color=color, symbol=symbol)))
    g = df[df["kind"] == "generation"].sort_values("strength")
    fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers+lines+text", name="steered generations",
                             text=[f"{s:+.2f}" for s in g["strength"]], textposition="top center",
                             hovertext=[hover(t) for t in g["text"]], hovertemplate="%{hovertext}<extra></extra>",
                             marker=dict(size=13, color=g["strength"], colorscale="RdBu", cmid=0,
                                         showscale=True, colorbar=dict(title="strength")),
                             line=dict(color="rgba(0,0,0,0.25)")))
    base_layout(fig, f"Where the steered texts land · x = along {label}")
    fig.update_xaxes(title=html.escape(f"along the direction ({label})", quote=False), showticklabels=True)
    fig.update_yaxes(title="first principal component of the rest", showticklabels=True)
    return fig


def interpolation_figure(path: pd.DataFrame, layer: int) -> go.Figure:
    fig = go.Figure()
    for kind, color in (("A", "#1f77b4"), ("B", "#d62728")):
        g = path[path["kind"] == kind]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=f"tokens of {kind}",
                                 text=[hover(repr(t)) for t in g["label"]], hovertemplate="%{text}<extra></extra>",
                                 marker=dict(size=9, color=color, opacity=0.6)))
    g = path[path["kind"] == "mix"]
    fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="lines+markers+text", name="walk A → B",
                             text=list(g["label"]), textposition="top center",
                             marker=dict(size=12, color="black"), line=dict(width=3, color="black")))
    return base_layout(fig, f"Interpolation path on the hidden-state map (layer {layer}, PCA)")
