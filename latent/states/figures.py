"""Figures for the hidden-state explorer: the layer-animated token map and the logit-lens heatmap."""
from __future__ import annotations

import html
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from latent.chart_words import tr
from latent.style import PALETTE, base_layout, hover

COLOR_BY = ("prompt", "token", "position", "layer")
MASSIVE_NAME = "massive token (norm > {m:g}× its layer's median)"   # the legend entry of the ring around such points
MAX_ANIMATED = 20_000  # above this many points, frames (▶ play) are left out to keep redraws fast


_DISCRETE = [[v, c] for i, c in enumerate(PALETTE) for v in (i / len(PALETTE), (i + 1) / len(PALETTE))]


def _colors(t: pd.DataFrame, by: str):
    """Numeric colour values + colourscale (numeric arrays validate ~100x faster than colour strings)."""
    if by == "prompt":
        return (t["text_index"].to_numpy() % len(PALETTE)) + 0.5, _DISCRETE
    if by == "token":
        return np.array([zlib.crc32(tok.encode()) % len(PALETTE) for tok in t["token"]]) + 0.5, _DISCRETE
    return t["token_index" if by == "position" else "layer"].to_numpy(), "Viridis"


def c_col(by: str) -> str:
    return "token_index" if by == "position" else "layer"


def _hover(t: pd.DataFrame, prompts: list[str], lang: str = "en") -> np.ndarray:
    """Escaped hover labels, built once per table (prompt snippets escaped once per prompt)."""
    src = {i: hover(tr("prompt {i}: {what}", lang, i=i, what=p[:60]), 60) for i, p in enumerate(prompts)}
    toks = {tok: html.escape(repr(tok), quote=False) for tok in t["token"].unique()}
    position, placed_text = tr("position", lang), tr("placed text (not fitted)", lang)
    return np.array([f"<b>{toks[tok]}</b> · {position} {pos}<br>"
                     f"{placed_text if placed else src.get(ti, '')}"
                     for tok, pos, placed, ti in zip(t["token"], t["token_index"], t["placed"], t["text_index"])],
                    dtype=object)


def token_map_figure(t: pd.DataFrame, prompts: list[str], *, layer: int | None, color: str = "prompt",
                     dims: int = 2, title: str = "Token map", axis_titles=("", ""), note: str = "",
                     animate: bool = True, massive_multiple: float | None = None, lang: str = "en") -> go.Figure:
    """Token points; ``layer=None`` shows every layer at once, else one layer (with plotly's own
    layer slider and play button when ``animate``; the app passes ``animate=False`` and drives the
    layer from its one slider, so screen, slider and exports always agree).

    Paths join each token's positions across the chosen layers. Frames (one per layer) only
    change which layer's points are shown: the coordinates never move between frames. Points whose
    ``massive`` column is true get a black ring (a trace of its own, with a legend entry naming the rule's
    ``massive_multiple``); leave them out of ``t`` to hide them.
    """
    if color not in COLOR_BY:
        raise ValueError(f"Unknown colour {color!r}. Must be one of: {', '.join(COLOR_BY)}")
    axes = ["x", "y", "z"][:dims]
    scat = go.Scatter3d if dims == 3 else go.Scattergl
    kind = "scatter3d" if dims == 3 else "scattergl"
    layers = sorted(t["layer"].unique().tolist())
    labels = pd.Series(_hover(t, prompts, lang), index=t.index)
    fig = go.Figure()
    # paths: one trace, each token's layers in order, tokens separated by NaN gaps (vectorised)
    p = t[~t["placed"]].sort_values(["text_index", "token_index", "layer"])
    key = p["text_index"].to_numpy() * 1_000_000 + p["token_index"].to_numpy()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])[1:]
    path = {a: np.insert(p[a].to_numpy(dtype=float), starts, np.nan) for a in axes}
    fig.add_trace(scat(**path, mode="lines", hoverinfo="skip", name=tr("paths across layers", lang),
                       line=dict(color="rgba(120,120,120,0.25)", width=1), connectgaps=False))

    def marker(sub: pd.DataFrame, placed: bool) -> dict:
        c, scale = _colors(sub, color)
        m = dict(size=5 if dims == 3 else 9, color=c, colorscale=scale, line=dict(width=0.5, color="white"),
                 symbol="diamond" if placed else "circle")
        if scale is _DISCRETE:
            m.update(cmin=0, cmax=len(PALETTE))
        else:
            m.update(showscale=not placed, colorbar=dict(title=color, thickness=12),
                     cmin=float(t[c_col(color)].min()), cmax=float(t[c_col(color)].max()))
        return m

    def points(sub: pd.DataFrame, placed: bool):
        return scat(**{a: sub[a] for a in axes}, mode="markers", marker=marker(sub, placed),
                    name=tr("placed, not fitted" if placed else "tokens", lang), text=labels[sub.index],
                    showlegend=placed or color != "prompt",
                    hovertemplate="%{text}<extra></extra>", customdata=sub.index.to_numpy())

    is_massive = t["massive"].to_numpy(bool) if "massive" in t else np.zeros(len(t), bool)
    massive_name = tr(MASSIVE_NAME, lang, m=massive_multiple) if massive_multiple else tr("massive token", lang)

    def ring(sub: pd.DataFrame):
        """The massive points of ``sub``, drawn again as open black rings over their coloured points."""
        m = sub[is_massive[t.index.get_indexer(sub.index)]] if len(sub) else sub
        return scat(**{a: m[a] for a in axes}, mode="markers", name=massive_name, showlegend=bool(is_massive.any()),
                    marker=dict(size=9 if dims == 3 else 15, symbol="circle-open", color="black", line=dict(width=2)),
                    text=labels[m.index] + " · " + tr("massive token", lang), hovertemplate="%{text}<extra></extra>",
                    customdata=m.index.to_numpy())

    def at(layer_):
        sub = t if layer_ is None else t[t["layer"] == layer_]
        return [points(sub[~sub["placed"]], False), points(sub[sub["placed"]], True), ring(sub)]

    for trace in at(layer):
        fig.add_trace(trace)
    if color == "prompt":  # a colour key: one legend entry per prompt (the palette has 20 colours)
        for i, ptxt in enumerate(prompts[: len(PALETTE)]):
            fig.add_trace(scat(**{a: [None] for a in axes}, mode="markers", name=hover(f"{i}: {ptxt[:40]}", 60),
                               marker=dict(size=9, color=PALETTE[i % len(PALETTE)]), hoverinfo="skip"))
    animate = animate and layer is not None and len(layers) > 1 and len(t) <= MAX_ANIMATED
    if animate:
        _animate_layers(fig, t, layers, layer, kind, axes, dims, marker, ring)
    # one fixed frame of reference for every layer
    for a in axes[:2] if dims == 2 else []:
        lo, hi = float(np.nanmin(t[a])), float(np.nanmax(t[a]))
        pad = 0.05 * (hi - lo or 1)
        fig.update_layout(**{f"{a}axis": dict(range=[lo - pad, hi + pad])})
    if note:
        title = f"{title}<br><sup>{html.escape(note, quote=False)}</sup>"
    base_layout(fig, "", dims)
    if layer is not None and not animate:
        title = tr("{title} · layer {layer}", lang, title=title, layer=layer)
    fig.update_layout(title=dict(text=title), showlegend=True)
    if dims == 2 and any(axis_titles):
        fig.update_xaxes(title=html.escape(axis_titles[0], quote=False), showticklabels=True)
        fig.update_yaxes(title=html.escape(axis_titles[1], quote=False), showticklabels=True)
    return fig


def _animate_layers(fig, t, layers, layer, kind, axes, dims, marker, ring) -> None:
    """Plotly's own layer slider and play button: one frame per layer."""
    # every layer lists its points in the same (prompt, token) order, so a frame only needs
    # new coordinates; labels and colours stay those of the first draw (fast to build and send)
    def moved(L):
        sub = t[t["layer"] == L]
        out = []
        for g, placed in ((sub[~sub["placed"]], False), (sub[sub["placed"]], True)):
            # colours must travel with the frame (plotly resets a gl marker otherwise); labels
            # are the same for every layer and stay those of the first draw
            out.append(dict(type=kind, marker=marker(g, placed), customdata=g.index.to_numpy(),
                            **{a: g[a].to_numpy() for a in axes}))
        r = ring(sub)
        out.append(dict(type=kind, customdata=r.customdata, text=r.text, **{a: getattr(r, a) for a in axes}))
        return out
    fig.frames = [go.Frame(name=str(L), data=moved(L), traces=[1, 2, 3]) for L in layers]
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


def lens_heatmap(table: pd.DataFrame, title: str = "Logit lens", value: str = "prob", lang: str = "en") -> go.Figure:
    """Layer × position: colour = probability of the top lens token (``value="prob"``) or the rank of
    the final layer's prediction (``value="final_rank"``, log colour scale); text = the top token."""
    top = table[table["rank"] == 0]
    layers = sorted(top["layer"].unique())
    positions = sorted(top["position"].unique())
    z = top.pivot(index="layer", columns="position", values=value).reindex(index=layers, columns=positions)
    if value == "final_rank":
        z = np.log10(z + 1)
    txt = top.pivot(index="layer", columns="position", values="prediction").reindex(index=layers, columns=positions)
    toks = top.drop_duplicates("position").set_index("position")["token"].reindex(positions)
    xlabels = [f"{p}:{html.escape(repr(tok)[:10], quote=False)}" for p, tok in toks.items()]  # no overprint
    cell = [[html.escape(repr(s)[1:-1][:10], quote=False) for s in row] for row in txt.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z.to_numpy(), x=xlabels, y=[str(L) for L in layers], text=cell,
                               texttemplate="%{text}", colorscale="Blues" if value == "prob" else "Blues_r",
                               zmin=0, zmax=1 if value == "prob" else 5, textfont=dict(size=13),
                               colorbar=dict(title="p(top)" if value == "prob" else
                                             "log10(rank+1)<br>" + tr("of final token", lang)),
                               hovertemplate=f"{tr('layer', lang)} %{{y}} · %{{x}}<br>{tr('top', lang)}: %{{text}} "
                                             f"(%{{z:.3f}})<extra></extra>"))
    fig.update_layout(title=html.escape(title, quote=False), template="plotly_white",
                      height=max(400, 22 * len(layers) + 120), xaxis=dict(side="top", tickangle=-45),
                      yaxis=dict(title=tr("layer", lang)))
    return fig
