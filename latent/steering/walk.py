"""Walking a direction: batched strength sweeps with meters, and interpolation between prompts.

Meters for every generation:
- **concept**: sentence-encoder cosine to the positive pole minus cosine to the negative pole;
- **fluency**: mean token log-prob of the generated text under the *unsteered* model;
- **kl**: KL divergence of the first next-token distribution from the unsteered one.

Example::

    >>> sw = sweep(lm, enc, "I think that you", d, [-0.4, 0, 0.4])     # doctest: +SKIP
    >>> sw.table()[["strength", "concept", "fluency", "kl"]]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latent.core.direction import Direction
from latent.core.generate import continuation_logprobs, generate
from latent.core.hooks import Plan, use
from latent.steering.steer import check_strengths, steering_plan, typical_norms


@dataclass
class Sweep:
    prompt: str
    layer: int
    strengths: list[float]
    texts: list[str]
    baseline: str
    concept: np.ndarray
    fluency: np.ndarray
    kl: np.ndarray
    coefficients: list[float]
    seconds: float
    tokens_per_second: float
    recipe: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"strength": self.strengths, "coefficient": self.coefficients, "layer": self.layer,
                             "text": self.texts, "concept": self.concept, "fluency": self.fluency, "kl": self.kl})


def pole_texts(direction: Direction) -> tuple[list[str], list[str]]:
    r = direction.recipe or {}
    pos = r.get("positive") if isinstance(r.get("positive"), list) else [direction.positive]
    neg = r.get("negative") if isinstance(r.get("negative"), list) else [direction.negative]
    return list(pos), list(neg)


def concept_scores(encoder, texts: list[str], positive: list[str], negative: list[str]) -> np.ndarray:
    E = encoder.encode(list(texts) + list(positive) + list(negative), normalize_embeddings=True)
    T, P, N = E[: len(texts)], E[len(texts): len(texts) + len(positive)], E[len(texts) + len(positive):]
    p, n = P.mean(0), N.mean(0)
    return T @ (p / np.linalg.norm(p)) - T @ (n / np.linalg.norm(n))


def kl_from(first_logprobs: np.ndarray, base: np.ndarray) -> np.ndarray:
    """KL(row || base) for each row of first-token log-probs."""
    p = np.exp(first_logprobs)
    return (p * (first_logprobs - base[None, :])).sum(-1)


def sweep(lm, encoder, prompt: str, direction: Direction, strengths, *, max_new_tokens: int = 40, seed: int = 0,
          do_sample: bool = False, positions: str = "all", poles=None, on_token=None) -> Sweep:
    """One batched generation: one row per strength plus the unsteered baseline row."""
    strengths = check_strengths(strengths)
    direction.check(d_model=lm.d_model, n_layers=lm.n_layers)
    rows = [0.0] + strengths  # row 0: the unsteered baseline, same seed
    plan = steering_plan(lm, direction, rows, positions)
    with use(plan):
        gen = generate(lm, [prompt] * len(rows), max_new_tokens=max_new_tokens, do_sample=do_sample,
                       seeds=[seed] * len(rows), on_token=(lambda i, t: on_token(i, t[1:])) if on_token else None)
    pos, neg = poles or pole_texts(direction)
    concept = concept_scores(encoder, gen.texts, pos, neg)
    fluency = np.array(continuation_logprobs(lm, gen.prompt_ids, gen.token_ids))  # unsteered model
    kl = kl_from(gen.first_logprobs, gen.first_logprobs[0])
    norm = float(typical_norms(lm)[direction.layer])
    return Sweep(prompt, direction.layer, strengths, gen.texts[1:], gen.texts[0], concept[1:], fluency[1:], kl[1:],
                 [s * norm for s in strengths], gen.seconds, gen.tokens_per_second,
                 {"prompt": prompt, "strengths": strengths, "layer": direction.layer, "seed": seed,
                  "max_new_tokens": max_new_tokens, "do_sample": do_sample, "positions": positions,
                  "direction": direction.to_dict(), "baseline_concept": float(concept[0]),
                  "baseline_fluency": float(fluency[0])})


@dataclass
class Interpolation:
    table: pd.DataFrame          # t, lens, text, sim_a, sim_b
    path: pd.DataFrame           # x, y, kind (a/b/mix), t or token
    finding: str


def interpolate(lm, encoder, prompt_a: str, prompt_b: str, layer: int, ts=None, *, max_new_tokens: int = 30,
                seed: int = 0) -> Interpolation:
    """Walk from A's mean state to B's at ``layer``: generate from A with every position shifted by
    ``t·(mean_B − mean_A)`` (so at t = 1 the states' mean is B's); decode each mixed point with the
    logit lens; find where the text's meaning flips from A to B (sentence-encoder similarity)."""
    from latent.core.hidden import hidden_states
    from latent.core.lens import lens_topk
    from latent.core.project import Projector

    ts = list(np.linspace(0, 1, 6) if ts is None else ts)
    ra, rb = hidden_states(lm, [prompt_a, prompt_b], layers=[layer])
    a, b = ra.at(layer).mean(0), rb.at(layer).mean(0)
    if np.linalg.norm(b - a) < 1e-6 * max(1.0, float(np.linalg.norm(a))):
        from latent.core.direction import DirectionError

        raise DirectionError("The two prompts give the same state: nothing to walk between.")
    import torch

    delta = torch.as_tensor(b - a, dtype=lm.model.dtype, device=lm.model.device)
    tt = torch.as_tensor(ts, dtype=lm.model.dtype, device=lm.model.device)
    plan = Plan(edits={layer: [lambda h: h + (tt[:, None, None] * delta).to(h.dtype)]})
    with use(plan):
        gen = generate(lm, [prompt_a] * len(ts), max_new_tokens=max_new_tokens, seeds=[seed] * len(ts))
    E = encoder.encode(gen.texts + [prompt_a, prompt_b], normalize_embeddings=True)
    sim_a, sim_b = E[:-2] @ E[-2], E[:-2] @ E[-1]  # meaning of each text vs the two prompts
    mixes = np.stack([(1 - t) * a + t * b for t in ts])
    lens = [", ".join(repr(tok) for tok, _ in top) for top in lens_topk(lm, mixes, k=3)]
    table = pd.DataFrame({"t": ts, "lens_top3": lens, "text": gen.texts, "sim_to_A": sim_a, "sim_to_B": sim_b})
    pts = np.concatenate([ra.at(layer), rb.at(layer), mixes])
    Y = Projector("pca").fit_transform(pts)
    na, nb = len(ra.tokens), len(rb.tokens)
    path = pd.DataFrame({"x": Y[:, 0], "y": Y[:, 1], "kind": ["A"] * na + ["B"] * nb + ["mix"] * len(ts),
                         "label": ra.tokens + rb.tokens + [f"t={t:.2f}" for t in ts]})
    flip = next((t for t, sa, sb in zip(ts, sim_a, sim_b) if sb > sa), None)
    finding = ("Within t ≤ 1 the text never becomes closer in meaning to prompt B than to prompt A." if flip is None
               else f"The text flips from A-like to B-like at t ≈ {flip:.2f} (the first t where the sentence encoder "
                    "puts it closer to prompt B than to prompt A).")
    return Interpolation(table, path, finding)


def steered_map(lm, sw: Sweep, direction: Direction, poles=None) -> pd.DataFrame:
    """Where the generations land: mean state of prompt+text at the steering layer (read unsteered).
    x = coordinate along the direction, y = the first principal component across the rest."""
    from latent.core.hidden import pooled_states

    pos, neg = poles or pole_texts(direction)
    texts = [sw.prompt + sw.baseline] + [sw.prompt + t for t in sw.texts] + pos + neg
    X = pooled_states(lm, texts, layer=direction.layer)
    u = direction.unit()
    x = X @ u
    R = X - np.outer(x, u)
    R = R - R.mean(0)
    y = R @ np.linalg.svd(R, full_matrices=False)[2][0]
    kind = ["baseline"] + ["generation"] * len(sw.texts) + ["positive pole"] * len(pos) + ["negative pole"] * len(neg)
    strength = [0.0] + list(sw.strengths) + [np.nan] * (len(pos) + len(neg))
    return pd.DataFrame({"x": x, "y": y, "kind": kind, "strength": strength, "text": texts})
