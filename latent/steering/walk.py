"""Walking a direction: batched strength sweeps with meters, and interpolation between prompts.

Meters for every generation:
- **concept**: sentence-encoder cosine to the positive pole minus cosine to the negative pole;
- **typicality**: mean token log-prob of the generated text under the *unsteered* model;
- **kl**: KL divergence of the first next-token distribution from the unsteered one.

Example::

    >>> sw = sweep(lm, enc, "I think that you", d, [-0.4, 0, 0.4])     # doctest: +SKIP
    >>> sw.table()[["strength", "concept", "typicality", "kl"]]                # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from latent.core.decode import decode_rows
from latent.core.direction import Direction, DirectionError
from latent.core.generate import generate
from latent.core.hidden import hidden_states, pooled_states
from latent.core.hooks import Plan, use
from latent.core.lens import lens_topk
from latent.core.models import embed
from latent.core.project import Projector
from latent.core.requests import GenerateRequest
from latent.core.stats import sd_band, slope, t_interval
from latent.steering.steer import check_strengths, typical_norms

N_RANDOM = 5          # random directions of the same norm, run in the same batch as the null band
SEEDS = (0, 1, 2)     # samples per strength (greedy decoding makes them identical)
DEGENERATE = 0.5      # distinct-2 below this (with >= 8 tokens) marks a degenerate, repetitive text


@dataclass
class Sweep:
    """One batched sweep: the direction at each strength × seed × prompt, the unsteered baseline per
    seed and prompt, and ``N_RANDOM`` random directions of the same norm at the same strengths."""

    prompt: str
    layer: int
    strengths: list[float]
    texts: list[str]             # per strength: the first prompt's first-seed text (0 = baseline)
    baseline: str
    rows: pd.DataFrame           # every generated row (kind, prompt, seed, strength, direction, text, meters)
    summary: pd.DataFrame        # per strength: means with 95 % intervals, the random band, verdicts
    slope: float                 # concept effect per unit strength (direction rows)
    slope_ci: tuple[float, float]
    random_slopes: np.ndarray    # the same slope for each random direction
    wrong_way: float             # fraction of (prompt, seed) units whose own slope has the wrong sign
    n_units: int
    cliff: float | None          # smallest |strength| where the text degenerates, if any
    coefficients: list[float]
    seconds: float
    tokens_per_second: float
    recipe: dict = field(default_factory=dict)

    @property
    def concept(self) -> np.ndarray:
        return self.summary["concept"].to_numpy()

    @property
    def typicality(self) -> np.ndarray:
        return self.summary["typicality"].to_numpy()

    @property
    def kl(self) -> np.ndarray:
        return self.summary["kl"].to_numpy()

    def table(self) -> pd.DataFrame:
        return self.summary

    def random_band(self) -> tuple[float, float]:
        """Mean ± 2 sd of the random directions' slopes (NaN with fewer than two)."""
        return sd_band(self.random_slopes) if len(self.random_slopes) > 1 else (np.nan, np.nan)

    def band_verdict(self) -> str:
        """"beyond" (the slope's interval clears the random band), "inside" it, or "inconclusive"."""
        lo, hi = self.slope_ci
        band = self.random_band()
        if lo > band[1] or hi < band[0]:
            return "beyond"
        return "inside" if band[0] <= lo and hi <= band[1] else "inconclusive"

    def finding(self) -> str:
        lo, hi = self.slope_ci
        rs = self.random_slopes
        band = self.random_band()
        beyond, inside = self.band_verdict() == "beyond", self.band_verdict() == "inside"
        s = (f"Steerability: the concept score moves {self.slope:+.3f} per unit strength (95 % CI {lo:+.3f} to "
             f"{hi:+.3f}); {len(rs)} random directions of the same norm give {band[0]:+.3f} to {band[1]:+.3f} "
             f"(mean ± 2 sd). ")
        s += ("Verdict: steers beyond random (the interval clears the band)." if beyond else
              "Verdict: not distinguishable from a random direction (the interval lies inside the band)." if inside
              else f"Verdict: inconclusive (the interval overlaps the random band at n = {self.n_units} units).")
        s += (f" Wrong-way fraction: {self.wrong_way:.0%} of {self.n_units} prompt × seed units move the other way.")
        if self.cliff is not None:
            s += f" From strength ±{self.cliff:g} on, texts degenerate into repetition."
        return s

    def to_json(self) -> dict:
        """The CLI contract: the slope with its interval and the random directions' slopes, the
        verdict, and per strength the text, the concept meter and every other meter with interval and band."""
        r4 = lambda x: None if x is None or not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        return {"layer": self.layer, "seeds": self.recipe["seeds"],
               "baseline": self.baseline, "tokens_per_second": round(self.tokens_per_second, 1), "seconds": round(self.seconds, 2),
               "slope": {"value": r4(self.slope), "ci": [r4(self.slope_ci[0]), r4(self.slope_ci[1])],
                         "random_slopes": [r4(x) for x in self.random_slopes]},
               "wrong_way_fraction": r4(self.wrong_way), "units": self.n_units, "degenerate_from": self.cliff,
               "random_band": [{"strength": r.strength, "lower": r4(r.random_lo), "upper": r4(r.random_hi)}
                               for r in self.summary.itertuples()],
               "finding": self.finding(),
               "results": [{"strength": r.strength, "text": t, "n": int(r.n), "concept": r4(r.concept),
                            "concept_ci": [r4(r.concept_lo), r4(r.concept_hi)], "effect": r4(r.effect),
                            "effect_ci": [r4(r.effect_lo), r4(r.effect_hi)], "verdict": r.verdict,
                            **{m: {"value": r4(row[m]), "ci": [r4(row[f"{m}_lo"]), r4(row[f"{m}_hi"])],
                                   "random_band": [r4(row[f"{m}_random_lo"]), r4(row[f"{m}_random_hi"])]}
                               for m in METERS}}
                           for r, row, t in zip(self.summary.itertuples(), self.summary.to_dict("records"), self.texts)]}




METERS = ("distinct2", "typicality", "kl")   # meters besides the concept effect, each with an interval and a band
RANGES = {"distinct2": (0.0, 1.0), "typicality": (-np.inf, 0.0), "kl": (0.0, np.inf)}   # where each meter can lie




def distinct2(token_ids: list[int]) -> float:
    """Distinct bigrams / bigrams (1 = no repetition). ``love love love`` scores low.

    >>> distinct2([1, 1, 1, 1]), distinct2([1, 2, 3, 4])
    (0.3333333333333333, 1.0)
    """
    pairs = list(zip(token_ids, token_ids[1:]))
    return len(set(pairs)) / len(pairs) if pairs else 1.0


def random_directions(d: int, n: int, seed: int = 0) -> np.ndarray:
    """``(n, d)`` unit directions, uniform on the sphere (seeded)."""
    v = np.random.default_rng(seed).normal(size=(n, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def pole_texts(direction: Direction) -> tuple[list[str], list[str]]:
    r = direction.recipe or {}
    pos = r.get("positive") if isinstance(r.get("positive"), list) else [direction.positive]
    neg = r.get("negative") if isinstance(r.get("negative"), list) else [direction.negative]
    return list(pos), list(neg)


def concept_scores(encoder, texts: list[str], positive: list[str], negative: list[str]) -> np.ndarray:
    E = embed(encoder, list(texts) + list(positive) + list(negative))
    T, P, N = E[: len(texts)], E[len(texts): len(texts) + len(positive)], E[len(texts) + len(positive):]
    p, n = P.mean(0), N.mean(0)
    return T @ (p / np.linalg.norm(p)) - T @ (n / np.linalg.norm(n))


def kl_from(first_logprobs: np.ndarray, base: np.ndarray) -> np.ndarray:
    """KL(row || base) for each row of first-token log-probs."""
    p = np.exp(first_logprobs)
    return (p * (first_logprobs - base[None, :])).sum(-1)


def sweep(lm, encoder, prompt, direction: Direction, strengths, *, max_new_tokens: int = 40,
          seeds=SEEDS, do_sample: bool = True, n_random: int = N_RANDOM, positions: str = "all", poles=None,
          on_token=None, seed: int | None = None, runner=None) -> Sweep:
    """One batched decode of every row: baseline (strength 0) and the direction at each nonzero strength
    for each prompt × seed, plus ``n_random`` random unit directions at each nonzero strength (one seed
    each). With greedy decoding the seeds collapse to one. ``prompt`` may be a list of prompts.

    ``runner(request) -> Generation`` decodes through a shared scheduler (the app passes one, so rows
    from many sessions share batches); without it the rows decode here, streaming to ``on_token``."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    strengths = check_strengths(strengths)
    seeds = [int(seed)] if seed is not None else list(seeds)
    seeds = seeds if do_sample else seeds[:1]
    direction.check(d_model=lm.d_model, n_layers=lm.n_layers)
    nonzero = [s for s in strengths if s != 0]
    unit = direction.unit() if direction.norm > 1e-8 else np.zeros(lm.d_model, np.float32)
    rand = random_directions(lm.d_model, n_random, seed=direction.layer)
    rows = []  # (kind, prompt index, seed, strength, direction index, unit vector)
    for pi in range(len(prompts)):
        for sd in seeds:
            rows.append(("baseline", pi, sd, 0.0, -1, np.zeros_like(unit)))
            rows += [("direction", pi, sd, s, -1, unit) for s in nonzero]
    for j in range(n_random):
        rows += [("random", 0, seeds[j % len(seeds)], s, j, rand[j]) for s in nonzero]
    norm = float(typical_norms(lm)[direction.layer])
    added = np.stack([r[3] * norm * r[5] for r in rows]).astype(np.float32)
    request = GenerateRequest.make([prompts[r[1]] for r in rows], [r[2] for r in rows], layer=direction.layer,
                                   added=added, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                   positions=positions, typicality=True)
    if runner is not None:
        gen = runner(request)
    else:
        first_dir = [i for i, r in enumerate(rows) if r[0] in ("baseline", "direction") and r[1] == 0
                     and r[2] == seeds[0]]
        stream = (lambda i, t: on_token(i, [t[k] for k in first_dir])) if on_token else None
        gen = decode_rows(lm, [request], on_token=stream)[0]
    pos, neg = poles or pole_texts(direction)
    concept = concept_scores(encoder, gen.texts, pos, neg)
    table = pd.DataFrame({"kind": [r[0] for r in rows], "prompt": [prompts[r[1]] for r in rows],
                          "seed": [r[2] for r in rows], "strength": [r[3] for r in rows],
                          "random_direction": [r[4] for r in rows], "text": gen.texts, "concept": concept,
                          "typicality": gen.extra["typicality"], "distinct2": [distinct2(t) for t in gen.token_ids],
                          "tokens": [len(t) for t in gen.token_ids]})
    base_idx = {(r[1], r[2]): i for i, r in enumerate(rows) if r[0] == "baseline"}
    base_of = [base_idx[(r[1], r[2])] for r in rows]
    table["effect"] = concept - concept[base_of]
    table["kl"] = [float(kl_from(gen.first_logprobs[i:i + 1], gen.first_logprobs[b])[0]) for i, b in enumerate(base_of)]
    table["degenerate"] = (table["distinct2"] < DEGENERATE) & (table["tokens"] >= 8)
    return _summarise(lm, prompts, direction, strengths, seeds, table, norm, gen, max_new_tokens, do_sample,
                      positions, n_random)


def _summarise(lm, prompts, direction, strengths, seeds, table, norm, gen, max_new_tokens, do_sample, positions,
               n_random) -> Sweep:
    own = table[table["kind"] != "random"]
    rnd = table[table["kind"] == "random"]
    out = []
    for s in strengths:
        g = own[own["strength"] == s]
        # the control at this strength: the random directions' rows; at strength 0 every direction is
        # the unsteered baseline, so the baseline rows are the control there
        ctrl = g if s == 0 else rnd[rnd["strength"] == s]
        c, clo, chi = t_interval(g["concept"])
        e, elo, ehi = t_interval(g["effect"])
        blo, bhi = sd_band(ctrl["effect"])
        verdict = ("baseline" if s == 0 else "n = 1: no interval" if not np.isfinite(elo) else
                   "beyond random" if (elo > bhi or ehi < blo) else
                   "within random band" if (blo <= elo and ehi <= bhi) else "overlaps random band: inconclusive")
        row = {"strength": s, "coefficient": s * norm, "n": len(g), "n_random": len(ctrl) if s != 0 else 0,
               "concept": c, "concept_lo": clo, "concept_hi": chi, "effect": e, "effect_lo": elo, "effect_hi": ehi,
               "random_lo": blo, "random_hi": bhi, "degenerate": int(g["degenerate"].sum()), "verdict": verdict}
        for m in METERS:                      # the other meters: the same interval and the same control band
            # the first token's distribution does not depend on the sampling seed: KL's n is the prompts
            vals = g.groupby("prompt")[m].mean() if m == "kl" else g[m]
            # intervals and bands are clipped to the meter's range (a KL below 0 or a repetition above 1 cannot be)
            lo, hi = RANGES[m]
            v, vlo, vhi = t_interval(vals)
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = v, *(float(np.clip(x, lo, hi)) for x in (vlo, vhi))
            row[f"{m}_random_lo"], row[f"{m}_random_hi"] = (float(np.clip(x, lo, hi)) for x in sd_band(ctrl[m]))
        out.append(row)
    summary = pd.DataFrame(out)
    X = own["strength"].to_numpy(float)
    fit, fit_ci = slope(X, own["effect"].to_numpy(float))
    random_slopes = np.array([slope(g["strength"].to_numpy(float), g["effect"].to_numpy(float))[0]
                              for _, g in rnd.groupby("random_direction")])
    unit_slopes = [slope(g["strength"].to_numpy(float), g["effect"].to_numpy(float))[0]
                   for _, g in own.groupby(["prompt", "seed"])]
    wrong = float(np.mean([u < 0 for u in unit_slopes])) if unit_slopes else float("nan")
    base_typicality = summary.loc[summary["strength"] == 0, "typicality"].mean()
    bad = summary[(summary["strength"] != 0) & ((summary["distinct2"] < DEGENERATE) |
                                                 (summary["typicality"] < base_typicality - 1.0))]
    cliff = float(bad["strength"].abs().min()) if len(bad) and (summary["strength"] == 0).any() else None
    first = own[(own["prompt"] == prompts[0]) & (own["seed"] == seeds[0])].set_index("strength")["text"]
    texts = [first.get(s, "") for s in strengths]
    return Sweep(prompts[0], direction.layer, strengths, texts, first.get(0.0, ""), table, summary, fit, fit_ci,
                 random_slopes, wrong, len(unit_slopes), cliff, [s * norm for s in strengths], gen.seconds,
                 gen.tokens_per_second,
                 {"prompt": prompts[0] if len(prompts) == 1 else prompts, "strengths": strengths, "layer": direction.layer,
                  "seeds": seeds, "max_new_tokens": max_new_tokens, "do_sample": do_sample, "positions": positions,
                  "n_random": n_random, "direction": direction.to_dict()})




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

    ts = list(np.linspace(0, 1, 6) if ts is None else ts)
    ra, rb = hidden_states(lm, [prompt_a, prompt_b], layers=[layer])
    a, b = ra.at(layer).mean(0), rb.at(layer).mean(0)
    if np.linalg.norm(b - a) < 1e-6 * max(1.0, float(np.linalg.norm(a))):

        raise DirectionError("The two prompts give the same state: nothing to walk between.")

    delta = torch.as_tensor(b - a, dtype=lm.model.dtype, device=lm.model.device)
    tt = torch.as_tensor(ts, dtype=lm.model.dtype, device=lm.model.device)
    plan = Plan(edits={layer: [lambda h: h + (tt[:, None, None] * delta).to(h.dtype)]})
    with use(plan):
        gen = generate(lm, [prompt_a] * len(ts), max_new_tokens=max_new_tokens, seeds=[seed] * len(ts))
    E = embed(encoder, gen.texts + [prompt_a, prompt_b])
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
