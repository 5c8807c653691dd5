"""The dialogue map figure: one point per turn, consecutive turns joined as a path."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from latent.chart_words import tr
from latent.style import PALETTE, base_layout, hover


def dialogue_map_figure(df: pd.DataFrame, *, color: str = "speaker", dims: int = 2,
                        title: str = "Dialogue map", method: str | None = None, highlight=None,
                        lang: str = "en") -> go.Figure:
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
                              line=dict(color="rgba(120,120,120,0.18)", width=1),
                              name=f"path {did}", showlegend=False, legendgroup=f"path-{did}"))
    key = "speaker" if color == "speaker" else "title"
    for i, (name, g) in enumerate(df.groupby(key, sort=False)):
        text = [f"<b>{hover(r.speaker, 40)}</b> · {hover(r.title, 50)} · {tr('turn {turn}', lang, turn=r.turn)}<br>{hover(r.text)}"
                for r in g.itertuples()]
        marker = dict(size=6 if dims == 3 else 10, color=PALETTE[i % len(PALETTE)],
                      line=dict(width=0.5, color="white"))
        fig.add_trace(scatter(**{a: g[a] for a in coords}, mode="markers", name=html.escape(str(name)),
                              text=text, hovertemplate="%{text}<extra></extra>", marker=marker,
                              customdata=list(zip(g["dialogue"], g["turn"]))))
    if "placed" in df and df["placed"].any():  # added dialogues: placed on the fitted map, not fitted
        g = df[df["placed"]]
        fig.add_trace(scatter(**{a: g[a] for a in coords}, mode="markers", name=tr("added (placed, not fitted)", lang),
                              hoverinfo="skip", marker=dict(size=18 if dims == 2 else 9, color="rgba(0,0,0,0)",
                                                            line=dict(width=2.5, color="black"))))
    if highlight is not None:
        g = df[(df["dialogue"] == highlight[0]) & (df["turn"] == highlight[1])]
        fig.add_trace(scatter(**{a: g[a] for a in coords}, mode="markers", name=tr("selected turn", lang), hoverinfo="skip",
                              marker=dict(size=22 if dims == 2 else 11, symbol="circle-open",
                                          line=dict(width=4, color="#c2410c"), color="#c2410c")))
    base_layout(fig, title, dims)
    # eleven speakers stack into a tall column under the map: keep this legend at the side
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, x=1.02), title=dict(font=dict(size=16)))
    if method and dims == 2:  # a projection's axes have no units; say which projection they come from
        fig.update_xaxes(title=f"{method.upper()} 1")
        fig.update_yaxes(title=f"{method.upper()} 2")
    return fig


def tour_figure(tour, lang: str = "en") -> go.Figure:
    """The first screen's map: :func:`dialogue_map_figure` coloured by text, each of the tour's notes
    an arrow pointing at its turn from outside the cloud, and the closest cross-text pair joined."""

    df = tour.table
    fig = dialogue_map_figure(df, color="dialogue", dims=2, method="pca", lang=lang,
                              title=tr("Every turn of the five seed texts is a point; every conversation is a path", lang))
    xy = df[["x", "y"]].to_numpy(float)
    centre, span = xy.mean(0), np.ptp(xy, axis=0) + 1e-9

    def at(dialogue, turn):
        return df[(df["dialogue"] == dialogue) & (df["turn"] == turn)][["x", "y"]].to_numpy(float)[0]

    def note(p, text, length):
        u = (p - centre) / span
        u = u / (np.linalg.norm(u) + 1e-9) if np.linalg.norm(u) > 0.05 else np.array([0.7, 0.7])
        fig.add_annotation(x=p[0], y=p[1], text=html.escape(text), showarrow=True, arrowhead=2, arrowwidth=1.5,
                           ax=float(length * u[0]), ay=float(-length * u[1]), bgcolor="rgba(255,255,255,0.9)",
                           bordercolor="#334155", font=dict(size=13))

    for i, n in enumerate(tour.notes):
        note(at(n.dialogue, n.turn), n.label_in(lang), 70 + 30 * (i % 3))
    p, q = at(*tour.pair[0]), at(*tour.pair[1])
    fig.add_trace(go.Scatter(x=[p[0], q[0]], y=[p[1], q[1]], mode="lines", hoverinfo="skip",
                             line=dict(color="#0f172a", dash="dot", width=2), name=tr("closest pair from two texts", lang)))
    note((p + q) / 2, tr("Closest pair from two texts (cosine {cos})", lang, cos=f"{tour.nearest_cos:.2f}"), 110)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.15, x=0), height=620)  # the map gets the width
    return fig
