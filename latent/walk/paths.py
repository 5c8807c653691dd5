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
from latent.core.generate import MAX_ROWS, Generation, generate
from latent.core.hidden import hidden_states
from latent.core.hooks import Plan, use
from latent.core.lens import lens_topk
from latent.core.massive import mean_pool
from latent.core.models import embed
from latent.core.project import Projector
from latent.core.requests import GenerateRequest, door_for
from latent.core.stats import prediction_band, sd_band, slope, t_interval
from latent.walk.null import N_SPLITS, DataNull, data_null
from latent.walk.steer import check_strengths, typical_norms

N_RANDOM = 8          # random directions of the same norm, each run on every prompt × seed × strength
SEEDS = (0, 1, 2)     # samples per strength (greedy decoding makes them identical)
DEGENERATE = 0.5      # distinct-2 below this (with >= 8 tokens) marks a degenerate, repetitive text
RUN = 4               # ... as does one non-space character repeated this often in a row ("!!!!", "1111")
SYMBOLS = 0.3         # ... or a text whose non-space characters are more than this share symbols
UNDERPOWERED = 8      # an inconclusive verdict on fewer units than this says so


@dataclass(frozen=True)
class AtStrength:
    """One strength of a sweep (:meth:`Sweep.per_strength`). At strength 0 every direction is the
    unsteered baseline: the difference and its null are 0 and the verdict is "baseline"."""

    strength: float
    text: str                                  # the first prompt's first-seed text
    n: int                                     # the direction's rows: prompts × seeds
    n_random: int                              # random directions at this strength (0 at strength 0)
    effect: float                              # the direction's mean concept change against unsteered
    effect_ci: tuple[float, float]             # its 95 % interval over prompt × seed
    random_mean: float                         # the random directions' mean effect
    random_band: tuple[float, float]           # where one random direction's mean effect lies (mean ± 2 sd)
    difference: float                          # direction minus random, paired over units
    difference_ci: tuple[float, float]
    difference_null: tuple[float, float]       # that difference's null (each random direction against the others)
    verdict: str
    distinct2: float                           # mean share of distinct bigrams (1 = no repeats)
    degenerate: int                            # texts that stopped being language

    @property
    def baseline(self) -> bool:
        return self.strength == 0


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
    data_slopes: np.ndarray | None = None   # the same slope for each data-null direction (None or empty: none ran)
    data_null: DataNull | None = None       # what the data-shaped null was built from, or why it was not
    prompt_sets: list | None = None         # per named prompt set: :meth:`prompt_set` (None: this sweep's prompts)

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

    def per_strength(self) -> list[AtStrength]:
        """One record per strength, in order: what the page's cards say (the text, the direction's mean
        effect against the random directions', the verdict), read from :attr:`summary`."""
        return [AtStrength(strength=float(r["strength"]), text=t, n=int(r["n"]), n_random=int(r["n_random"]),
                           effect=float(r["effect"]), effect_ci=(float(r["effect_lo"]), float(r["effect_hi"])),
                           random_mean=float(r["random_mean"]),
                           random_band=(float(r["random_lo"]), float(r["random_hi"])),
                           difference=float(r["difference"]),
                           difference_ci=(float(r["difference_lo"]), float(r["difference_hi"])),
                           difference_null=(float(r["difference_null_lo"]), float(r["difference_null_hi"])),
                           verdict=str(r["verdict"]), distinct2=float(r["distinct2"]), degenerate=int(r["degenerate"]))
                for r, t in zip(self.summary.to_dict("records"), self.texts)]

    def rows_text(self, device: str) -> str:
        """What the rows are and how long they took, for the caption under the cards (``device``: where
        they ran)."""
        n_data = self.data_null.n_splits if self.has_data_null else 0
        return (f"Cards: the first prompt, seed {self.recipe['seeds'][0]}. {len(self.rows)} rows (per prompt × seed: the "
                f"unsteered baseline, and at each strength the direction, {self.recipe['n_random']} random directions "
                f"of the same norm" + (f" and {n_data} data-shaped null directions" if n_data else "") +
                f"), the cards' rows decoded first, then the others: {self.seconds:.1f} s, "
                f"{self.tokens_per_second:.0f} tokens/s on {device}. The strength-0 row reproduces the solo unsteered "
                "run exactly.")

    def random_band(self) -> tuple[float, float]:
        """Mean ± 2 sd of the random directions' slopes (NaN with fewer than two)."""
        return sd_band(self.random_slopes) if len(self.random_slopes) > 1 else (np.nan, np.nan)

    def data_band(self) -> tuple[float, float]:
        """Where one more data-null direction's slope would lie: the splits' slopes' 95 % prediction interval
        (:func:`~latent.core.stats.prediction_band`: with 4 splits, mean ± 3.56 sd; NaN with fewer than two)."""
        ds = self.data_slopes
        return prediction_band(ds) if ds is not None and len(ds) > 1 else (np.nan, np.nan)

    @property
    def has_data_null(self) -> bool:
        return self.data_null is not None and self.data_null.applicable and len(self.data_slopes) > 1

    def random_verdict(self) -> str:
        """The slope's interval against the isotropic random directions' band."""
        return verdict(*self.slope_ci, self.random_band(), self.n_units)

    def data_verdict(self) -> str:
        """The slope's interval against the data-null directions' band, or "not applicable"."""
        if not self.has_data_null:
            return NOT_APPLICABLE
        return verdict(*self.slope_ci, self.data_band(), self.n_units, null=DATA)

    def band_verdict(self) -> str:
        """The verdict: the slope's interval against both nulls (:func:`both`). "beyond random" only when it
        clears the isotropic random directions' band and, for a direction built from texts, the data-null
        directions' band; otherwise the null it did not clear names the verdict."""
        return both(self.random_verdict(), self.data_verdict())

    def prompt_set(self, name: str, prompts=None) -> dict:
        """The slope and both nulls' verdicts on one set of this sweep's prompts (None: all of them), from
        the same rows: ``{name, n_prompts, n_units, slope, slope_ci, verdict, null_random{band, verdict},
        null_data{band, verdict}}`` (rounded as in :meth:`to_json`)."""
        r4 = lambda x: None if x is None or not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        rows = self.rows if prompts is None else self.rows[self.rows["prompt"].isin(list(prompts))]
        fit, ci, rs, ds, n = _slopes(rows)
        rband = sd_band(rs) if len(rs) > 1 else (np.nan, np.nan)
        vr = verdict(*ci, rband, n)
        if self.has_data_null and len(ds) > 1:
            dband = prediction_band(ds)
            vd = verdict(*ci, dband, n, null=DATA)
        else:
            dband, vd = (np.nan, np.nan), NOT_APPLICABLE
        return {"name": name, "n_prompts": int(rows["prompt"].nunique()), "n_units": n, "slope": r4(fit),
                "slope_ci": [r4(ci[0]), r4(ci[1])], "verdict": both(vr, vd),
                "null_random": {"band": [r4(rband[0]), r4(rband[1])], "verdict": vr},
                "null_data": {"band": None if vd == NOT_APPLICABLE else [r4(dband[0]), r4(dband[1])], "verdict": vd}}

    def finding(self) -> str:
        lo, hi = self.slope_ci
        rs = self.random_slopes
        band = self.random_band()
        v, vr = self.band_verdict(), self.random_verdict()
        s = (f"Steerability: the concept score moves {self.slope:+.3f} per unit strength (95 % CI {lo:+.3f} to "
             f"{hi:+.3f}, n = {self.n_units} prompt × seed units); {len(rs)} random directions of the same norm, on "
             f"the same prompts, seeds and strengths, give slopes of {band[0]:+.3f} to {band[1]:+.3f} (mean ± 2 sd)")
        if self.has_data_null:
            db, dn = self.data_band(), self.data_null
            s += (f"; {dn.n_splits} data-shaped null directions (the same construction on two random sets of "
                  f"{dn.sizes[0]} and {dn.sizes[1]} neutral sentences, same norm) give {db[0]:+.3f} to {db[1]:+.3f}. ")
        else:
            reason = self.data_null.reason if self.data_null is not None else "no data-shaped null was run"
            s += f". Data-shaped null: not applicable ({reason}). "
        if v == "beyond random":
            s += ("Verdict: steers beyond random (the interval clears the random band and the data-shaped band)."
                  if self.has_data_null else "Verdict: steers beyond random (the interval clears the band).")
        elif vr.startswith("beyond"):          # cleared the isotropic band, not the data-shaped one
            s += ("Verdict: not distinguishable from a meaningless direction built from neutral text: the interval "
                  "clears the isotropic random band but lies inside the data-shaped band." if v.startswith("within") else
                  f"Verdict: inconclusive: the interval clears the isotropic random band but overlaps the data-shaped "
                  f"band (a direction built from neutral text moves the meter this much), at n = {self.n_units} units.")
        elif v.startswith("within") and v != vr:
            s += ("Verdict: not distinguishable from a meaningless direction built from neutral text (the interval "
                  "lies inside the data-shaped band; it overlaps the random band).")
        else:
            s += ("Verdict: not distinguishable from a random direction (the interval lies inside the band)."
                  if v == "within random band" else
                  f"Verdict: inconclusive: the interval overlaps the random band, and with n = {self.n_units} units this "
                  "sweep is underpowered (more prompts would narrow it)." if "underpowered" in v else
                  f"Verdict: inconclusive (the interval overlaps the random band at n = {self.n_units} units).")
        s += f" Wrong-way fraction: {self.wrong_way:.0%} of {self.n_units} prompt × seed units move the other way."
        s += " " + self.degenerate_sentence()
        if self.cliff is not None:
            s += f" From strength ±{self.cliff:g} on, most texts degenerate (repetition, character runs or symbols)."
        name, n = self.prompt_set_name()
        return (f"{s} Measured on {name} ({n} prompt{'s' * (n != 1)}); another set of prompts may give a different "
                "result.")

    def prompt_set_name(self) -> tuple[str, int]:
        """The name of the prompt set this sweep ran (its first :attr:`prompt_sets` entry, else "these prompts")
        and its number of prompts."""
        first = (self.prompt_sets or [{}])[0]
        return first.get("name") or "these prompts", int(first.get("n_prompts") or self.rows["prompt"].nunique())

    def degenerate_counts(self) -> dict:
        """Steered rows flagged degenerate, per kind: ``{kind: (degenerate, rows)}`` for the direction, the random
        directions and (where they ran) the data-null directions, over every nonzero strength."""
        steered = self.rows[self.rows["strength"] != 0]
        return {k: (int(g["degenerate"].sum()), len(g)) for k in ("direction", "random", "data_null")
                if len(g := steered[steered["kind"] == k])}

    def degenerate_sentence(self) -> str:
        """One sentence: how many of the direction's and of the controls' steered texts degenerate."""
        c = self.degenerate_counts()
        if "direction" not in c:
            return ""
        parts = [f"{c['direction'][0]} of the direction's {c['direction'][1]}"]
        if "random" in c:
            parts.append(f"{c['random'][0]} of the random directions' {c['random'][1]}")
        if "data_null" in c:
            parts.append(f"{c['data_null'][0]} of the data-null directions' {c['data_null'][1]}")
        return f"Degenerate steered texts: {', '.join(parts[:-1]) + ' and ' + parts[-1] if len(parts) > 1 else parts[0]}."

    def to_json(self) -> dict:
        """The CLI contract. Top level: ``slope``, ``slope_ci``, ``random_band`` (the random directions'
        slopes, mean ± 2 sd), ``verdict`` (against both nulls: :meth:`band_verdict`), ``n_units``,
        ``n_random``; ``null_random{band, verdict, n}`` (the isotropic random directions) and
        ``null_data{band, verdict, n_splits, slopes, applicable, reason, sizes, neutral, n_texts, seed}``
        (the data-null directions; ``band`` None and ``verdict`` "not applicable" with the ``reason``
        where none ran); ``prompt_sets[]{name, n_prompts, n_units, slope, slope_ci, verdict, null_random,
        null_data}`` (:meth:`prompt_set`: this sweep's prompts, and any other set run beside it). Per
        strength: ``data_mean`` and ``data_band`` (the data-null directions' mean
        effect and its mean ± 2 sd; null where none ran), ``concept`` and
        ``concept_ci``, the direction's mean effect against unsteered, ``random_mean`` and ``random_ci``
        (the random directions' mean effect), ``difference`` and ``difference_ci`` (direction minus random,
        paired over units) with ``difference_null`` (leave-one-out over random directions) and ``verdict``,
        plus every other meter with its interval and the random directions' band."""
        r4 = lambda x: None if x is None or not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        pair = lambda a, b: [r4(a), r4(b)]  # noqa: E731
        ran = self.has_data_null
        dn = self.data_null.to_json() if self.data_null is not None else {"applicable": False,
                                                                           "reason": "no data-shaped null was run"}
        null_data = {**dn, "band": pair(*self.data_band()) if ran else None, "verdict": self.data_verdict(),
                     "n_splits": len(self.data_slopes) if ran else 0,
                     "slopes": [r4(x) for x in self.data_slopes] if ran else []}
        return {"layer": self.layer, "seeds": self.recipe["seeds"], "baseline": self.baseline,
                "tokens_per_second": round(self.tokens_per_second, 1), "seconds": round(self.seconds, 2),
                "slope": r4(self.slope), "slope_ci": pair(*self.slope_ci), "random_band": pair(*self.random_band()),
                "random_slopes": [r4(x) for x in self.random_slopes], "verdict": self.band_verdict(),
                "null_random": {"band": pair(*self.random_band()), "verdict": self.random_verdict(),
                                "n": len(self.random_slopes)},
                "null_data": null_data,
                "prompt_sets": self.prompt_sets or [self.prompt_set("these prompts")],
                "n_units": self.n_units, "n_random": int(self.recipe.get("n_random", 0)),
                "wrong_way_fraction": r4(self.wrong_way), "degenerate_from": self.cliff, "finding": self.finding(),
                "results": [{"strength": r["strength"], "text": t, "n": int(r["n"]), "concept": r4(r["concept"]),
                             "concept_ci": pair(r["concept_lo"], r["concept_hi"]), "effect": r4(r["effect"]),
                             "effect_ci": pair(r["effect_lo"], r["effect_hi"]), "random_mean": r4(r["random_mean"]),
                             "random_ci": pair(r["random_mean_lo"], r["random_mean_hi"]),
                             "difference": r4(r["difference"]), "difference_ci": pair(r["difference_lo"], r["difference_hi"]),
                             "difference_null": pair(r["difference_null_lo"], r["difference_null_hi"]),
                             "verdict": r["verdict"], "degenerate": int(r["degenerate"]),
                             "data_mean": r4(r.get("data_mean", np.nan)),
                             "data_band": pair(r.get("data_lo", np.nan), r.get("data_hi", np.nan)),
                             **{m: {"value": r4(r[m]), "ci": pair(r[f"{m}_lo"], r[f"{m}_hi"]),
                                    "random_band": pair(r[f"{m}_random_lo"], r[f"{m}_random_hi"])} for m in METERS}}
                            for r, t in zip(self.summary.to_dict("records"), self.texts)]}



METERS = ("distinct2", "typicality", "kl")   # meters besides the concept effect, each with an interval and a band
RANGES = {"distinct2": (0.0, 1.0), "typicality": (-np.inf, 0.0), "kl": (0.0, np.inf)}   # where each meter can lie




def distinct2(token_ids: list[int]) -> float:
    """Distinct bigrams / bigrams (1 = no repetition). ``love love love`` scores low.

    >>> distinct2([1, 1, 1, 1]), distinct2([1, 2, 3, 4])
    (0.3333333333333333, 1.0)
    """
    pairs = list(zip(token_ids, token_ids[1:]))
    return len(set(pairs)) / len(pairs) if pairs else 1.0


def degenerate(text: str, distinct_2: float, n_tokens: int) -> bool:
    """A text that has stopped being language: repeated bigrams (distinct-2 below :data:`DEGENERATE`
    over at least 8 tokens), one character run :data:`RUN` times or more ("!!!!", "1111"), or mostly
    symbols.

    >>> degenerate("#tamlyn!!!1111", 1.0, 6), degenerate("I think that you are kind.", 1.0, 7)
    (True, False)
    """
    if distinct_2 < DEGENERATE and n_tokens >= 8:
        return True
    chars = [c for c in str(text) if not c.isspace()]
    if any(len(set(chars[i:i + RUN])) == 1 for i in range(len(chars) - RUN + 1)):
        return True
    symbols = sum(not (c.isalnum() or c in ".,;:'\"?!-()") for c in chars)
    return len(chars) >= 8 and symbols / len(chars) > SYMBOLS


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


def concept_matrix(encoder, texts: list[str], meters: list[tuple[list[str], list[str]]]) -> np.ndarray:
    """``(meters, texts)``: each text's concept score under each meter (positive texts, negative texts), as
    :func:`concept_scores`, with every text and pole embedded once."""
    poles = list(dict.fromkeys(t for p, n in meters for t in list(p) + list(n)))
    E = embed(encoder, list(texts) + poles)
    T, at = E[: len(texts)], {t: E[len(texts) + i] for i, t in enumerate(poles)}
    out = []
    for p, n in meters:
        pm, nm = np.mean([at[t] for t in p], 0), np.mean([at[t] for t in n], 0)
        out.append(T @ (pm / np.linalg.norm(pm)) - T @ (nm / np.linalg.norm(nm)))
    return np.stack(out)


def kl_from(first_logprobs: np.ndarray, base: np.ndarray) -> np.ndarray:
    """KL(row || base) for each row of first-token log-probs."""
    p = np.exp(first_logprobs)
    return (p * (first_logprobs - base[None, :])).sum(-1)


def sweep(lm, encoder, prompt, direction: Direction, strengths, *, max_new_tokens: int = 40,
          seeds=SEEDS, do_sample: bool = True, n_random: int = N_RANDOM, positions: str = "all", poles=None,
          on_token=None, seed: int | None = None, runner=None, n_splits: int = N_SPLITS, neutral=None) -> Sweep:
    """One batched decode of every row: for each prompt × seed, the baseline (strength 0), and at each
    nonzero strength the direction and ``n_random`` random unit directions of the same norm (the matched
    control: same prompts, seeds and strengths). With greedy decoding the seeds collapse to one.
    ``prompt`` may be a list of prompts.

    A direction built from two sets of texts also gets its data-shaped null
    (:func:`latent.walk.null.data_null`): ``n_splits`` directions built the same way from random subsets
    of the ``neutral`` texts (None: the shipped set), each run like a random direction (kind
    ``data_null``), decoded after the others in requests of their own (at most ``MAX_ROWS`` rows each).

    ``runner(request) -> Generation`` decodes through a shared scheduler (the app passes one, so rows
    from many sessions share batches); without it the rows go through this thread's door
    (:func:`latent.core.requests.door_for`: in the app, a lesson's reveal and warm-up), else decode here. Either way ``on_token(step,
    texts)`` streams the first prompt's (first seed's) texts so far: the unsteered row, then the direction
    at each nonzero strength in order (a runner is then called as ``runner(request, on_texts)``, with
    ``on_texts(step, texts of every row of the request)``). With ``on_token`` those rows (the cards)
    decode first, in a request of their own, then the rest in a second one (called without
    ``on_texts``); ``on_token(max_new_tokens, texts)`` says the cards are done in between."""
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    strengths = check_strengths(strengths)
    seeds = [int(seed)] if seed is not None else list(seeds)
    seeds = seeds if do_sample else seeds[:1]
    direction.check(d_model=lm.d_model, n_layers=lm.n_layers)
    nonzero = [s for s in strengths if s != 0]
    unit = direction.unit() if direction.norm > 1e-8 else np.zeros(lm.d_model, np.float32)
    rand = random_directions(lm.d_model, n_random, seed=direction.layer)
    null = data_null(lm, direction, neutral, n_splits) if nonzero else data_null(lm, direction, neutral, 0)
    rows = []  # (kind, prompt index, seed, strength, direction index, unit vector)
    for pi in range(len(prompts)):          # every control runs on the same prompts, seeds and strengths
        for sd in seeds:
            rows.append(("baseline", pi, sd, 0.0, -1, np.zeros_like(unit)))
            for s in nonzero:
                rows.append(("direction", pi, sd, s, -1, unit))
                rows += [("random", pi, sd, s, j, rand[j]) for j in range(n_random)]
    if len(rows) > MAX_ROWS:
        raise DirectionError(f"{len(rows)} rows ({len(prompts)} prompts × {len(seeds)} seeds × (1 + {len(nonzero)} "
                             f"strengths × (1 + {n_random} random directions))) is over the {MAX_ROWS}-row limit of one "
                             "batch: use fewer prompts, seeds, strengths or random directions.")
    n_main = len(rows)
    rows += [("data_null", pi, sd, s, j, null.vectors[j]) for pi in range(len(prompts)) for sd in seeds
             for s in nonzero for j in range(null.n_splits)]
    norm = float(typical_norms(lm)[direction.layer])
    added = np.stack([r[3] * norm * r[5] for r in rows]).astype(np.float32)
    request = GenerateRequest.make([prompts[r[1]] for r in rows], [r[2] for r in rows], layer=direction.layer,
                                   added=added, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                   positions=positions, typicality=True)
    first_dir = [i for i, r in enumerate(rows) if r[0] in ("baseline", "direction") and r[1] == 0
                 and r[2] == seeds[0]]
    data_parts = [list(range(i, min(i + MAX_ROWS, len(rows)))) for i in range(n_main, len(rows), MAX_ROWS)]
    if on_token is None or len(first_dir) == n_main:
        parts = [list(range(n_main))] + data_parts
        lead = _decode(lm, request.take(parts[0]) if data_parts else request, runner, on_token)
    else:
        # streamed: the cards' rows decode first, as a batch of their own, so the cards fill in at once
        # instead of after the prompt pass over every row; then every other row. Rows do not depend on
        # the batch they decode in (each has its own seed), so the result is the one-batch result.
        lead = _decode(lm, request.take(first_dir), runner, on_token)
        on_token(max_new_tokens, lead.texts)          # the cards are done; the other rows follow
        lead_rows = set(first_dir)
        parts = [first_dir, [i for i in range(n_main) if i not in lead_rows]] + data_parts
    gens = [lead] + [_decode(lm, request.take(p), runner, None) for p in parts[1:]]
    gen = gens[0] if len(parts) == 1 else Generation.gather(gens, parts)
    pos, neg = poles or pole_texts(direction)
    meter = np.array([1 + r[4] if r[0] == "data_null" else 0 for r in rows])   # a data-null row: its split's meter
    scores = concept_matrix(encoder, gen.texts, [(pos, neg)] + [tuple(map(list, p)) for p in null.poles])
    concept = scores[meter, np.arange(len(rows))]
    table = pd.DataFrame({"kind": [r[0] for r in rows], "prompt": [prompts[r[1]] for r in rows],
                          "seed": [r[2] for r in rows], "strength": [r[3] for r in rows],
                          "random_direction": [r[4] for r in rows], "text": gen.texts, "concept": concept,
                          "typicality": gen.extra["typicality"], "distinct2": [distinct2(t) for t in gen.token_ids],
                          "tokens": [len(t) for t in gen.token_ids]})
    base_idx = {(r[1], r[2]): i for i, r in enumerate(rows) if r[0] == "baseline"}
    base_of = [base_idx[(r[1], r[2])] for r in rows]
    table["effect"] = concept - scores[meter, base_of]        # against the baseline, read by the same meter
    table["kl"] = [float(kl_from(gen.first_logprobs[i:i + 1], gen.first_logprobs[b])[0]) for i, b in enumerate(base_of)]
    table["degenerate"] = [degenerate(t, d2, n) for t, d2, n in zip(table["text"], table["distinct2"], table["tokens"])]
    sw = _summarise(lm, prompts, direction, strengths, seeds, table, norm, gen, max_new_tokens, do_sample,
                    positions, n_random)
    sw.data_null = null
    sw.recipe.update(n_splits=n_splits, neutral=list(neutral or ()))     # asked for; what ran: sw.data_null
    return sw


def _decode(lm, request: GenerateRequest, runner, on_token):
    """Decode one request, through ``runner`` where given (see :func:`sweep`), streaming its rows' texts to
    ``on_token(step, texts)``."""
    if runner is not None:
        return runner(request, on_token) if on_token else runner(request)
    door = None if on_token else door_for(lm, request)     # the app's scheduler (a lesson's reveal or warm-up)
    if door is not None:
        return door(request)
    on_rows = (lambda step, per: on_token(step, per[0])) if on_token else None
    return decode_rows(lm, [request], on_rows=on_rows)[0]


RANDOM, DATA = "random", "data-shaped"      # the two nulls a verdict names
NOT_APPLICABLE = "not applicable"


def verdict(lo: float, hi: float, band: tuple[float, float], n: int, null: str = RANDOM) -> str:
    """An interval against a null band: beyond it, within it, or overlapping it (and then, on fewer than
    :data:`UNDERPOWERED` units, said to be underpowered). ``null`` names the band: the isotropic random
    directions' (:data:`RANDOM`) or the data-null directions' (:data:`DATA`).

    >>> verdict(0.3, 0.5, (-0.1, 0.1), 12), verdict(-0.05, 0.05, (-0.1, 0.1), 12), verdict(0.0, 0.4, (-0.1, 0.1), 3)
    ('beyond random', 'within random band', 'inconclusive: underpowered (n = 3)')
    >>> verdict(0.3, 0.5, (-0.1, 0.1), 12, DATA), verdict(0.0, 0.4, (-0.1, 0.1), 12, DATA)
    ('beyond data-shaped null', 'overlaps data-shaped band: inconclusive')
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"n = {n}: no interval"
    if lo > band[1] or hi < band[0]:
        return "beyond random" if null == RANDOM else f"beyond {null} null"
    if band[0] <= lo and hi <= band[1]:
        return f"within {null} band"
    return f"inconclusive: underpowered (n = {n})" if n < UNDERPOWERED else f"overlaps {null} band: inconclusive"


def both(random_verdict: str, data_verdict: str) -> str:
    """The verdict against both nulls: "beyond random" only when the interval clears the isotropic band and
    the data-shaped band (or the data-shaped null does not apply); else a "within" verdict of either null
    (the random one first); else the random verdict when that was not "beyond"; else the data-shaped one.

    >>> both("beyond random", "beyond data-shaped null"), both("beyond random", "not applicable")
    ('beyond random', 'beyond random')
    >>> both("beyond random", "within data-shaped band"), both("beyond random", "overlaps data-shaped band: inconclusive")
    ('within data-shaped band', 'overlaps data-shaped band: inconclusive')
    >>> both("overlaps random band: inconclusive", "within data-shaped band"), both("within random band", "beyond data-shaped null")
    ('within data-shaped band', 'within random band')
    """
    if data_verdict == NOT_APPLICABLE:
        return random_verdict
    if random_verdict.startswith("beyond") and data_verdict.startswith("beyond"):
        return "beyond random"
    for v in (random_verdict, data_verdict):
        if v.startswith("within"):
            return v
    return data_verdict if random_verdict.startswith("beyond") else random_verdict


def _versus_random(g: pd.DataFrame, r: pd.DataFrame, col: str) -> dict:
    """The direction's rows ``g`` against the random directions' rows ``r`` at one strength, on the same
    (prompt, seed) units, mean against mean: the random directions' mean with its interval over the
    directions, the paired difference with its interval over units, and the null band of that
    difference: each random direction against the mean of the others (leave-one-out)."""
    units = ["prompt", "seed"]
    per_dir = r.groupby("random_direction")[col].mean()               # each random direction's mean effect
    rm, rlo, rhi = t_interval(per_dir.to_numpy())
    diff = (g.set_index(units)[col] - r.groupby(units)[col].mean()).dropna()
    dm, dlo, dhi = t_interval(diff.to_numpy())
    loo = [per_dir[k] - per_dir.drop(k).mean() for k in per_dir.index] if len(per_dir) > 2 else []
    null = sd_band(loo) if loo else (np.nan, np.nan)
    return {"random_mean": rm, "random_mean_lo": rlo, "random_mean_hi": rhi, "difference": dm, "difference_lo": dlo,
            "difference_hi": dhi, "difference_null_lo": null[0], "difference_null_hi": null[1],
            "band": sd_band(per_dir.to_numpy()), "n_units": len(diff)}


def _slopes(table: pd.DataFrame):
    """From a sweep's rows: the direction's slope with its interval (baseline and direction rows), each
    random direction's and each data-null direction's slope (the baseline rows and its own), and the
    (prompt, seed) units."""
    own = table[table["kind"].isin(["baseline", "direction"])]
    base = own[own["kind"] == "baseline"]
    fit, fit_ci = slope(own["strength"].to_numpy(float), own["effect"].to_numpy(float))

    def each(kind):
        return np.array([slope(np.r_[base["strength"].to_numpy(float), g["strength"].to_numpy(float)],
                               np.r_[base["effect"].to_numpy(float), g["effect"].to_numpy(float)])[0]
                         for _, g in table[table["kind"] == kind].groupby("random_direction")])
    return fit, fit_ci, each("random"), each("data_null"), int(own.groupby(["prompt", "seed"]).ngroups)


def _summarise(lm, prompts, direction, strengths, seeds, table, norm, gen, max_new_tokens, do_sample, positions,
               n_random) -> Sweep:
    own = table[table["kind"].isin(["baseline", "direction"])]
    rnd = table[table["kind"] == "random"]
    dat = table[table["kind"] == "data_null"]
    out = []
    for s in strengths:
        g = own[own["strength"] == s]
        c, clo, chi = t_interval(g["concept"])
        e, elo, ehi = t_interval(g["effect"])
        row = {"strength": s, "coefficient": s * norm, "n": len(g), "n_random": 0, "concept": c, "concept_lo": clo,
               "concept_hi": chi, "effect": e, "effect_lo": elo, "effect_hi": ehi,
               "degenerate": int(g["degenerate"].sum())}
        if s == 0:       # every direction is the unsteered baseline here: the baseline rows are the control
            row.update(random_mean=e, random_mean_lo=elo, random_mean_hi=ehi, difference=0.0, difference_lo=0.0,
                       difference_hi=0.0, difference_null_lo=0.0, difference_null_hi=0.0, random_lo=0.0,
                       random_hi=0.0, verdict="baseline")
            ctrl_bands = {m: sd_band(g[m]) for m in METERS}
        elif not (rnd["strength"] == s).any():           # no random directions asked for: no control
            row.update(random_mean=np.nan, random_mean_lo=np.nan, random_mean_hi=np.nan, difference=np.nan,
                       difference_lo=np.nan, difference_hi=np.nan, difference_null_lo=np.nan,
                       difference_null_hi=np.nan, random_lo=np.nan, random_hi=np.nan, verdict="no random control")
            ctrl_bands = {m: (np.nan, np.nan) for m in METERS}
        else:
            r = rnd[rnd["strength"] == s]
            v = _versus_random(g, r, "effect")
            null = (v["difference_null_lo"], v["difference_null_hi"])
            row.update({k: v[k] for k in ("random_mean", "random_mean_lo", "random_mean_hi", "difference",
                                          "difference_lo", "difference_hi", "difference_null_lo",
                                          "difference_null_hi")})
            row["random_lo"], row["random_hi"] = v["band"]     # where one random direction's mean effect lies
            row["n_random"] = int(r["random_direction"].nunique())
            row["verdict"] = verdict(v["difference_lo"], v["difference_hi"], null, v["n_units"])
            ctrl_bands = {m: sd_band(r.groupby("random_direction")[m].mean().to_numpy()) for m in METERS}
        dn = dat[dat["strength"] == s]          # the data-null directions: their mean effect and its band
        per_split = dn.groupby("random_direction")["effect"].mean().to_numpy()
        row["n_data"] = len(per_split)
        row["data_mean"] = float(per_split.mean()) if len(per_split) else (0.0 if s == 0 else np.nan)
        row["data_lo"], row["data_hi"] = (sd_band(per_split) if len(per_split) > 1 else
                                          (0.0, 0.0) if s == 0 else (np.nan, np.nan))
        for m in METERS:                      # the other meters: the same interval, and the random directions'
            # band of means over the same units (mean against mean); KL's n is the prompts, since the
            # first token's distribution does not depend on the sampling seed
            vals = g.groupby("prompt")[m].mean() if m == "kl" else g[m]
            lo, hi = RANGES[m]                # intervals and bands clipped to the meter's range
            v_, vlo, vhi = t_interval(vals)
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = v_, *(float(np.clip(x, lo, hi)) for x in (vlo, vhi))
            row[f"{m}_random_lo"], row[f"{m}_random_hi"] = (float(np.clip(x, lo, hi)) for x in ctrl_bands[m])
        out.append(row)
    summary = pd.DataFrame(out)
    fit, fit_ci, random_slopes, data_slopes, _ = _slopes(table)
    unit_slopes = [slope(g["strength"].to_numpy(float), g["effect"].to_numpy(float))[0]
                   for _, g in own.groupby(["prompt", "seed"])]
    wrong = float(np.mean([u < 0 for u in unit_slopes])) if unit_slopes else float("nan")
    base_typicality = summary.loc[summary["strength"] == 0, "typicality"].mean()
    bad = summary[(summary["strength"] != 0) & ((summary["degenerate"] > summary["n"] / 2) |
                                                 (summary["typicality"] < base_typicality - 1.0))]
    cliff = float(bad["strength"].abs().min()) if len(bad) and (summary["strength"] == 0).any() else None
    first = own[(own["prompt"] == prompts[0]) & (own["seed"] == seeds[0])].set_index("strength")["text"]
    texts = [first.get(s, "") for s in strengths]
    return Sweep(prompts[0], direction.layer, strengths, texts, first.get(0.0, ""), table, summary, fit, fit_ci,
                 random_slopes, wrong, len(unit_slopes), cliff, [s * norm for s in strengths], gen.seconds,
                 gen.tokens_per_second,
                 {"prompts": list(prompts), "strengths": strengths, "layer": direction.layer,
                  "seeds": seeds, "max_new_tokens": max_new_tokens, "do_sample": do_sample, "positions": positions,
                  "n_random": n_random, "direction": direction.to_dict()}, data_slopes=data_slopes)


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
    m = (direction.recipe or {}).get("massive")           # pooled as the direction's texts were (massive tokens out or in)
    X = mean_pool(lm, texts, direction.layer, keep_massive=not m or bool(m.get("kept"))).vectors
    u = direction.unit()
    x = X @ u
    R = X - np.outer(x, u)
    R = R - R.mean(0)
    y = R @ np.linalg.svd(R, full_matrices=False)[2][0]
    kind = ["baseline"] + ["generation"] * len(sw.texts) + ["positive pole"] * len(pos) + ["negative pole"] * len(neg)
    strength = [0.0] + list(sw.strengths) + [np.nan] * (len(pos) + len(neg))
    return pd.DataFrame({"x": x, "y": y, "kind": kind, "strength": strength, "text": texts})
