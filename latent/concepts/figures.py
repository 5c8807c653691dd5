"""Figures and tables for the Concepts page: the activation density histogram, text shaded by a feature's
activation (a pandas Styler: the tokens stay plain text, only the cell colour carries the activation), and
the quality card as a table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from latent.chart_words import tr
from latent.style import base_layout

SHADE = (230, 120, 20)          # the colour of a fully active token


def density_figure(page, lang: str = "en") -> go.Figure:
    """The feature's activation histogram over the probe tokens where it fires (the tokens where it does not
    fire are counted in the title)."""
    edges = np.asarray(page.bins)
    mids = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=mids, y=page.counts[1:], width=np.diff(edges), marker_color="rgb(230,120,20)",
                           name=tr("tokens", lang), hovertemplate="%{x:.3g}: %{y}<extra></extra>"))
    title = tr("Feature {f}: fires on {fired} of {n} probe tokens ({share})", lang, f=page.feature, fired=f"{page.fired:,}",
               n=f"{page.tokens:,}", share=f"{page.density:.2%}")
    base_layout(fig, title)
    fig.update_layout(showlegend=False, bargap=0.02, height=380)
    fig.update_xaxes(title=tr("activation", lang), showticklabels=True)
    fig.update_yaxes(title=tr("tokens", lang), showticklabels=True)
    return fig


def _shown(t: str) -> str:
    return str(t).replace("\n", "⏎").replace("\t", "⇥")


def shaded(rows: list[list[tuple[str, float | None]]], top: float | None = None, index: list[str] | None = None):
    """A Styler: one row per text, one cell per token, each cell's background as strong as the token's
    activation (``top``: the activation of full colour; default the largest). Massive tokens (None) are grey.
    ``index``: the rows' names."""
    width = max((len(r) for r in rows), default=0)
    top = top or max((a for r in rows for _, a in r if a is not None), default=0.0) or 1.0
    toks = pd.DataFrame([[_shown(t) for t, _ in r] + [""] * (width - len(r)) for r in rows],
                        columns=[str(i) for i in range(width)], index=index)
    acts = [[a for _, a in r] + [0.0] * (width - len(r)) for r in rows]

    def css(_):
        out = []
        for r in acts:
            line = []
            for a in r:
                if a is None:
                    line.append("background-color: rgb(220,220,220); color: rgb(120,120,120)")
                else:
                    alpha = max(0.0, min(1.0, a / top))
                    line.append(f"background-color: rgba({SHADE[0]},{SHADE[1]},{SHADE[2]},{alpha:.3f})" if alpha > 0 else "")
            out.append(line)
        return pd.DataFrame(out, index=toks.index, columns=toks.columns)
    return toks.style.apply(css, axis=None)


def activation_table(rows: list[list[tuple[str, float | None]]]) -> pd.DataFrame:
    """The same as :func:`shaded`, as numbers: one line per (row, token, activation) for the CSV export."""
    return pd.DataFrame([{"row": i, "token": t, "activation": a} for i, r in enumerate(rows) for t, a in r])


CARD_FIGURES = ("l0", "fve", "loss_recovered_zero", "loss_recovered_mean", "kl", "dead", "dense")
CARD_NAMES = {"l0": "L0 (features active per token)", "fve": "FVE (share of variance kept)",
              "loss_recovered_zero": "loss recovered vs zero-ablation", "loss_recovered_mean": "loss recovered vs mean-ablation",
              "kl": "KL divergence when spliced in", "dead": "dead share (never fires)", "dense": "dense share (fires on > 10 %)"}


def card_table(card: dict) -> pd.DataFrame:
    """The quality card (its JSON) as a table: each figure, trained and random, with its interval and n."""
    def cell(f):
        return (None, None, None) if not f else (f.get("value"), f.get("ci"), f.get("n"))
    rows = []
    for k in CARD_FIGURES:
        tv, tci, tn = cell(card.get("trained", {}).get(k))
        rv, rci, _ = cell(card.get("random", {}).get(k))
        fmt = lambda ci: "" if not ci or None in ci else f"[{ci[0]:.4g}, {ci[1]:.4g}]"  # noqa: E731
        rows.append({"figure": CARD_NAMES.get(k, k), "trained": tv, "trained 95% interval": fmt(tci), "random": rv,
                     "random 95% interval": fmt(rci), "n": tn,
                     "interval": (card.get("trained", {}).get(k) or {}).get("interval", ""),
                     "means": card.get("definitions", {}).get(k, ""), "key": k})
    return pd.DataFrame(rows)


def features_figure(found, title: str, lang: str = "en") -> go.Figure:
    """The features beside a view as horizontal bars: one :class:`~latent.concepts.beside.TopFeatures` (a token,
    a text), or a dict of them (per sense: one bar group per sense, its n in the legend). ``title`` is already in
    ``lang`` (the caller fills the template with the token, word or layer)."""
    groups = found if isinstance(found, dict) else {None: found}
    fig = go.Figure()
    for name, tf in groups.items():
        value = tr("activation", lang) if tf.what == "token" else tr("mean activation", lang)
        fig.add_trace(go.Bar(
            y=[f"{tr('feature', lang)} {f}" for f, _, _ in tf.features], x=[v for _, v, _ in tf.features], orientation="h",
            name=tr("sense {sense} · n = {n} sentences", lang, sense=name, n=tf.n) if name is not None else value,
            customdata=[[k, tf.n] for _, _, k in tf.features],
            hovertemplate=f"%{{y}}: %{{x:.3g}} ({value}; n = %{{customdata[1]}})<extra></extra>"))
    base_layout(fig, title)
    fig.update_layout(showlegend=isinstance(found, dict), barmode="group", height=160 + 28 * max(
        (len(t.features) for t in groups.values()), default=1) * max(1, len(groups) // 2))
    fig.update_xaxes(title=tr("activation", lang) if not isinstance(found, dict) and found.what == "token"
                     else tr("mean activation", lang), showticklabels=True)
    fig.update_yaxes(autorange="reversed", showticklabels=True)
    return fig
