"""Figures for the hidden-state explorer: the layer-animated token map and the logit-lens heatmap."""
from __future__ import annotations

import html
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from latent.figures import PALETTE, base_layout, hover

COLOR_BY = ("prompt", "token", "position", "layer")


def _colors(t: pd.DataFrame, by: str):
    if by == "prompt":
        return [PALETTE[i % len(PALETTE)] for i in t["text_index"]], None
    if by == "token":
        return [PALETTE[zlib.crc32(tok.encode()) % len(PALETTE)] for tok in t["token"]], None
    return t["token_index" if by == "position" else "layer"].to_numpy(), "Viridis"


def _hover(t: pd.DataFrame, prompts: list[str]) -> list[str]:
    out = []
    for r in t.itertuples():
        src = "placed text" if r.placed else f"prompt {r.text_index}: {prompts[r.text_index][:60]}"
        out.append(f"<b>{hover(repr(r.token), 40)}</b> · layer {r.layer} · position {r.token_index}"
                   f"<br>{hover(src, 60)}")
    return out


def token_map_figure(t: pd.DataFrame, prompts: list[str], *, layer: int | None, color: str = "prompt",
                     dims: int = 2, title: str = "Token map", axis_titles=("", ""), note: str = "") -> go.Figure:
    """Token points; ``layer=None`` shows every layer at once, else one layer with a play button.

    Paths join each token's positions across the chosen layers. Frames (one per layer) only
    change which layer's points are shown: the coordinates never move between frames.
    """
    if color not in COLOR_BY:
        raise ValueError(f"Unknown colour {color!r}. Must be one of: {', '.join(COLOR_BY)}")
    axes = ["x", "y", "z"][:dims]
    scat = go.Scatter3d if dims == 3 else go.Scattergl
    layers = sorted(t["layer"].unique().tolist())
    fig = go.Figure()
    # paths: one trace, tokens separated by None (fast even for thousands of tokens)
    path = {a: [] for a in axes}
    for _, g in t[~t["placed"]].sort_values("layer").groupby(["text_index", "token_index"], sort=False):
        for a in axes:
            path[a].extend(g[a].tolist() + [None])
    fig.add_trace(scat(**path, mode="lines", hoverinfo="skip", name="paths across layers",
                       line=dict(color="rgba(120,120,120,0.25)", width=1)))

    def points(sub: pd.DataFrame, placed: bool):
        c, scale = _colors(sub, color)
        marker = dict(size=5 if dims == 3 else 9, color=c, line=dict(width=0.5, color="white"),
                      symbol="diamond" if placed else "circle")
        if scale:
            marker.update(colorscale=scale, showscale=not placed,
                          colorbar=dict(title=color, thickness=12))
        return scat(**{a: sub[a] for a in axes}, mode="markers", marker=marker,
                    name="placed, not fitted" if placed else "tokens", text=_hover(sub, prompts),
                    hovertemplate="%{text}<extra></extra>", customdata=sub.index.to_numpy())

    def at(layer_):
        sub = t if layer_ is None else t[t["layer"] == layer_]
        return [points(sub[~sub["placed"]], False), points(sub[sub["placed"]], True)]

    for tr in at(layer):
        fig.add_trace(tr)
    if layer is not None and len(layers) > 1:
        fig.frames = [go.Frame(name=str(L), data=at(L), traces=[1, 2]) for L in layers]
        steps = [dict(method="animate", label=str(L),
                      args=[[str(L)], dict(mode="immediate", frame=dict(duration=0, redraw=dims == 3),
                                           transition=dict(duration=0))]) for L in layers]
        fig.update_layout(
            sliders=[dict(active=layers.index(layer), steps=steps, currentvalue=dict(prefix="layer "),
                          pad=dict(t=30))],
            updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.02, xanchor="right",
                              buttons=[dict(label="▶ play", method="animate",
                                            args=[None, dict(frame=dict(duration=600, redraw=dims == 3),
                                                             fromcurrent=True, transition=dict(duration=250))])])])
    # one fixed frame of reference for every layer
    for a in axes[:2] if dims == 2 else []:
        lo, hi = float(np.nanmin(t[a])), float(np.nanmax(t[a]))
        pad = 0.05 * (hi - lo or 1)
        fig.update_layout(**{f"{a}axis": dict(range=[lo - pad, hi + pad])})
    if note:
        title = f"{title}<br><sup>{html.escape(note, quote=False)}</sup>"
    base_layout(fig, "", dims)
    fig.update_layout(title=dict(text=title), showlegend=True)
    if dims == 2 and any(axis_titles):
        fig.update_xaxes(title=html.escape(axis_titles[0], quote=False), showticklabels=True)
        fig.update_yaxes(title=html.escape(axis_titles[1], quote=False), showticklabels=True)
    return fig


def lens_heatmap(table: pd.DataFrame, title: str = "Logit lens") -> go.Figure:
    """Layer × position: colour = probability of the top lens token, text = that token."""
    top = table[table["rank"] == 0]
    layers = sorted(top["layer"].unique())
    positions = sorted(top["position"].unique())
    z = top.pivot(index="layer", columns="position", values="prob").reindex(index=layers, columns=positions)
    txt = top.pivot(index="layer", columns="position", values="prediction").reindex(index=layers, columns=positions)
    toks = top.drop_duplicates("position").set_index("position")["token"].reindex(positions)
    xlabels = [f"{p}:{html.escape(repr(tok), quote=False)}" for p, tok in toks.items()]
    cell = [[html.escape(repr(s)[1:-1][:10], quote=False) for s in row] for row in txt.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z.to_numpy(), x=xlabels, y=[str(L) for L in layers], text=cell,
                               texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                               colorbar=dict(title="p(top)"),
                               hovertemplate="layer %{y} · %{x}<br>top: %{text} (p=%{z:.3f})<extra></extra>"))
    fig.update_layout(title=html.escape(title, quote=False), template="plotly_white",
                      height=max(400, 22 * len(layers) + 120), xaxis=dict(side="top", tickangle=-45),
                      yaxis=dict(title="layer"))
    return fig
