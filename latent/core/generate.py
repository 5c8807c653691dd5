"""A small batched decoding loop: left padding, a KV cache, and one random generator per row.

``model.generate`` draws all rows from one global RNG, so a row's sample depends on its batch
neighbours. Here row ``r`` samples with its own ``torch.Generator`` seeded ``seeds[r]``, so a
steered row and its baseline see the same random numbers. Greedy decoding ignores the seeds.

Example::

    >>> out = generate(lm, ["Paris is", "I love"], max_new_tokens=5)      # doctest: +SKIP
    >>> out.texts  # doctest: +SKIP
    [' the capital of France', ' you so much.']
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from latent.core import arch, hooks
from latent.core.hidden import MAX_TOKENS_PER_TEXT, InputError, encode, left_pad
from latent.core.upper import block_call_inputs, head, run_blocks

MAX_NEW_TOKENS = 256
MAX_ROWS = 160


@dataclass
class Generation:
    texts: list[str]
    token_ids: list[list[int]]
    prompt_ids: list[list[int]]
    first_logprobs: np.ndarray          # (rows, vocab) log-probs of the first generated token
    seconds: float = 0.0
    new_tokens: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0

    @classmethod
    def gather(cls, parts: list[Generation], positions: list[list[int]]) -> Generation:
        """One generation from several decoded one after another: ``positions[k][i]`` is where row ``i``
        of ``parts[k]`` goes in the whole. The seconds and decoded rows add up (the parts ran in turn)."""
        n = sum(map(len, positions))
        where: list = [None] * n
        for g, pos in zip(parts, positions):
            for i, j in enumerate(pos):
                where[j] = (g, i)
        if any(w is None for w in where):
            raise ValueError("the parts' positions do not cover every row once")
        toks = [g.token_ids[i] for g, i in where]
        extra = {"batch_rows": sum(g.extra.get("batch_rows", len(g.texts)) for g in parts)}
        if all("typicality" in g.extra for g in parts):
            extra["typicality"] = np.array([g.extra["typicality"][i] for g, i in where], dtype=float)
        notes = [x for g in parts for x in g.extra.get("notes", [])]
        if notes:
            extra["notes"] = list(dict.fromkeys(notes))
        return cls([g.texts[i] for g, i in where], toks, [g.prompt_ids[i] for g, i in where],
                   np.stack([g.first_logprobs[i] for g, i in where]), sum(g.seconds for g in parts),
                   sum(map(len, toks)), extra)


def check_request(lm, prompts: list[str], max_new_tokens: int) -> list[list[int]]:
    if not prompts:
        raise InputError("No prompt given.")
    if len(prompts) > MAX_ROWS:
        raise InputError(f"{len(prompts)} rows is too many for one batch; the limit is {MAX_ROWS}.")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise InputError(f"{max_new_tokens} new tokens is out of range; choose 1-{MAX_NEW_TOKENS}.")
    room = min(MAX_TOKENS_PER_TEXT, lm.max_positions - int(max_new_tokens))
    return [encode(lm, p, max_tokens=room)[0] for p in prompts]


def generate(lm, prompts: list[str], *, max_new_tokens: int = 40, do_sample: bool = False,
             temperature: float = 0.8, top_k: int = 50, seeds: list[int] | None = None,
             on_token=None) -> Generation:
    """Decode every prompt (one row each) together. Steering active in this context applies.

    ``on_token(step, texts)`` is called after each new token with the texts so far (streaming).
    """

    ids = check_request(lm, prompts, max_new_tokens)
    B = len(ids)
    dev = lm.model.device
    pad = lm.tokenizer.pad_token_id or 0
    inp, mask, pos = left_pad(lm, ids)  # every row's last prompt token sits at column T-1
    gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in (seeds or [0] * B)]
    eos = lm.tokenizer.eos_token_id
    out = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool)
    first = None
    t0 = time.perf_counter()
    with torch.inference_mode():
        cache, logits = prefill(lm, inp, mask, pos)
        for step in range(int(max_new_tokens)):
            if first is None:
                first = torch.log_softmax(logits, -1).cpu().numpy()
            if do_sample:
                z = logits.cpu() / max(temperature, 1e-4)
                if top_k:   # sample among the k best only: the same distribution, and a draw over k entries
                    z, idx = z.topk(min(top_k, z.shape[-1]), -1)          # (B, k), not over the vocabulary
                p = torch.softmax(z, -1)
                nxt = torch.stack([torch.multinomial(p[r], 1, generator=gens[r])[0] for r in range(B)])
                if top_k:
                    nxt = idx.gather(1, nxt[:, None])[:, 0]
            else:
                nxt = logits.argmax(-1).cpu()
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            for r in range(B):
                if not done[r]:
                    out[r].append(int(nxt[r]))
            done |= nxt == eos
            if on_token is not None:
                on_token(step, [lm.tokenizer.decode(o, skip_special_tokens=True) for o in out])
            if bool(done.all()) or step == int(max_new_tokens) - 1:
                break
            mask = torch.cat([mask, torch.ones((B, 1), dtype=mask.dtype, device=dev)], -1)
            pos = pos[:, -1:] + 1
            res = lm.model(input_ids=nxt[:, None].to(dev), attention_mask=mask, position_ids=pos,
                           past_key_values=cache, use_cache=True)
            cache, logits = res.past_key_values, res.logits[:, -1].float()
    secs = time.perf_counter() - t0
    texts = [lm.tokenizer.decode([t for t in o if t != eos], skip_special_tokens=True) for o in out]
    return Generation(texts, out, ids, first, secs, sum(len(o) for o in out))


def shared_below(lm, plan: hooks.Plan | None) -> int | None:
    """The deepest layer up to which rows with one prompt are identical under ``plan``, before its edits
    there: the lowest layer it edits (an MLP edit in block ``b`` changes layer ``b`` and up, so ``b - 1``),
    or the last layer when it edits nothing. ``None`` when the plan records or stops somewhere, or keeps
    a raw residual below that layer (then every row runs whole)."""
    n = arch.n_layers(lm.model)
    if plan is None:
        return n
    if plan.record or plan.mlp_record or plan.stop_after is not None or plan.inputs_of is not None:
        return None
    edited = [k for k, v in plan.edits.items() if v] + [b - 1 for b, v in plan.mlp_edits.items() if v]
    L = min(edited, default=n)
    if L < 1 or any(k < L for k in plan.keep_raw):
        return None
    return L


def prefill(lm, inp: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, shared: bool = True):
    """The prompt pass of a batched decode: ``(cache, last-column logits (B, vocab) float32)``.

    Rows with the same prompt (a sweep has one per strength, seed and direction) compute the same
    layers below the lowest steering layer, so with ``shared`` those layers run once per distinct
    prompt; their cache is copied to the rows and the blocks above run under the active plan (edits,
    kept raw residuals) as in a whole pass, once per group of rows that are equal after the edits (a
    sweep's seeds of one prompt and vector), else on every row. Only the last column reaches the LM head.
    ``shared=False`` runs every row whole (the benchmark's baseline; the test that both agree)."""
    model = lm.model
    plan = hooks.current()
    L = shared_below(lm, plan) if shared else None
    keys = list(map(tuple, inp.tolist()))
    first: dict[tuple, int] = {}          # a distinct prompt row -> the first row that has it
    for r, k in enumerate(keys):
        first.setdefault(k, r)
    if L is None or len(first) == len(inp):
        res = model(input_ids=inp, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
        return res.past_key_values, res.logits[:, -1].float()
    from transformers import DynamicCache  # noqa: PLC0415 - heavy (transformers): imported when first needed

    order = {k: j for j, k in enumerate(first)}
    uniq = torch.tensor(list(first.values()), device=inp.device)                          # (P,)
    idx = torch.tensor([order[k] for k in keys], device=inp.device)                       # (B,): its prompt
    cache = DynamicCache(config=model.config)
    lower = hooks.Plan(record={L}, stop_after=L)     # layers 1 … L on each distinct prompt, unedited
    with hooks.use(lower):
        try:
            arch.base_model(model)(input_ids=inp[uniq], attention_mask=mask[uniq], position_ids=pos[uniq],
                                   past_key_values=cache, use_cache=True)
        except hooks.StopForward:
            pass
    h = hooks.at_layer(L, lower.records[L][idx])     # the active plan's edits (and kept raw copy) at layer L
    # rows equal at layer L after their edits (a sweep's seeds of one prompt, direction and strength: they
    # differ only from the first sampled token on) compute the same blocks above: those run once per group
    u, inv = _distinct_rows(h, idx, plan, L)
    rows = slice(None) if u is None else u
    cache.batch_select_indices(idx[rows])    # layers 1 … L's keys and values, one copy per row run above
    h = h[rows]
    empty = DynamicCache(config=model.config)    # the blocks' masks and rotary tables, made for no cache
    per_block = _with_cache(block_call_inputs(lm, h, mask[rows], pos[rows], empty), empty, cache)
    h = run_blocks(lm, L, h, per_block)          # blocks L+1 … N, filling the rest of the cache
    logits = head(lm, h[:, -1])
    if u is None:
        return cache, logits
    cache.batch_select_indices(inv)          # each row its group's copy
    return cache, logits[inv]


def _distinct_rows(h: torch.Tensor, prompt: torch.Tensor, plan, L: int):
    """``(u, inv)``: one row per group of rows with one prompt and bit-for-bit equal layer-``L`` residuals
    (``h[u][inv]`` is ``h``), when the plan does nothing above layer ``L`` that is row by row (edits, MLP
    edits, kept raw residuals) and some rows repeat; else ``(None, None)``."""
    if plan is not None and (any(k != L for k, v in plan.edits.items() if v) or any(plan.mlp_edits.values())
                             or any(k > L for k in plan.keep_raw)):
        return None, None
    key = torch.cat([prompt[:, None].to(h.dtype), h.reshape(len(h), -1)], 1)
    _, inv = torch.unique(key, dim=0, return_inverse=True)
    if int(inv.max()) + 1 == len(h):
        return None, None
    first = torch.full((int(inv.max()) + 1,), len(h), dtype=torch.long, device=h.device)
    first = first.scatter_reduce(0, inv, torch.arange(len(h), device=h.device), reduce="amin")
    order = torch.argsort(first)                 # groups in the order of their first row
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=h.device)
    return first[order], rank[inv]


def _with_cache(per_block, old, new):
    """The blocks' call inputs with the cache object ``old`` replaced by ``new`` (masks and rotary tables
    made for an empty cache, then written into the cache the lower layers filled)."""
    swap = lambda x: new if x is old else x    # noqa: E731
    return [(tuple(swap(x) for x in a), {k: swap(v) for k, v in kw.items()}) for a, kw in per_block]


def continuation_logprobs(lm, prompt_ids: list[list[int]], new_ids: list[list[int]]) -> list[float]:
    """Mean log-prob of each row's ``new_ids`` after its ``prompt_ids``, one left-padded batch,
    under the model as it is in this context (call it outside any steering for "unsteered").

    Left padding puts every continuation at the end, so the LM head runs only on the last
    ``max(len(new)) + 1`` columns instead of on every position (the vocabulary is large).
    """

    ids, mask, pos = left_pad(lm, [p + n for p, n in zip(prompt_ids, new_ids)])
    keep = max(len(n) for n in new_ids) + 1
    with torch.inference_mode():
        logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                          logits_to_keep=keep).logits.float()          # (B, keep, vocab): the last columns
        logp = torch.log_softmax(logits, -1)
    out = []
    for r, n in enumerate(new_ids):
        if not n:
            out.append(float("nan"))
            continue
        cols = torch.arange(keep - 1 - len(n), keep - 1, device=logp.device)   # predicting each new token
        out.append(float(logp[r, cols, torch.tensor(n, device=logp.device)].mean()))
    return out
