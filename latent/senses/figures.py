"""Figures for the disambiguation studio."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.style import PALETTE, base_layout, hover


def separability_figure(rep, compare=None, lang: str = "en") -> go.Figure:
    """Leave-one-out accuracy per layer against its nulls and baselines (top), silhouette (bottom).

    ``compare``: optional ``{model name: report}`` drawn by relative depth (0 = embeddings, 1 = last block).
    """

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.08,
                        subplot_titles=(tr("leave-one-out accuracy (nearest sense centroid)", lang),
                                        tr("silhouette (cosine)", lang)))
    x = (lambda r: np.asarray(r.layers) / max(r.layers)) if compare else (lambda r: r.layers)
    reports = compare or {"this model": rep}
    for i, (name, r) in enumerate(reports.items()):
        label = f"{name}: " if compare else ""
        fig.add_trace(go.Scatter(x=x(r), y=r.accuracy, name=html.escape(label + tr("{readout} readout", lang, readout=r.readout)),
                                 mode="lines+markers", line=dict(width=3, color=PALETTE[i])), row=1, col=1)
        fig.add_trace(go.Scatter(x=x(r), y=r.silhouette, name=html.escape(label + tr("silhouette", lang)), mode="lines",
                                 line=dict(width=2, color=PALETTE[i]), showlegend=False), row=2, col=1)
    if not compare:
        for j, (name, v) in enumerate(rep.baselines.items()):
            y = np.full(len(rep.layers), v) if np.isscalar(v) else v
            fig.add_trace(go.Scatter(x=rep.layers, y=y, name=html.escape(tr("control: {name}", lang, name=name)), mode="lines",
                                     line=dict(dash="dash", width=2, color=PALETTE[4 + j])), row=1, col=1)
        fig.add_trace(go.Scatter(x=rep.layers, y=np.full(len(rep.layers), rep.null_accuracy_p95), mode="lines",
                                 name=tr("null: shuffled senses, best layer, 95th pct", lang), fill="tozeroy",
                                 line=dict(color="rgba(120,120,120,0.6)", width=1),
                                 fillcolor="rgba(150,150,150,0.25)"), row=1, col=1)
        fig.add_vline(x=rep.best_layer, line_dash="dot", row=1, col=1,
                      annotation_text=tr("best layer {layer} (in-sample)", lang, layer=rep.best_layer))
    fig.update_yaxes(range=[0, 1.05], title=tr("accuracy", lang), row=1, col=1)
    fig.update_yaxes(title=tr("silhouette", lang), row=2, col=1)
    fig.update_xaxes(title=tr("relative depth (0 = embeddings, 1 = last block)" if compare else "layer", lang), row=2, col=1)
    fig.update_layout(title=html.escape(tr("Do the senses of '{word}' separate? Per layer, against controls", lang,
                                           word=rep.word)),
                      template="plotly_white", height=560, font=dict(size=15), legend=dict(orientation="h", y=-0.18))
    return fig


def reliability_figure(rep, lang: str = "en") -> go.Figure:
    """Held-out confidence against held-out accuracy in bins (n per bin as text); the diagonal is perfect."""
    c = rep.calibration
    t = [r for r in c.table if r["n"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=tr("perfect calibration", lang),
                             line=dict(dash="dash", color="grey")))
    fig.add_trace(go.Scatter(x=[r["confidence"] for r in t], y=[r["accuracy"] for r in t], mode="markers+lines+text",
                             text=[f"n={r['n']}" for r in t], textposition="top left", name=tr("held-out sentences", lang),
                             marker=dict(size=[8 + 2 * np.sqrt(r["n"]) for r in t])))
    fig.update_layout(title=tr("Reliability at layer {layer}: ECE {ece} (a calibrated model at n={n} reaches up to {null})",
                               lang, layer=c.layer, ece=f"{c.ece:.3f}", n=c.n, null=f"{c.ece_null_p95:.3f}"),
                      template="plotly_white", height=400,
                      xaxis=dict(title=tr("stated probability of the top sense", lang), range=[0, 1.02]),
                      yaxis=dict(title=tr("fraction correct", lang), range=[0, 1.05]), font=dict(size=15))
    return fig


def probs_heatmap(rep, target: str, lang: str = "en") -> go.Figure:
    """Steps × layers: probability of ``target`` (softmax over centred cosine to the centroids)."""
    k = rep.senses.index(target)
    z = np.stack([s.probs[:, k] for s in rep.steps])
    ylab = [f"{i}: {html.escape(s.context[-40:], quote=False)}" for i, s in enumerate(rep.steps)]
    fig = go.Figure(go.Heatmap(z=z, x=rep.layers, y=ylab, zmin=0, zmax=1, colorscale="YlOrBr",
                               colorbar=dict(title=f"P({html.escape(target)})"),
                               hovertemplate=f"{tr('layer', lang)} %{{x}}<br>%{{y}}<br>P=%{{z:.2f}}<extra></extra>"))
    fig.update_layout(title=html.escape(tr("P({target}) at every layer, for each context step", lang, target=target)),
                      template="plotly_white", height=120 + 40 * len(rep.steps), xaxis_title=tr("layer", lang),
                      yaxis=dict(autorange="reversed"))
    return fig


def dose_response_figure(rep, lang: str = "en") -> go.Figure:
    """Per context step at the report's layer: probabilities for named steps (left; an 'unclear' or a barely
    named step has none) and raw cosine to each sense (right), with the sense-free contexts' range and the threshold."""

    li = rep.layers.index(rep.layer)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=(tr("probability (fitted temperature)", lang), tr("raw cosine to each sense", lang)))
    x = [f"{i}: {html.escape(_short(s.context), quote=False)}" for i, s in enumerate(rep.steps)]
    for k, name in enumerate(rep.senses):
        color = PALETTE[k % len(PALETTE)]
        # an 'unclear' or barely named step has no probability: a gap, and its scores stay on the right
        fig.add_trace(go.Scatter(x=x, y=[None if s.predicted_sense == "unclear" or s.barely else s.probs[li, k]
                                         for s in rep.steps],
                                 name=html.escape(name), legendgroup=name,
                                 mode="lines+markers", line=dict(color=color, width=3)), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[s.sims[li, k] for s in rep.steps], name=html.escape(name), legendgroup=name,
                                 showlegend=False, mode="lines+markers", line=dict(color=color, width=2)), row=1, col=2)
    null = [p for _, p in rep.null_contexts]
    fig.add_hrect(y0=min(null), y1=max(null), row=1, col=2, fillcolor="grey", opacity=0.2, line_width=0,
                  annotation_text=tr("{n} sense-free contexts", lang, n=len(null)), annotation_position="top left")
    fig.add_hline(y=rep.unclear_below, row=1, col=2, line_dash="dash", line_color="grey")
    for i, s in enumerate(rep.steps):
        if s.predicted_sense == "unclear" or s.barely:
            fig.add_annotation(x=x[i], y=1.0, text=tr("unclear" if s.predicted_sense == "unclear" else "barely named", lang),
                               showarrow=False, row=1, col=1, font=dict(color="grey"))
    fig.update_yaxes(range=[-0.02, 1.05], title=tr("probability", lang), row=1, col=1)
    fig.update_yaxes(title=tr("cosine (centred)", lang), row=1, col=2)
    fig.update_layout(title=tr("Context steps at layer {layer}: a sense is named only above the dashed line "
                               "(95 % of sense-free contexts)", lang, layer=rep.layer),
                      template="plotly_white", height=500, font=dict(size=15),
                      # below the panels: at the right, a projector's large type cut it after four senses
                      legend=dict(orientation="h", yanchor="top", y=-0.16, x=0))
    return fig


def _short(text: str, n: int = 28) -> str:
    """Keep both ends of a long step label so two steps never read the same."""
    return text if len(text) <= n else text[: n // 2 - 1] + "…" + text[-(n // 2 - 1):]


def sense_map_figure(df: pd.DataFrame, senses: list[str], title: str, hide_answer: bool = False,
                     lang: str = "en") -> go.Figure:
    """Sentences as points coloured by sense; the context steps as a path with arrows (``hide_answer``:
    the sense sentences only, for a lesson step that asks where a context lands, until its reveal)."""
    fig = go.Figure()
    sent = df[df["kind"] == "sentence"]
    for k, name in enumerate(senses):
        g = sent[sent["sense"] == name]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers", name=html.escape(name),
                                 marker=dict(size=10, color=PALETTE[k % len(PALETTE)], opacity=0.75),
                                 text=[hover(t) for t in g["text"]], hovertemplate="%{text}<extra></extra>"))
    if hide_answer:
        return base_layout(fig, title)
    st = df[df["kind"] == "step"].sort_values("step")
    fig.add_trace(go.Scatter(x=st["x"], y=st["y"], mode="markers+text", name=tr("context steps", lang),
                             text=[str(i) for i in st["step"]], textposition="top center",
                             marker=dict(size=16, color="black", symbol="star"),
                             hovertext=[hover(tr("step {step}: {what}", lang, step=i, what=t)) for i, t in zip(st["step"], st["text"])],
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
