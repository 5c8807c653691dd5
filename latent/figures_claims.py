"""One chart per seed-claim experiment (each takes the experiment's table)."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go

from latent.experiments import ExperimentResult


def _style(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", height=420, font=dict(size=14))
    return fig


def sparse_messages(r: ExperimentResult) -> go.Figure:
    fig = px.line(r.table, x="bytes", y="top1_agreement", color="basis", markers=True, log_x=True,
                  hover_data=["k", "kl"])
    fig.add_vline(x=r.numbers["mean_text_bytes"], line_dash="dash", annotation_text="UTF-8 bytes of the text")
    fig.add_hline(y=0.9, line_dash="dot", line_color="grey")
    fig.update_yaxes(title="top-1 agreement with the full state", range=[-0.02, 1.05])
    fig.update_xaxes(title="message size in bytes (k × (2-byte index + fp16 value))")
    return _style(fig, f"Fidelity against message size · layer {r.numbers['layer']}")


def economy(r: ExperimentResult) -> go.Figure:
    t = r.table
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t["layer"], y=t["active_fraction"], name="active fraction (|a| > τ·RMS)"))
    fig.add_trace(go.Scatter(x=t["layer"], y=t["neurons_needed"] / r.numbers["neurons_per_layer"], mode="lines+markers",
                             name="fraction of neurons that keep the top-1 prediction", yaxis="y"))
    fig.update_yaxes(title="fraction of the layer's MLP neurons", range=[0, 1])
    fig.update_xaxes(title="layer")
    return _style(fig, f"MLP activation economy · density–entropy Spearman r = {r.numbers['spearman_density_vs_entropy']:+.2f}")


def reuse(r: ExperimentResult) -> go.Figure:
    fig = px.line(r.table, x="history_tokens", y="gmacs", color="mode", markers=True, log_y=True,
                  hover_data=["seconds"])
    fig.update_xaxes(title="conversation history (tokens)")
    fig.update_yaxes(title=f"GMACs for {r.numbers['questions']} questions × {r.numbers['new_tokens']} tokens")
    return _style(fig, "Cost against conversation length (MACs; measured lengths are also timed)")


def sparse_matrix(r: ExperimentResult) -> go.Figure:
    fig = px.bar(r.table, x="k", y="mass", color="group", barmode="group", text_auto=".2f")
    fig.update_xaxes(title="top-k next tokens", type="category")
    fig.update_yaxes(title="probability mass", range=[0, 1.05])
    return _style(fig, f"How much of a row of the matrix the top-k tokens hold (vocabulary {r.numbers['vocab']:,})")


def reasoning(r: ExperimentResult) -> go.Figure:
    t = r.table
    fig = go.Figure()
    for _, row in t.iterrows():
        fig.add_trace(go.Scatter(x=[row["cos_without"], row["cos_with"]], y=[row["p_answer_without"], row["p_answer_with"]],
                                 mode="lines+markers", name=row["answer"].strip(), marker=dict(size=[8, 14]),
                                 line=dict(width=2)))
    fig.update_xaxes(title="cosine to the answer-position state when the answer is known")
    fig.update_yaxes(title="P(correct answer token)", type="log")
    return _style(fig, f"Without → with reasoning (big marker) · layer {r.numbers['layer']}")


FIGURES = {"sparse-messages": sparse_messages, "economy": economy, "reuse": reuse, "sparse-matrix": sparse_matrix,
           "reasoning": reasoning}


def figure(r: ExperimentResult) -> go.Figure:
    return FIGURES[r.name](r)
