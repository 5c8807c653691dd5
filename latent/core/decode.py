"""One batched decode of steering rows, used by every path: a sweep run here, the app's scheduler and
a remote worker all call :func:`decode_rows`.

Each row keeps its own prompt, seed and added vector (a hook plan adds row ``r``'s vector to row
``r`` only; a zero vector adds exactly nothing). Rows equal in prompt, seed, layer and vector decode
once, across requests. With ``typicality`` set, each row's text is scored under the unsteered model
(the mean log-prob of its tokens), in batches, always in the same way: from the steering layer up, on
the raw residual the decode kept there, since nothing below that layer changes with the vector
(:mod:`latent.core.upper`; on the default sweep this cuts the re-scoring by a third, and agrees with
a whole-model re-scoring to 2.4e-6, ``bench/bench_rescoring.py``). The prompt pass is shared the
same way: rows with one prompt run the layers below the steering layer once
(:func:`latent.core.generate.prefill`).

Example::

    >>> r = GenerateRequest.make(["I think"], [0], max_new_tokens=5)     # doctest: +SKIP
    >>> decode_rows(lm, [r])[0].texts                                    # doctest: +SKIP
    [' that the best way']
"""
from __future__ import annotations

import numpy as np
import torch

from latent.core.direction import DirectionError
from latent.core.generate import Generation, continuation_logprobs, generate
from latent.core.hidden import left_pad, start_ids
from latent.core.hooks import Plan, use
from latent.core.requests import GenerateRequest
from latent.core.upper import run_from

POSITIONS = ("all", "first")
SCORE_BATCH = 32               # rows per unsteered re-scoring batch


def check_positions(positions: str) -> None:
    if positions not in POSITIONS:
        raise DirectionError(f"Unknown positions {positions!r}. Must be one of: {', '.join(POSITIONS)}")


def add_plan(lm, layer: int, vec: torch.Tensor, positions: str = "all") -> Plan:
    """A hook plan adding ``vec (1 or rows, d)`` at ``layer`` to every position, or (ActAdd's recipe)
    only to the prompt's first token during prefill."""
    check_positions(positions)
    if layer == 0:
        raise DirectionError("Steer at layer 1 or deeper (layer 0 is the token embedding).")
    first = len(start_ids(lm.tokenizer))  # the prompt's first token (after the prepended start token)

    def edit(h):
        v = vec.to(h.dtype)
        if v.shape[0] != 1 and v.shape[0] != h.shape[0]:
            raise DirectionError(f"{v.shape[0]} strengths for a batch of {h.shape[0]} rows.")
        if positions == "first":
            if h.shape[1] <= first:  # (rows must share one prompt length: no left padding)
                return h
            h = h.clone()
            h[:, first] += v
            return h
        return h + v[:, None, :]

    return Plan(edits={layer: [edit]})


def rows_plan(lm, layer: int, added: np.ndarray, positions: str = "all") -> Plan:
    """A hook plan adding its own absolute vector to each batch row: ``added (rows, d)`` at ``layer``."""
    vec = torch.as_tensor(np.asarray(added, np.float32), dtype=lm.model.dtype, device=lm.model.device)
    return add_plan(lm, layer, vec, positions)


def row_keys(requests: list[GenerateRequest], d: int) -> list[tuple[tuple, np.ndarray]]:
    """Per requested row (requests in order): its distinct-row key and its vector. Rows equal in prompt,
    seed, steering layer and vector share a key and decode once (an unsteered row, or a zero vector,
    has layer 0 and no vector)."""
    out = []
    for r in requests:
        for p, sd, v in zip(r.prompts, r.seeds, r.vectors(d)):
            steered = r.layer > 0 and bool(v.any())
            out.append(((p, sd, r.layer if steered else 0, v.tobytes() if steered else b""), v))
    return out


def decode_rows(lm, requests: list[GenerateRequest], on_token=None, partial: bool = True,
                on_rows=None) -> list[Generation]:
    """One batched decode of the requests' distinct rows; one :class:`Generation` per request.

    ``on_token(step, texts)`` is called after each new token with the distinct rows' texts so far, and
    ``on_rows(step, per_request)`` with each request's own rows' texts so far (a list per request);
    ``extra`` of each result holds ``batch_rows`` (distinct rows decoded) and, where asked,
    ``typicality`` (per row). With ``partial`` (the default) typicality is re-scored from the steering
    layer up (:func:`_score_from_layers`); ``partial=False`` re-runs the whole unsteered model (the
    benchmark's baseline, and the test that both agree)."""
    d = lm.d_model
    rows, vecs = [], {}                    # per requested row: its distinct row; distinct row -> vector
    for key, v in row_keys(requests, d):
        vecs.setdefault(key, v)
        rows.append(key)
    distinct = list(vecs)
    where = {k: i for i, k in enumerate(distinct)}
    index = [where[k] for k in rows]      # requested row -> distinct row
    steer_layers = sorted({k[2] for k in distinct if k[2] > 0})
    scored = any(r.typicality for r in requests)
    # partial re-scoring keeps each steering layer's raw residual (what the unsteered model has there)
    plan = Plan(keep_raw=set(steer_layers) if scored and partial else set())
    for layer in steer_layers:
        added = np.stack([vecs[k] if k[2] == layer else np.zeros(d, np.float32) for k in distinct])
        plan = plan.merged(rows_plan(lm, layer, added, requests[0].positions))
    first = requests[0]
    offsets = np.cumsum([0] + [r.rows for r in requests])

    last: list = [None] * len(requests)        # a request's rows stop growing at its own length

    def tick(step, texts):
        if on_token is not None:
            on_token(step, texts)
        if on_rows is not None:
            for i, (r, o) in enumerate(zip(requests, offsets)):
                if step < r.max_new_tokens or last[i] is None:
                    last[i] = [texts[index[j]] for j in range(o, o + r.rows)]
            on_rows(step, list(last))
    with use(plan):
        g = generate(lm, [k[0] for k in distinct], max_new_tokens=max(r.max_new_tokens for r in requests),
                     do_sample=first.do_sample, temperature=first.temperature, top_k=first.top_k,
                     seeds=[k[1] for k in distinct], on_token=tick if (on_token or on_rows) else None)
    toks = []                              # per requested row, cut to its request's length
    for r, o in zip(requests, offsets):
        toks += [g.token_ids[index[j]][: r.max_new_tokens] for j in range(o, o + r.rows)]
    # unsteered scoring of the texts, batched too (no plan here); a (row, length) pair is scored once
    want = sorted({(index[j], len(toks[j])) for r, o in zip(requests, offsets) if r.typicality
                   for j in range(o, o + r.rows)})
    if plan.keep_raw:
        score = _score_from_layers(lm, g, want, plan.raw, {i: k[2] for i, k in enumerate(distinct)})
    else:
        score = {}
        for s in range(0, len(want), SCORE_BATCH):
            part = want[s:s + SCORE_BATCH]
            lp = continuation_logprobs(lm, [g.prompt_ids[i] for i, _ in part],
                                       [g.token_ids[i][:n] for i, n in part])
            score.update(zip(part, lp))
    eos = lm.tokenizer.eos_token_id
    out = []
    for r, o in zip(requests, offsets):
        js = range(o, o + r.rows)
        mine = [toks[j] for j in js]
        texts = [lm.tokenizer.decode([x for x in t if x != eos], skip_special_tokens=True) for t in mine]
        extra = {"batch_rows": len(distinct)}
        if r.typicality:
            extra["typicality"] = np.array([score[(index[j], len(toks[j]))] for j in js], dtype=float)
        out.append(Generation(texts, mine, [g.prompt_ids[index[j]] for j in js],
                              g.first_logprobs[[index[j] for j in js]], g.seconds, sum(map(len, mine)), extra))
    return out


def _score_from_layers(lm, g: Generation, want: list[tuple[int, int]], raw: dict[int, list],
                       layer_of: dict[int, int]) -> dict[tuple[int, int], float]:
    """Mean unsteered log-prob of each (decoded row, length) in ``want``, run from the row's steering
    layer up (:func:`latent.core.upper.run_from`) on the raw residual the decode kept there; the
    layers below are the same with and without the vector. An unsteered row starts at the deepest
    kept layer (nothing was added to it anywhere)."""
    deepest = max(raw)
    chunks = {L: torch.cat(parts, 1) for L, parts in raw.items()}     # (rows, T + steps - 1, d)
    width = next(iter(chunks.values())).shape[1]
    _, mask0, _ = left_pad(lm, g.prompt_ids)
    T = mask0.shape[1]
    mask = torch.cat([mask0, torch.ones((mask0.shape[0], width - T), dtype=mask0.dtype, device=mask0.device)], 1)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = width - T + 1                    # the columns predicting generated tokens 1 … steps
    rows = sorted({i for i, _ in want})
    by_layer: dict[int, list[int]] = {}
    for i in rows:
        by_layer.setdefault(layer_of[i] or deepest, []).append(i)
    per_token = {}
    for L, members in by_layer.items():
        for s in range(0, len(members), SCORE_BATCH):
            part = members[s:s + SCORE_BATCH]
            sel = torch.tensor(part)
            logp = torch.log_softmax(run_from(lm, L, chunks[L][sel], mask[sel], pos[sel], keep), -1)
            for b, i in enumerate(part):
                t = g.token_ids[i]
                per_token[i] = logp[b, torch.arange(len(t)), torch.tensor(t, dtype=torch.long)].cpu().numpy() \
                    if t else np.zeros(0)
    return {(i, n): float(per_token[i][:n].mean()) if n else float("nan") for i, n in want}
