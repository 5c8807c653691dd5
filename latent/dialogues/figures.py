"""The dialogue map figure: one point per turn, consecutive turns joined as a path."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from latent.style import PALETTE, base_layout, hover


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
