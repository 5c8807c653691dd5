"""Figures for the disambiguation studio."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from latent.style import PALETTE, base_layout, hover


def separability_figure(rep) -> go.Figure:
    """Leave-one-out accuracy and silhouette per layer, with the best layer marked."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=rep.layers, y=rep.accuracy, name="leave-one-out accuracy", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=rep.layers, y=rep.silhouette, name="silhouette (cosine)", mode="lines+markers"))
    fig.add_hline(y=1 / len(rep.senses), line_dash="dot", annotation_text="chance", line_color="grey")
    fig.add_vline(x=rep.best_layer, line_dash="dash", annotation_text=f"best layer {rep.best_layer}")
    fig.update_layout(title=html.escape(f"How well the senses of '{rep.word}' separate, per layer ({rep.readout} readout)"),
                      template="plotly_white", height=380, xaxis_title="layer", yaxis_title="score",
                      yaxis_range=[min(0, float(np.min(rep.silhouette))) - 0.05, 1.05])
    return fig


def probs_heatmap(rep, target: str) -> go.Figure:
    """Steps × layers: probability of ``target`` (softmax over centred cosine to the centroids)."""
    k = rep.senses.index(target)
    z = np.stack([s.probs[:, k] for s in rep.steps])
    ylab = [f"{i}: {html.escape(s.context[-40:], quote=False)}" for i, s in enumerate(rep.steps)]
    fig = go.Figure(go.Heatmap(z=z, x=rep.layers, y=ylab, zmin=0, zmax=1, colorscale="YlOrBr",
                               colorbar=dict(title=f"P({html.escape(target)})"),
                               hovertemplate="layer %{x}<br>%{y}<br>P=%{z:.2f}<extra></extra>"))
    fig.update_layout(title=html.escape(f"P({target}) at every layer, for each context step"),
                      template="plotly_white", height=120 + 40 * len(rep.steps), xaxis_title="layer",
                      yaxis=dict(autorange="reversed"))
    return fig


def dose_response_figure(rep) -> go.Figure:
    """All sense probabilities across the steps, at the report's layer."""
    li = rep.layers.index(rep.layer)
    fig = go.Figure()
    x = [f"{i}: {html.escape(s.context[-30:], quote=False)}" for i, s in enumerate(rep.steps)]
    for k, name in enumerate(rep.senses):
        fig.add_trace(go.Scatter(x=x, y=[s.probs[li, k] for s in rep.steps], name=html.escape(name),
                                 mode="lines+markers", line=dict(color=PALETTE[k % len(PALETTE)], width=3)))
    fig.update_layout(title=f"Sense probabilities per context step (layer {rep.layer})", template="plotly_white",
                      height=400, yaxis=dict(title="probability", range=[-0.02, 1.02]))
    return fig


def sense_map_figure(df: pd.DataFrame, senses: list[str], title: str) -> go.Figure:
    """Sentences as points coloured by sense; the context steps as a path with arrows."""
    fig = go.Figure()
    sent = df[df["kind"] == "sentence"]
    for k, name in enumerate(senses):
        g = sent[sent["sense"] == name]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=html.escape(name),
                                 marker=dict(size=10, color=PALETTE[k % len(PALETTE)], opacity=0.75),
                                 text=[hover(t) for t in g["text"]], hovertemplate="%{text}<extra></extra>"))
    st = df[df["kind"] == "step"].sort_values("step")
    fig.add_trace(go.Scatter(x=st["x"], y=st["y"], mode="markers+text", name="context steps",
                             text=[str(i) for i in st["step"]], textposition="top center",
                             marker=dict(size=16, color="black", symbol="star"),
                             hovertext=[hover(f"step {i}: {t}") for i, t in zip(st["step"], st["text"])],
                             hovertemplate="%{hovertext}<extra></extra>"))
    pts = st[["x", "y"]].to_numpy()
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
                           showarrow=True, arrowhead=3, arrowsize=1.5, arrowwidth=2, arrowcolor="black")
    return base_layout(fig, title)


def next_tokens_table(rep) -> pd.DataFrame:
    rows = []
    for i, s in enumerate(rep.steps):
        for rank, (tok, p) in enumerate(s.next_tokens):
            rows.append({"step": i, "context": s.context, "rank": rank + 1, "token": repr(tok), "prob": round(p, 4)})
    return pd.DataFrame(rows)
