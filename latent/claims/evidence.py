"""One evidence standard for every seed-claim experiment: a :class:`Finding` and its verdict.

A finding is an effect with a 95 % interval, the n it rests on, and a null (or control) band
measured in the same run. The verdict comes from the interval against that band, never from a
fixed threshold on the effect alone:

* **supported**: the whole interval lies beyond the null band, on the side the claim predicts;
* **not supported**: the whole interval lies inside the null band or on the other side of it;
* **inconclusive (interval overlaps the null)**: the interval straddles the band's edge.

A number that follows from the parameters alone is not evidence: :func:`arithmetic` makes a
finding whose verdict says so, shown as a worked calculation. A comparison with a floor (a map fitted
on shuffled pairs, an fp32 copy) says only that the measurement is not noise: :func:`floor_check`
labels it "above the floor", never "supported". Each experiment also writes the tab's key sentence
(:attr:`Evidence.headline`) from the same numbers it puts in its JSON, so the two cannot disagree.

Example::

    >>> judge((0.40, 0.55), (0.0, 0.2), "greater")[0]
    'supported'
    >>> judge((0.10, 0.30), (0.0, 0.2), "greater")[0]
    'inconclusive (interval overlaps the null)'
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from latent.core.stats import N_BOOT, bootstrap_ci, sign_flip_band, sign_flip_p

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive (interval overlaps the null)"
ARITHMETIC = "arithmetic (not a verdict)"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, ARITHMETIC)
ABOVE_FLOOR = "above the floor (a floor, not support for the claim)"
NOT_ABOVE_FLOOR = "not above the floor"
FLOOR_VERDICTS = (ABOVE_FLOOR, NOT_ABOVE_FLOOR)


def judge(ci, band, side: str = "greater", target: float | None = None) -> tuple[str, str]:
    """Verdict and its reason from an effect's 95 % interval ``ci`` against the null ``band``.

    ``target`` (optional) is the smallest effect that would count as the claim itself (e.g. "a
    handful of values *contain* the thought": the same next token 9 times in 10). Then the interval
    must also clear the target to support the claim, and an interval wholly short of it does not.
    """
    lo, hi = map(float, ci)
    blo, bhi = map(float, band)
    if side not in ("greater", "less"):
        raise ValueError(f"Unknown side {side!r}. Must be one of: greater, less")
    up = side == "greater"
    iv = f"[{lo:.3g}, {hi:.3g}]"
    edge_null = bhi if up else blo
    name_null = (f"the null value {edge_null:.3g}" if blo == bhi
                 else f"the null band's {'top' if up else 'bottom'} {edge_null:.3g}")
    beyond = (lambda x, e: x > e) if up else (lambda x, e: x < e)
    near, far = (lo, hi) if up else (hi, lo)            # the interval's end nearest the null, and its far end
    word = "above" if up else "below"
    if target is not None and beyond(float(target), edge_null):
        edge, name = float(target), f"the target {float(target):.3g}"
    else:
        edge, name = edge_null, name_null
    if beyond(near, edge):
        return SUPPORTED, f"the whole interval {iv} lies {word} {name}"
    if not beyond(far, edge_null):
        return NOT_SUPPORTED, f"the interval {iv} does not get {word} {name_null}"
    if target is not None and not beyond(far, edge):
        extra = f", although it lies {word} {name_null}" if beyond(near, edge_null) else ""
        return NOT_SUPPORTED, f"the interval {iv} falls short of {name}{extra}"
    return INCONCLUSIVE, f"the interval {iv} straddles {name}"


@dataclass
class Finding:
    """An effect, its 95 % interval, its n, and the null it is judged against (all from one run)."""

    measure: str                       # what the effect is, in words
    effect: float
    ci: tuple[float, float]
    n: int
    null_name: str                     # the control, in words
    null_band: tuple[float, float]     # 95 % range of the null / control, measured in this run
    side: str = "greater"              # the claim predicts an effect above ("greater") or below the band
    null_effect: float | None = None   # the control's own point value, for the chart
    spread: tuple[float, float] | None = None  # 95 % of the statistic under the null (drawn, and its p)
    p: float | None = None             # one-sided p-value from that null distribution, where there is one
    target: float | None = None        # the smallest effect that counts as the claim (see :func:`judge`)
    target_reason: str = ""
    verdict: str = ""
    reason: str = ""

    def __post_init__(self):
        self.effect = float(self.effect)
        self.ci = (float(self.ci[0]), float(self.ci[1]))
        self.null_band = (float(self.null_band[0]), float(self.null_band[1]))
        if self.spread is not None:
            self.spread = (float(self.spread[0]), float(self.spread[1]))
        if not self.verdict:
            self.verdict, self.reason = judge(self.ci, self.null_band, self.side, self.target)

    @property
    def rule(self) -> str:
        if self.verdict == ARITHMETIC:
            return f"No verdict: the number follows from the parameters. Worked: {self.reason}"
        side = "above" if self.side == "greater" else "below"
        target = (f" and {side} {self.target:.3g} ({self.target_reason})" if self.target is not None else "")
        lo, hi = self.null_band
        null = (f"the null value {lo:.3g} ({self.null_name})" if lo == hi
                else f"the null band [{lo:.3g}, {hi:.3g}] ({self.null_name})")
        p = f" One-sided p = {self.p:.3g} from the null distribution drawn beside it." if self.p is not None else ""
        return (f"Supported only if the whole 95 % interval lies {side} {null}{target}; inconclusive if it "
                f"straddles that edge; otherwise not supported. Here {self.reason}.{p}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["ci"], d["null_band"] = list(self.ci), list(self.null_band)
        d["spread"] = list(self.spread) if self.spread is not None else None
        return {k: _round(v) for k, v in d.items()}


def arithmetic(measure: str, value: float, worked: str, n: int = 1) -> Finding:
    """A number that follows from the parameters alone: shown as a worked calculation, never a verdict."""
    return Finding(measure, value, (value, value), n, "none: this is arithmetic, not a measurement",
                   (value, value), verdict=ARITHMETIC, reason=worked)


def _round(v):
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    return v


def paired_finding(measure: str, diffs, seed: int = 0, control: str = "the control", side: str = "greater",
                   **kw) -> Finding:
    """A paired comparison: mean difference with a bootstrap interval, judged against no difference
    (0) from ``control`` measured in the same run; the sign-flip null is drawn and gives a p-value.

    >>> f = paired_finding("x", [1.0, 1.2, 0.9, 1.1, 1.0, 0.8, 1.3, 1.1])
    >>> f.verdict, round(f.p, 3)
    ('supported', 0.003)
    """
    d = np.asarray(diffs, dtype=float)
    spread = sign_flip_band(d, seed=seed)
    p = sign_flip_p(d, seed=seed, side=side)
    return Finding(measure, float(d.mean()), bootstrap_ci(d, seed=seed), len(d),
                   f"no difference from {control} (paired, same items, same run)", (0.0, 0.0), side=side,
                   null_effect=0.0, spread=spread, p=p, **kw)




def unpaired_finding(measure: str, a, b, seed: int = 0, control: str = "the other group", side: str = "greater",
                     **kw) -> Finding:
    """Two independent groups (different items): mean(a) − mean(b), with a bootstrap interval that
    resamples each group on its own, judged against no difference (0).

    >>> f = unpaired_finding("x", [1, 1, 1, 0, 1, 1, 1, 1], [0, 0, 1, 0, 0, 0, 0, 0])
    >>> f.verdict, f.n, round(f.effect, 3)
    ('supported', 16, 0.75)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (a.size and b.size):
        raise ValueError("Both groups need at least one item.")
    g = np.random.default_rng(seed)
    boot = a[g.integers(0, a.size, (N_BOOT, a.size))].mean(1) - b[g.integers(0, b.size, (N_BOOT, b.size))].mean(1)
    return Finding(measure, float(a.mean() - b.mean()), (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))),
                   int(a.size + b.size), f"no difference from {control} (two groups, same run)", (0.0, 0.0), side=side,
                   null_effect=0.0, **kw)


def floor_check(f: Finding) -> Finding:
    """The same finding, labelled as what it is: a floor (a shuffled map, a copy of the model). Clearing a
    floor shows the measurement is not noise; it is not support for the claim, so the verdict says
    :data:`ABOVE_FLOOR` or :data:`NOT_ABOVE_FLOOR` instead of supported / not supported.

    >>> floor_check(paired_finding("x", [1.0, 1.2, 0.9, 1.1, 1.0, 0.8, 1.3, 1.1])).verdict == ABOVE_FLOOR
    True
    """
    if f.verdict in FLOOR_VERDICTS:
        return f
    f.verdict = ABOVE_FLOOR if f.verdict == SUPPORTED else NOT_ABOVE_FLOOR
    f.reason = f"{f.reason} (a floor check: it says the measurement is not noise, not that the claim holds)"
    return f


@dataclass
class Evidence:
    """What the page and the JSON show for one experiment: the claim tested exactly, what was not
    tested, the headline finding (or a worked calculation), and secondary findings."""

    tested: str
    not_tested: str
    finding: Finding
    more: list[Finding] = field(default_factory=list)
    caveat: str = ""        # a sentence computed from the numbers that qualifies the headline verdict
    headline: str = ""      # the tab's key sentence: what the numbers show, generated from the result's numbers
