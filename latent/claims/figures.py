"""The evidence chart shared by every experiment: each finding's effect and 95 % interval drawn
beside the null it is judged against (and, where there is one, the null distribution's 95 % range).

Example::

    >>> from latent.claims.evidence import Evidence, paired_finding
    >>> ev = Evidence("t", "n", paired_finding("x", [0.2, 0.3, 0.25, 0.1]))
    >>> len(evidence_figure(ev).data)          # the interval, the null value, the null's spread
    3
"""
from __future__ import annotations

import textwrap

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import ABOVE_FLOOR, ARITHMETIC, INCONCLUSIVE, NOT_ABOVE_FLOOR, NOT_SUPPORTED, SUPPORTED, Evidence
from latent.style import hover

VERDICT_COLOR = {SUPPORTED: "#2ca02c", NOT_SUPPORTED: "#d62728", INCONCLUSIVE: "#ff7f0e", ARITHMETIC: "#7f7f7f",
                 ABOVE_FLOOR: "#7f7f7f", NOT_ABOVE_FLOOR: "#7f7f7f"}     # a floor check is no verdict on the claim


FINDINGS = "Findings: effect and 95 % interval (dot, bar) against the null (grey)"


def evidence_figure(ev: Evidence, title: str = FINDINGS, lang: str = "en"):
    fs = [ev.finding] + list(ev.more)
    titles = ["<br>".join(hover(line, 200) for line in textwrap.wrap(f"{f.measure} — {f.verdict}", 110)) for f in fs]
    fig = make_subplots(len(fs), 1, subplot_titles=titles, vertical_spacing=min(0.5 / len(fs), 0.12))
    for i, f in enumerate(fs, start=1):
        color = VERDICT_COLOR.get(f.verdict, "#1f77b4")
        if f.spread is not None:
            fig.add_trace(go.Scatter(x=list(f.spread), y=[0, 0], mode="lines", line=dict(color="rgba(127,127,127,0.45)", width=14),
                                     name=tr("null distribution (95 %)", lang), showlegend=i == 1, hoverinfo="x"), i, 1)
        lo, hi = f.null_band
        if hi > lo:
            fig.add_trace(go.Scatter(x=[lo, hi], y=[0, 0], mode="lines", line=dict(color="rgba(90,90,90,0.7)", width=8),
                                     name=tr("null / control band (judged)", lang), showlegend=i == 1, hoverinfo="x"), i, 1)
        else:
            fig.add_trace(go.Scatter(x=[lo], y=[0], mode="markers", marker=dict(symbol="line-ns", size=26,
                                                                                line=dict(width=3, color="black")),
                                     name=tr("null value (judged)", lang), showlegend=i == 1, hoverinfo="x"), i, 1)
        fig.add_trace(go.Scatter(x=[f.effect], y=[0], mode="markers", marker=dict(size=13, color=color),
                                 error_x=dict(type="data", array=[f.ci[1] - f.effect], arrayminus=[f.effect - f.ci[0]],
                                              thickness=3, width=8, color=color),
                                 name=tr("effect (n = {n})", lang, n=f.n), showlegend=False,
                                 hovertemplate=f"{tr('effect', lang)} %{{x:.4g}}<br>95 % [{f.ci[0]:.4g}, {f.ci[1]:.4g}]<br>"
                                               f"n = {f.n}<extra></extra>"),
                      i, 1)
        if f.target is not None:
            fig.add_trace(go.Scatter(x=[f.target], y=[0], mode="markers", marker=dict(symbol="star", size=14, color="black"),
                                     name=tr("target (the claim's own size)", lang), showlegend=True, hoverinfo="x"), i, 1)
        fig.update_yaxes(visible=False, range=[-1, 1], row=i, col=1)
    fig.update_annotations(font_size=12, align="left")
    fig.update_layout(title=tr(title, lang), template="plotly_white", height=110 + 120 * len(fs), font=dict(size=13),
                      margin=dict(l=10, r=10, t=90, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0 + 40 / (110 + 120 * len(fs)), x=0))
    return fig
