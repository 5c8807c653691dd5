"""Reasoning as steering: does an intermediate reasoning text move the answer-position state
toward the correct answer?

Claim (001, suprjami): "'reasoning' … is just trying to steer the conversation in a more relevant
direction in vector space, hopefully to generate more relevant output tokens."

Method: for each question we take the state at the answer position (last token of "… Answer:") at a
layer with and without a reasoning text in between, and the state at the same position when the
prompt states the correct answer as a hint (the "state of the correct answer"). We measure the cosine to that answer state and the probability of the answer
token, and whether the top-1 prediction changes. Verdict: the share of questions whose state moves
toward the answer and whose answer probability rises; holds if ≥ 75 %, partly if ≥ 50 %.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from latent.claims import Claim, Experiment, ExperimentResult, Param, check_layer, verdict
from latent.style import claim_style

CLAIM = Claim("001_e3950b15718955f5.txt", "001", 1,
              "It's just trying to steer the conversation in a more relevant direction in vector space, hopefully "
              "to generate more relevant output tokens.")
QUESTIONS = [
    ("Which insect makes honey?", "Honey is made from nectar inside a hive by a flying insect with a stinger.", " bee"),
    ("What is the capital of France?", "France is a country in Europe; its largest city and seat of government is on the Seine.", " Paris"),
    ("What color is the sky on a clear day?", "Sunlight scatters in the air, and short wavelengths scatter most.", " blue"),
    ("What do cows drink?", "Cows are mammals; like all animals they need plain water every day.", " water"),
    ("Which planet is known as the red planet?", "It is the fourth planet from the sun, with rusty iron oxide dust.", " Mars"),
    ("What is frozen water called?", "When water cools below zero degrees Celsius it becomes solid.", " ice"),
    ("What animal says meow?", "It is a small furry pet that purrs and chases mice.", " cat"),
    ("How many legs does a spider have?", "Insects have six legs, but spiders are arachnids with two more than that.", " eight"),
]


def _answer_states(lm, layer: int, with_reasoning: bool):
    from latent.core.hidden import hidden_states
    from latent.core.lens import lens_probs

    texts, answers = [], []
    for q, r, a in QUESTIONS:
        texts.append(f"Question: {q}\n" + (f"Reasoning: {r}\n" if with_reasoning else "") + "Answer:")
        answers.append(a)
    res = hidden_states(lm, texts, layers=sorted({layer, lm.n_layers}))
    h = np.stack([x.at(layer)[-1] for x in res])
    probs = lens_probs(lm, np.stack([x.at(lm.n_layers)[-1] for x in res]))
    return texts, h, probs


def run(lm, *, layer: int | None = None, progress=None) -> ExperimentResult:
    from latent.core.hidden import hidden_states

    layer = check_layer(lm, lm.depth(0.67) if layer is None else layer)
    tok = lm.tokenizer
    ans_ids = [tok(a, add_special_tokens=False).input_ids[0] for _, _, a in QUESTIONS]
    _, h0, p0 = _answer_states(lm, layer, False)
    _, h1, p1 = _answer_states(lm, layer, True)
    # the answer state: the answer position when the model has been told the answer (an oracle hint)
    done = [f"Question: {q}\nHint: the answer is{a}.\nAnswer:" for q, _, a in QUESTIONS]
    target = np.stack([x.at(layer)[-1] for x in hidden_states(lm, done, layers=[layer])])
    if progress:
        progress(1, 1)

    def cos(a, b):
        return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))

    c0, c1 = cos(h0, target), cos(h1, target)
    pa0, pa1 = p0[np.arange(len(QUESTIONS)), ans_ids], p1[np.arange(len(QUESTIONS)), ans_ids]
    top0 = [tok.decode([int(i)]) for i in p0.argmax(-1)]
    top1 = [tok.decode([int(i)]) for i in p1.argmax(-1)]
    table = pd.DataFrame({"question": [q for q, _, _ in QUESTIONS], "answer": [a for _, _, a in QUESTIONS],
                          "cos_without": c0, "cos_with": c1, "p_answer_without": pa0, "p_answer_with": pa1,
                          "top1_without": top0, "top1_with": top1,
                          "dist_without": np.linalg.norm(h0 - target, axis=1),
                          "dist_with": np.linalg.norm(h1 - target, axis=1)})
    moved = (c1 > c0) & (pa1 > pa0)
    share = float(moved.mean())
    numbers = {"layer": layer, "questions": len(QUESTIONS), "share_moved_toward_answer": round(share, 4),
               "mean_cos_gain": round(float((c1 - c0).mean()), 4), "mean_p_answer_without": round(float(pa0.mean()), 4),
               "mean_p_answer_with": round(float(pa1.mean()), 4),
               "top1_changed": int(sum(a != b for a, b in zip(top0, top1))),
               "top1_correct_without": int(sum(t.strip() == a.strip() for t, (_, _, a) in zip(top0, QUESTIONS))),
               "top1_correct_with": int(sum(t.strip() == a.strip() for t, (_, _, a) in zip(top1, QUESTIONS)))}
    v = verdict(share, holds=0.75, partly=0.5)
    method = ("For each question we compare the answer-position state with and without a reasoning text against the "
              "answer-position state when the prompt states the answer (cosine), and the answer's probability. "
              "Verdict: share of questions that move toward the answer on both; holds if ≥ 75 %, partly if ≥ 50 %.")
    return ExperimentResult("reasoning", CLAIM, v, numbers, method, table, {"layer": layer})


def figure(r: ExperimentResult) -> go.Figure:
    t = r.table
    fig = go.Figure()
    for _, row in t.iterrows():
        fig.add_trace(go.Scatter(x=[row["cos_without"], row["cos_with"]], y=[row["p_answer_without"], row["p_answer_with"]],
                                 mode="lines+markers", name=row["answer"].strip(), marker=dict(size=[8, 14]),
                                 line=dict(width=2)))
    fig.update_xaxes(title="cosine to the answer-position state when the answer is known")
    fig.update_yaxes(title="P(correct answer token)", type="log")
    return claim_style(fig, f"Without → with reasoning (big marker) · layer {r.numbers['layer']}")


EXPERIMENT = Experiment("reasoning", "Reasoning as steering", CLAIM, run, figure, (
        Param("layer", "Layer", "layer", 0.67, lo=0, help="a layer number"),), order=5)
