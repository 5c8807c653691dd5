"""Logit lens: read any hidden state as a next-token distribution (final norm + unembedding).

On SmolLM2-135M readable tokens appear only in the last ~4 of 30 layers; earlier layers decode
to noise-like tokens, which is expected, not a bug. At layer 0 a model with tied embeddings
(SmolLM2, Gemma 3) reads back the input token itself with p close to 1: that is the tying, not a
prediction. Early-layer probabilities are not calibrated (no tuned lens exists for these models).

Example::

    >>> top = lens_topk(lm, ts.at(30)[-1:], k=3)[0]      # doctest: +SKIP
    >>> [(t, round(p, 2)) for t, p in top]  # doctest: +SKIP
    [(' Paris', 0.61), (' the', 0.05), (' a', 0.03)]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from latent.core.arch import final_norm as fn
from latent.core.arch import logit_softcap


def final_norm(lm):
    """The family's final norm (:mod:`latent.core.arch`)."""

    return fn(lm.model)


def lens_logits(lm, states: np.ndarray):
    """``(n, d)`` states -> ``(n, vocab)`` logits (torch, float32)."""

    x = torch.as_tensor(np.asarray(states), dtype=lm.model.dtype, device=lm.model.device)
    with torch.inference_mode():
        logits = lm.model.get_output_embeddings()(final_norm(lm)(x)).float()
    cap = logit_softcap(lm.model)
    return cap * torch.tanh(logits / cap) if cap else logits


def lens_probs(lm, states: np.ndarray) -> np.ndarray:
    """``(n, d)`` -> ``(n, vocab)`` next-token probabilities."""

    return torch.softmax(lens_logits(lm, states), dim=-1).cpu().numpy()


def decode_token(lm, tid: int) -> str:
    return lm.tokenizer.decode([int(tid)])


def lens_topk(lm, states: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k (token, probability) for each state row."""

    p = torch.softmax(lens_logits(lm, states), dim=-1)
    vals, idx = p.topk(k, dim=-1)
    return [[(decode_token(lm, i), float(v)) for v, i in zip(vr, ir)] for vr, ir in zip(vals.tolist(), idx.tolist())]


def lens_table(lm, ts, k: int = 3) -> pd.DataFrame:
    """Per layer and position of one text (a :class:`TextStates`), the top-k lens tokens.

    Columns: layer, position, token (the input token), rank, prediction, prob, and ``final_rank``:
    the rank, at this layer, of the token the last layer predicts at this position (0 = top). Ranks
    are an alternative to probabilities where early layers are uncalibrated.
    """

    final = lens_logits(lm, ts.states[-1]).argmax(-1)                  # (positions,) last kept layer's top-1
    rows = []
    for li, layer in enumerate(ts.layers):
        logits = lens_logits(lm, ts.states[li])
        final_rank = (logits > logits.gather(1, final[:, None])).sum(-1).tolist()
        p = torch.softmax(logits, -1)
        vals, idx = p.topk(k, dim=-1)
        for pos in range(len(ts.tokens)):
            for rank in range(k):
                rows.append({"layer": layer, "position": pos, "token": ts.tokens[pos], "rank": rank,
                             "prediction": decode_token(lm, idx[pos, rank]), "prob": float(vals[pos, rank]),
                             "final_rank": int(final_rank[pos])})
    return pd.DataFrame(rows)
