"""Reuse vs recomputation: what a KV cache and a persistent prefix cache do and do not save.

Claim (002, GPT): "Redundant recomputation … Meaning is rediscovered, not remembered."

Method: after a conversation history of H tokens we answer Q questions three ways: recomputing
every position for every new token (no cache), with a per-question KV cache (the history is
re-encoded for each question), and with one persistent cache of the history shared by all
questions. All three must produce the same tokens (checked). The cost model counts
multiply-accumulates per layer: every Linear weight once per token, and attention
``2·d·(keys)`` per token (scores and mixing), including the history's attention to itself; the LM
head once per predicted token. The saving of a persistent cache is ``(Q−1)`` history encodings:
it follows from H and Q alone, so it is shown as a worked calculation, not a verdict. Wall time
is measured beside it (repeated, alternating modes) and drawn with different markers.

Example::

    >>> round(saving_fraction(encode=10.0, per_question=25.0, questions=1), 6)
    0.0
"""
from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import Evidence, arithmetic
from latent.claims.framework import Claim, Experiment, ExperimentError, ExperimentResult, Param
from latent.core.corpus import load_corpus
from latent.core.hidden import start_ids
from latent.core.hooks import decoder_layers
from latent.core.stats import bootstrap_ci
from latent.style import claim_style

CLAIM = Claim("002_d580e8d855806c36.txt", "002", 5,
              "Redundant recomputation. The same semantic relationships are recalculated repeatedly across "
              "tokens, layers, and queries. Meaning is rediscovered, not remembered.")
QUESTIONS = ["\nFrank: So what is latent space?\nGPT:", "\nFrank: Why is matrix math expensive?\nGPT:",
             "\nFrank: What is a sparse vector?\nGPT:", "\nFrank: Can two models share a language?\nGPT:",
             "\nFrank: What does a layer do?\nGPT:", "\nFrank: Why do answers change with context?\nGPT:",
             "\nFrank: What is attention?\nGPT:", "\nFrank: Is a token a word?\nGPT:"]
MODES = ("no cache", "KV cache per question", "persistent history cache")


def linear_macs(lm) -> int:
    """MACs of every Linear weight in the decoder blocks, per token."""

    return sum(m.weight.numel() for blk in decoder_layers(lm.model) for m in blk.modules()
               if isinstance(m, torch.nn.Linear))


def encode_macs(lm, n: int, start: int = 0) -> float:
    """MACs to run ``n`` new tokens whose positions start at ``start`` (the first ``start`` are cached):
    Linear weights once per token, attention ``2·L·d·(keys)`` per token (causal, so token j sees start+j+1)."""
    L, d = lm.n_layers, lm.d_model
    keys = n * start + n * (n + 1) / 2
    return float(n * linear_macs(lm) + 2 * L * d * keys)


def question_macs(lm, H: int, q: int, new: int, mode: str) -> float:
    """Analytic MACs for one question of ``q`` tokens after ``H`` history tokens, ``new`` answer tokens."""
    head = lm.d_model * lm.model.config.vocab_size
    if mode == "no cache":   # every step recomputes the whole sequence
        return sum(encode_macs(lm, H + q + i) + head for i in range(new))
    steps = sum(encode_macs(lm, 1, H + q + i) + head for i in range(new - 1))
    if mode == "KV cache per question":
        return encode_macs(lm, H + q) + head + steps
    return encode_macs(lm, q, H) + head + steps      # the history was encoded once, outside


def saving_fraction(encode: float, per_question: float, questions: int) -> float:
    """Share of Q per-question KV costs a persistent cache saves: (Q-1)·encode / (Q·per_question)."""
    return (questions - 1) * encode / (questions * per_question)


def generate_nocache(lm, ids: list[int], new: int) -> list[int]:
    x = torch.tensor([ids], device=lm.model.device)
    out = []
    with torch.inference_mode():
        for _ in range(new):
            nxt = lm.model(input_ids=x, use_cache=False, logits_to_keep=1).logits[0, -1].argmax()
            out.append(int(nxt))
            x = torch.cat([x, nxt.view(1, 1)], 1)
    return out


def generate_cached(lm, ids: list[int], new: int, prefix_cache=None, prefix_len: int = 0) -> list[int]:
    dev = lm.model.device
    cache = copy.deepcopy(prefix_cache) if prefix_cache is not None else None
    x = torch.tensor([ids[prefix_len:]], device=dev)
    pos = torch.arange(prefix_len, len(ids), device=dev)[None]
    out = []
    with torch.inference_mode():
        for _ in range(new):
            r = lm.model(input_ids=x, past_key_values=cache, position_ids=pos, use_cache=True, logits_to_keep=1)
            cache = r.past_key_values
            nxt = r.logits[0, -1].argmax()
            out.append(int(nxt))
            x, pos = nxt.view(1, 1), pos[:, -1:] + 1
    return out


def history_ids(lm, n_tokens: int) -> list[int]:
    d = next(d for d in load_corpus() if d.id == "002")
    text = "\n".join(f"{t.speaker}: {t.text}" for t in d.turns)
    ids = lm.tokenizer(text, add_special_tokens=False).input_ids
    return start_ids(lm.tokenizer) + ids[: n_tokens - 1]


def _answer_all(lm, mode: str, hist: list[int], qs: list[list[int]], new: int):
    if mode == "no cache":
        return [generate_nocache(lm, hist + q, new) for q in qs]
    if mode == "KV cache per question":
        return [generate_cached(lm, hist + q, new) for q in qs]
    with torch.inference_mode():
        pre = lm.model.base_model(input_ids=torch.tensor([hist], device=lm.model.device), use_cache=True).past_key_values
    return [generate_cached(lm, hist + q, new, pre, len(hist)) for q in qs]


def run(lm, *, lengths=(32, 96, 192), questions: int = 4, new_tokens: int = 4, repeats: int = 2, seed: int = 0,
        progress=None) -> ExperimentResult:
    lengths = sorted({int(n) for n in (lengths or ())})
    top = min(2048, lm.max_positions - 128)
    if not lengths:
        raise ExperimentError("History lengths: choose at least one.")
    if lengths[0] < 8 or lengths[-1] > top:
        raise ExperimentError(f"History lengths must be 8-{top} tokens.")
    if not 1 <= int(questions) <= len(QUESTIONS):
        raise ExperimentError(f"questions must be 1-{len(QUESTIONS)}.")
    if not 1 <= new_tokens <= 64:
        raise ExperimentError("new_tokens must be 1-64.")
    questions = int(questions)
    qs = [lm.tokenizer(q, add_special_tokens=False).input_ids for q in QUESTIONS[:questions]]
    rows, same, steps = [], True, len(lengths) * repeats
    for i, n in enumerate(lengths):
        hist = history_ids(lm, n)
        H = len(hist)
        analytic = {m: sum(question_macs(lm, H, len(q), new_tokens, m) for q in qs) for m in MODES}
        analytic[MODES[2]] += encode_macs(lm, H)          # the one history encoding, attention included
        secs = {m: [] for m in MODES}
        for r in range(repeats):                         # alternate the modes so drift hits all alike
            outs = {}
            order = MODES if r == 0 else (MODES[1:] if r % 2 else MODES[:0:-1])  # no cache: timed once (slow)
            for m in order:
                t = time.perf_counter()
                outs[m] = _answer_all(lm, m, hist, qs, new_tokens)
                secs[m].append(time.perf_counter() - t)
            same &= outs[MODES[1]] == outs[MODES[2]] and outs.get(MODES[0], outs[MODES[1]]) == outs[MODES[1]]
            if progress:
                progress(i * repeats + r + 1, steps)
        for m in MODES:
            rows.append({"history_tokens": H, "mode": m, "gmacs": analytic[m] / 1e9,
                         "seconds_median": float(np.median(secs[m])), "seconds": secs[m]})
    t = pd.DataFrame(rows)
    H = int(t["history_tokens"].max())
    last = t[t["history_tokens"] == H].set_index("mode")
    per_q = last.loc[MODES[1], "gmacs"] * 1e9 / questions
    enc = encode_macs(lm, H)
    share = saving_fraction(enc, per_q, questions)
    kv_vs_none = 1 - last.loc[MODES[1], "gmacs"] / last.loc[MODES[0], "gmacs"]
    measured = [1 - a / b for a, b in zip(last.loc[MODES[2], "seconds"], last.loc[MODES[1], "seconds"])]
    worked = (f"history H = {H} tokens, Q = {questions} question(s): encoding the history once costs "
              f"{enc / 1e9:.3f} GMACs (Linear weights and the history's own attention); one question with a "
              f"KV cache costs {per_q / 1e9:.3f} GMACs. A persistent cache skips Q-1 = {questions - 1} of the Q "
              f"history encodings: ({questions - 1} × {enc / 1e9:.3f}) / ({questions} × {per_q / 1e9:.3f}) = "
              f"{share:.1%} of the KV-cache work. This follows from H and Q alone; with one question it is 0.")
    finding = arithmetic("share of KV-cache work a persistent history cache saves (analytic)", share, worked)
    ev = Evidence(
        tested=("What caching saves when several questions follow one conversation: a KV cache already stops "
                "recomputing earlier tokens within an answer (measured here: the same tokens, "
                f"{kv_vs_none:.0%} fewer MACs than no cache at H = {H}); a persistent history cache also skips "
                "re-encoding the history for every question. Both savings are arithmetic from H and Q; the "
                "measured wall time is shown beside them and only checks that the arithmetic shows up on this CPU."),
        not_tested=("Whether 'meaning is rediscovered, not remembered' in the seed's sense: that semantic "
                    "relationships are recomputed across layers or queries in a way a store of meanings could "
                    "reuse. A KV cache keeps per-token keys and values, not meanings, and no experiment here "
                    "caches meanings across different texts, so that part of the claim is not tested."),
        finding=finding)
    numbers = {"questions": questions, "new_tokens": new_tokens, "history_tokens": [int(x) for x in sorted(set(t["history_tokens"]))],
               "gmacs_at_longest": {m: round(float(last.loc[m, "gmacs"]), 4) for m in MODES},
               "history_encoding_gmacs": round(enc / 1e9, 4), "kv_question_gmacs": round(per_q / 1e9, 4),
               "kv_cache_saving_vs_recompute": round(float(kv_vs_none), 4),
               "persistent_cache_saving_analytic": round(float(share), 4),
               "identical_tokens_all_modes": bool(same)}
    lo, hi = bootstrap_ci(measured, seed=seed) if len(measured) > 1 else (measured[0], measured[0])
    timing = {"persistent_vs_kv_measured_saving": round(float(np.median(measured)), 4),
              "interval_over_repeats": [round(lo, 4), round(hi, 4)], "repeats": repeats,
              "seconds_median_at_longest": {m: round(float(last.loc[m, "seconds_median"]), 4) for m in MODES}}
    method = ("The same answers are generated after a growing conversation history with no cache, with a KV cache "
              "per question, and with one persistent history cache, timing each (repeated, modes alternated) and "
              "counting MACs with the history's attention included. The saving is a worked calculation, not a verdict.")
    table = t.drop(columns=["seconds"])
    r = ExperimentResult("reuse", CLAIM, ev, numbers, method, table,
                         {"lengths": lengths, "questions": questions, "new_tokens": new_tokens})
    r.timing = timing
    return r


CAPTION = ('A point is one history length (x, tokens) in one caching mode (colour); left y is the computed cost in multiply-adds (open'
           ' markers: arithmetic, not measured), right y the measured median wall time on this CPU.')


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    t = r.table
    fig = make_subplots(1, 2, subplot_titles=(tr("computed cost (MACs)", lang), tr("measured wall time (this CPU)", lang)))
    colors = dict(zip(MODES, ("#7f7f7f", "#1f77b4", "#2ca02c")))
    for m in MODES:
        g = t[t["mode"] == m]
        fig.add_trace(go.Scatter(x=g["history_tokens"], y=g["gmacs"], name=f"{tr(m, lang)} · {tr('analytic', lang)}", mode="lines+markers",
                                 line=dict(dash="dot", color=colors[m]), marker=dict(symbol="circle-open", size=10)), 1, 1)
        fig.add_trace(go.Scatter(x=g["history_tokens"], y=g["seconds_median"], name=f"{tr(m, lang)} · {tr('measured', lang)}",
                                 mode="lines+markers", line=dict(color=colors[m]), marker=dict(symbol="square", size=9)), 1, 2)
    fig.update_xaxes(title=tr("conversation history (tokens)", lang), type="log")
    fig.update_yaxes(title=tr("GMACs, {q} question(s) × {k} tokens", lang, q=r.numbers["questions"], k=r.numbers["new_tokens"]),
                     type="log", row=1, col=1)
    fig.update_yaxes(title=tr("seconds (median of repeats)", lang), type="log", row=1, col=2)
    return claim_style(fig, tr("Caching: computed cost (open markers) and measured time (filled) · Q = {q}", lang,
                               q=r.numbers["questions"]))


EXPERIMENT = Experiment("reuse", "Reuse vs recomputation", CLAIM, run, figure, (
        Param("lengths", "History lengths (tokens)", "choices", (32, 96, 192), lo=8, hi=2048,
              options=(16, 32, 64, 96, 128, 192, 256, 512, 1024), help="comma-separated token counts"),
        Param("questions", "Questions after the history", "int", 4, lo=1, hi=len(QUESTIONS), step=1,
              help="a whole number")), order=6, caption=CAPTION)
