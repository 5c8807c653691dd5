"""One home for the statistics every feature uses: intervals, null bands, permutation nulls and
slopes. Steering, senses and the seed claims all take them from here.

Example::

    >>> [round(v, 3) for v in t_interval(np.array([1.0, 2.0, 3.0]))]
    [2.0, -0.484, 4.484]
    >>> sd_band([1.0, 2.0, 3.0])
    (0.0, 4.0)
"""
from __future__ import annotations

import zlib

import numpy as np
from scipy.stats import beta, linregress
from scipy.stats import t as student

N_BOOT = 2000


def rng(seed: int, *salt) -> np.random.Generator:
    """A generator for one purpose within a run: the same seed and salt give the same numbers."""
    return np.random.default_rng([int(seed), *[s if isinstance(s, int) else zlib.crc32(str(s).encode()) for s in salt]])


def bootstrap_ci(values, seed: int = 0, stat=np.mean, n_boot: int = N_BOOT) -> tuple[float, float]:
    """Percentile 95 % interval of ``stat`` over items resampled with replacement.

    >>> lo, hi = bootstrap_ci(np.arange(100.0), seed=1)
    >>> 43 < lo < 49.5 < hi < 56
    True
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return (float("nan"), float("nan"))
    idx = np.random.default_rng(seed).integers(0, len(v), size=(n_boot, len(v)))
    s = np.array([stat(v[i]) for i in idx]) if stat is not np.mean else v[idx].mean(1)
    return float(np.quantile(s, 0.025)), float(np.quantile(s, 0.975))


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """Exact 95 % interval of a proportion k/n.

    >>> [round(x, 3) for x in clopper_pearson(4, 8)]
    [0.157, 0.843]
    """
    if n == 0:
        return (0.0, 1.0)
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return lo, hi


def sign_flip_band(diffs, seed: int = 0, n_perm: int = N_BOOT) -> tuple[float, float]:
    """95 % band of the mean of paired differences under "no difference" (random sign flips)."""
    m = _sign_flip_means(diffs, seed, n_perm)
    return float(np.quantile(m, 0.025)), float(np.quantile(m, 0.975))


def sign_flip_p(diffs, seed: int = 0, n_perm: int = N_BOOT, side: str = "greater") -> float:
    """One-sided p-value of the mean paired difference under random sign flips."""
    m = _sign_flip_means(diffs, seed, n_perm)
    obs = np.asarray(diffs, dtype=float).mean()
    hits = (m >= obs - 1e-12).sum() if side == "greater" else (m <= obs + 1e-12).sum()
    return float((hits + 1) / (n_perm + 1))


def _sign_flip_means(diffs, seed: int, n_perm: int) -> np.ndarray:
    """Means of the paired differences under ``n_perm`` seeded random sign flips (the paired null)."""
    d = np.asarray(diffs, dtype=float)
    return (np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_perm, len(d))) * d).mean(1)


def band(values) -> tuple[float, float]:
    """The central 95 % of a null distribution's draws."""
    v = np.asarray(values, dtype=float)
    return float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))


def t_interval(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % t-interval (NaN interval for a single value).

    >>> [round(v, 3) for v in t_interval(np.array([1.0, 2.0, 3.0]))]
    [2.0, -0.484, 4.484]
    """
    x = np.asarray(x, float)
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    h = float(student.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def sd_band(x) -> tuple[float, float]:
    """The null band of a control's values: mean ± 2 sd (a single value or none: that value, or 0).
    (:func:`band` is another band: the central 95 % of a null distribution's draws.)

    >>> sd_band([1.0, 2.0, 3.0])
    (0.0, 4.0)
    """
    x = np.asarray(x, float)
    if len(x) > 1:
        return float(x.mean() - 2 * x.std(ddof=1)), float(x.mean() + 2 * x.std(ddof=1))
    return (float(x[0]), float(x[0])) if len(x) else (0.0, 0.0)


def prediction_band(x) -> tuple[float, float]:
    """Where one more draw from the distribution of ``x`` lies (95 % t prediction interval):
    mean ± t(0.975, n − 1) · sd · √(1 + 1/n); NaN for fewer than two values. Wider than mean ± 2 sd when n
    is small (×1.78 at n = 4), as it must be when the sd itself is estimated from a handful of values.

    >>> [round(v, 3) for v in prediction_band([1.0, 2.0, 3.0, 4.0])]
    [-2.093, 7.093]
    """
    x = np.asarray(x, float)
    if len(x) < 2:
        return float("nan"), float("nan")
    h = float(student.ppf(0.975, len(x) - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / len(x)))
    return float(x.mean()) - h, float(x.mean()) + h


def slope(x: np.ndarray, y: np.ndarray) -> tuple[float, tuple[float, float]]:
    """OLS slope of y on x with a 95 % t-interval."""
    if len(np.unique(x)) < 2:
        return float("nan"), (float("nan"), float("nan"))
    r = linregress(x, y)
    h = float(student.ppf(0.975, max(len(x) - 2, 1)) * r.stderr) if len(x) > 2 else float("nan")
    return float(r.slope), (float(r.slope) - h, float(r.slope) + h)


def keep_topk(v: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the k largest-magnitude coordinates of v (last axis)."""
    out = np.zeros_like(v)
    idx = np.argsort(-np.abs(v), axis=-1)[..., :k]
    np.put_along_axis(out, idx, np.take_along_axis(v, idx, -1), -1)
    return out
