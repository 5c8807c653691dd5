"""Reuse vs recomputation: how much of a model's work re-derives what it already computed?

Claim (002, GPT): "Redundant recomputation … Meaning is rediscovered, not remembered."

Method: we generate after a conversation history of growing length three ways: recomputing every
position for every new token (no KV cache), with the KV cache, and with a persistent cache of the
shared history reused across several questions. We time each and count multiply-accumulates
(MACs: every Linear weight once per position, attention scores and mixing 2·layers·context·d, the
LM head once per generated token). Verdict from the share of KV-cache work that re-encodes the shared
history across questions (what a persistent cache saves): holds if ≥ 50 %, partly if ≥ 20 %.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from latent.claims import Claim, Experiment, ExperimentError, ExperimentResult, Param, verdict
from latent.style import claim_style

CLAIM = Claim("002_d580e8d855806c36.txt", "002", 5,
              "Redundant recomputation. The same semantic relationships are recalculated repeatedly across "
              "tokens, layers, and queries. Meaning is rediscovered, not remembered.")
QUESTIONS = ["\nFrank: So what is latent space?\nGPT:", "\nFrank: Why is matrix math expensive?\nGPT:"]
ANALYTIC_LENGTHS = (256, 512, 1024, 2048)  # MACs only (no timing) beyond the measured lengths


def linear_macs(lm) -> int:
    import torch

    from latent.core.hooks import decoder_layers

    return sum(m.weight.numel() for blk in decoder_layers(lm.model) for m in blk.modules()
               if isinstance(m, torch.nn.Linear))


def macs(lm, prompt_len: int, new: int, cached: bool, reused_prefix: int = 0) -> float:
    """Analytic MACs to generate ``new`` tokens after ``prompt_len`` (``reused_prefix`` of them cached)."""
    lin, L, d, V = linear_macs(lm), lm.n_layers, lm.d_model, lm.model.config.vocab_size
    head = d * V
    if not cached:
        return float(sum((prompt_len + i) * lin + L * d * (prompt_len + i) ** 2 + head for i in range(new)))
    fresh = prompt_len - reused_prefix
    prefill = fresh * lin + 2 * L * d * sum(reused_prefix + j + 1 for j in range(fresh)) + head
    steps = sum(lin + 2 * L * d * (prompt_len + i + 1) + head for i in range(new - 1))
    return float(prefill + steps)


def generate_nocache(lm, ids: list[int], new: int) -> list[int]:
    import torch

    x = torch.tensor([ids], device=lm.model.device)
    out = []
    with torch.inference_mode():
        for _ in range(new):
            nxt = lm.model(input_ids=x, use_cache=False, logits_to_keep=1).logits[0, -1].argmax()
            out.append(int(nxt))
            x = torch.cat([x, nxt.view(1, 1)], 1)
    return out


def generate_cached(lm, ids: list[int], new: int, prefix_cache=None, prefix_len: int = 0) -> list[int]:
    import torch

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
    from latent.core.corpus import load_corpus
    from latent.core.hidden import start_ids

    d = next(d for d in load_corpus() if d.id == "002")
    text = "\n".join(f"{t.speaker}: {t.text}" for t in d.turns)
    ids = lm.tokenizer(text, add_special_tokens=False).input_ids
    return start_ids(lm.tokenizer) + ids[: n_tokens - 1]


def run(lm, *, lengths=(32, 64, 128), new_tokens: int = 4, progress=None) -> ExperimentResult:
    import torch

    lengths = sorted({int(n) for n in (lengths or ())})
    if not lengths:
        raise ExperimentError("History lengths: choose at least one.")
    if lengths[0] < 8 or lengths[-1] > min(2048, lm.max_positions - 128):
        raise ExperimentError(f"History lengths must be 8-{min(2048, lm.max_positions - 128)} tokens.")
    if not 1 <= new_tokens <= 64:
        raise ExperimentError("new_tokens must be 1-64.")
    rows = []
    for i, n in enumerate(lengths):
        hist = history_ids(lm, n)
        qs = [lm.tokenizer(q, add_special_tokens=False).input_ids for q in QUESTIONS]
        t = time.perf_counter()
        a = [generate_nocache(lm, hist + q, new_tokens) for q in qs]
        t_nc = time.perf_counter() - t
        t = time.perf_counter()
        b = [generate_cached(lm, hist + q, new_tokens) for q in qs]
        t_kv = time.perf_counter() - t
        t = time.perf_counter()
        with torch.inference_mode():
            pre = lm.model.base_model(input_ids=torch.tensor([hist], device=lm.model.device), use_cache=True).past_key_values
        c = [generate_cached(lm, hist + q, new_tokens, pre, len(hist)) for q in qs]
        t_pc = time.perf_counter() - t
        same = all(x == y == z for x, y, z in zip(a, b, c))
        m_nc = sum(macs(lm, len(hist) + len(q), new_tokens, False) for q in qs)
        m_kv = sum(macs(lm, len(hist) + len(q), new_tokens, True) for q in qs)
        m_pc = len(hist) * linear_macs(lm) + sum(macs(lm, len(hist) + len(q), new_tokens, True, len(hist)) for q in qs)
        for mode, sec, m in (("no cache", t_nc, m_nc), ("KV cache", t_kv, m_kv), ("persistent prefix cache", t_pc, m_pc)):
            rows.append({"history_tokens": len(hist), "mode": mode, "seconds": sec, "gmacs": m / 1e9,
                         "same_tokens": same})
        if progress:
            progress(i + 1, len(lengths))
    qlen = [len(lm.tokenizer(q, add_special_tokens=False).input_ids) for q in QUESTIONS]
    for n in [x for x in ANALYTIC_LENGTHS if x > lengths[-1]]:
        m_nc = sum(macs(lm, n + q, new_tokens, False) for q in qlen)
        m_kv = sum(macs(lm, n + q, new_tokens, True) for q in qlen)
        m_pc = n * linear_macs(lm) + sum(macs(lm, n + q, new_tokens, True, n) for q in qlen)
        for mode, m in (("no cache", m_nc), ("KV cache", m_kv), ("persistent prefix cache", m_pc)):
            rows.append({"history_tokens": n, "mode": mode, "seconds": np.nan, "gmacs": m / 1e9, "same_tokens": True})
    t = pd.DataFrame(rows)
    last = t[t["history_tokens"] == lengths[-1]].set_index("mode")
    share = 1 - last.loc["persistent prefix cache", "gmacs"] / last.loc["KV cache", "gmacs"]
    numbers = {"questions": len(QUESTIONS), "new_tokens": new_tokens, "lengths": lengths,
               "longest_measured_history": int(last.index.size and lengths[-1]),
               "gmacs_at_longest": last["gmacs"].round(3).to_dict(), "seconds_at_longest": last["seconds"].round(3).to_dict(),
               "kv_cache_saving_vs_recompute": round(float(1 - last.loc["KV cache", "gmacs"] / last.loc["no cache", "gmacs"]), 4),
               "history_reencoding_share_of_kv_work": round(float(share), 4),
               "identical_tokens_all_modes": bool(t["same_tokens"].all())}
    v = verdict(float(share), holds=0.5, partly=0.2)
    method = ("We generate the same answers after a growing conversation history with no cache, with a KV cache, and "
              "with a persistent cache of the history reused across questions, timing each and counting MACs. "
              "Verdict: the share of KV-cache work spent re-encoding the shared history; holds if ≥ 50 %, partly if ≥ 20 %.")
    return ExperimentResult("reuse", CLAIM, v, numbers, method, t, {"lengths": lengths, "new_tokens": new_tokens})


def figure(r: ExperimentResult) -> go.Figure:
    fig = px.line(r.table, x="history_tokens", y="gmacs", color="mode", markers=True, log_y=True,
                  hover_data=["seconds"])
    fig.update_xaxes(title="conversation history (tokens)")
    fig.update_yaxes(title=f"GMACs for {r.numbers['questions']} questions × {r.numbers['new_tokens']} tokens")
    return claim_style(fig, "Cost against conversation length (MACs; measured lengths are also timed)")


EXPERIMENT = Experiment("reuse", "Reuse vs recomputation", CLAIM, run, figure, (
        Param("lengths", "History lengths (tokens)", "choices", (32, 64, 128), lo=8, hi=2048,
              options=(16, 32, 64, 128, 256, 512), help="comma-separated token counts"),), order=3)
