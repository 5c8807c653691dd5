"""Sense probabilities that mean what they say, and separability with a real null.

Everything here works on word states ``X (sentences, layers, d)`` with integer sense labels.

- **Leave-one-out similarities** (:func:`loo_sims`): each sentence's centred cosine to every
  sense centroid, its own sense's centroid computed without it. States are centred on the mean of
  all sense sentences (label-free) and normalised.
- **Temperature** (:func:`fit_temperature`): the softmax temperature that maximises the
  leave-one-out log-likelihood of the true senses, per layer.
- **Held-out calibration** (:func:`heldout_calibration`): each sentence's probability uses a
  temperature fitted *without* it; expected calibration error (ECE) and a reliability table over
  those held-out probabilities, and the ECE a perfectly calibrated model would show at this n
  (simulated, 95th percentile), so a small set is not blamed for sampling noise.
- **Shuffled-label null** (:func:`shuffled_max_accuracy`): the best-over-layers accuracy reached
  with senses assigned at random; its 95th percentile is the bar a real "best layer" must clear.
- **Selection-corrected accuracy** (:func:`nested_accuracy`): the layer is chosen on the other
  sentences only (nested leave-one-out), then the held-out sentence is scored at that layer.

Example::

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(12, 2, 8)); y = np.repeat([0, 1], 6); X[y == 1, 1] += 3
    >>> loo_sims(X, y, 2).shape, bool(loo_accuracy(X, y, 2)[1] == 1.0)
    ((12, 2, 2), True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TEMPERATURES = np.geomspace(0.003, 3.0, 120)


def _unit(X: np.ndarray) -> np.ndarray:
    """Centre on the mean of all points (per layer) and normalise each point."""
    Y = X - X.mean(axis=0, keepdims=True)
    n = np.linalg.norm(Y, axis=-1, keepdims=True)
    return np.where(n > 1e-8, Y / np.maximum(n, 1e-12), 0.0)


def loo_sims(X: np.ndarray, labels: np.ndarray, K: int) -> np.ndarray:
    """``(n, layers, K)`` cosine of each sentence to each sense centroid, its own left out."""
    U = _unit(np.asarray(X, np.float64))                               # (n, L, d)
    onehot = np.eye(K)[labels]                                         # (n, K)
    S = np.einsum("nk,nld->lkd", onehot, U)                            # class sums (L, K, d)
    dots = np.einsum("nld,lkd->nlk", U, S)                             # U_i · S_k
    sq = np.einsum("lkd,lkd->lk", S, S)[None]                          # |S_k|^2
    self_sq = np.einsum("nld,nld->nl", U, U)[..., None]                # |U_i|^2
    own = onehot[:, None, :]                                           # (n, 1, K)
    num = dots - own * self_sq                                         # (S_k - U_i) · U_i for own k
    norm2 = sq - own * (2 * dots - self_sq)                            # |S_k - U_i|^2
    return num / np.sqrt(np.maximum(norm2, 1e-12))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def loo_accuracy(X: np.ndarray, labels: np.ndarray, K: int) -> np.ndarray:
    """Leave-one-out nearest-centroid accuracy per layer: ``(layers,)``."""
    return (loo_sims(X, labels, K).argmax(-1) == labels[:, None]).mean(0)


def _nll_grid(S: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(n, temperatures)`` negative log-likelihood of each sentence's true sense (one layer)."""
    z = S[:, None, :] / TEMPERATURES[None, :, None]                  # (n, T, K)
    z = z - z.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -logp[np.arange(len(S)), :, labels]


def fit_temperature(S: np.ndarray, labels: np.ndarray) -> float:
    """The temperature maximising the leave-one-out log-likelihood at one layer (``S (n, K)``)."""
    return float(TEMPERATURES[_nll_grid(S, labels).sum(0).argmin()])


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = 5) -> float:
    """Expected calibration error: mean |accuracy − confidence| over equal-width bins, weighted by count."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(correct[m].mean() - conf[m].mean())
    return float(total / max(len(conf), 1))


def reliability(conf: np.ndarray, correct: np.ndarray, bins: int = 5) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return [{"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int((idx == b).sum()),
             "confidence": float(conf[idx == b].mean()) if (idx == b).any() else float("nan"),
             "accuracy": float(correct[idx == b].mean()) if (idx == b).any() else float("nan")}
            for b in range(bins)]


@dataclass
class Calibration:
    layer: int
    temperature: float          # fitted on all sentences (used for new contexts)
    ece: float                  # held-out (nested) ECE with fitted temperatures
    ece_fixed: float            # held-out ECE of the old fixed temperature (0.1), for comparison
    ece_null_p95: float         # 95th percentile of ECE for a perfectly calibrated model at this n
    accuracy: float             # held-out accuracy at this layer
    n: int
    table: list[dict]           # reliability bins

    @property
    def calibrated(self) -> bool:
        return self.ece <= self.ece_null_p95

    def to_json(self) -> dict:
        return {"layer": self.layer, "temperature": round(self.temperature, 4), "ece": round(self.ece, 4),
                "ece_fixed_tau_0.1": round(self.ece_fixed, 4), "ece_null_p95": round(self.ece_null_p95, 4),
                "heldout_accuracy": round(self.accuracy, 4), "n": self.n}


def heldout_calibration(S: np.ndarray, labels: np.ndarray, layer: int, *, fixed_tau: float = 0.1,
                        seed: int = 0, n_sim: int = 2000) -> Calibration:
    """Held-out probabilities at one layer (``S (n, K)`` leave-one-out sims): sentence ``i`` uses a
    temperature fitted on the other sentences' NLL. Returns ECE, reliability and the simulated null."""
    nll = _nll_grid(S, labels)                                          # (n, T)
    total = nll.sum(0)
    conf, correct = np.empty(len(S)), np.empty(len(S))
    for i in range(len(S)):
        t = TEMPERATURES[(total - nll[i]).argmin()]
        p = softmax(S[i] / t)
        conf[i], correct[i] = p.max(), float(p.argmax() == labels[i])
    fixed = softmax(S / fixed_tau)
    e_fixed = ece(fixed.max(-1), (fixed.argmax(-1) == labels).astype(float))
    rng = np.random.default_rng(seed)
    sims = rng.random((n_sim, len(conf))) < conf[None, :]              # outcomes of a calibrated model
    null = np.array([ece(conf, s.astype(float)) for s in sims])
    return Calibration(layer, fit_temperature(S, labels), ece(conf, correct), e_fixed,
                       float(np.percentile(null, 95)), float(correct.mean()), len(S), reliability(conf, correct))


def shuffled_max_accuracy(X: np.ndarray, labels: np.ndarray, K: int, *, n_perm: int = 200,
                          seed: int = 0) -> np.ndarray:
    """Best-over-layers leave-one-out accuracy with the sense labels shuffled: ``(n_perm,)``."""
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(labels) for _ in range(n_perm)])     # the same draws as one at a time
    U = _unit(np.asarray(X, np.float64))                                  # label-free: centred once
    G = np.einsum("nld,mld->lnm", U, U)                                   # (L, n, n) dot products
    self_sq = np.einsum("lnn->nl", G)[None, ..., None]                    # |U_i|^2
    out = np.empty(n_perm)
    for lo in range(0, n_perm, 50):                                       # 50 labellings at a time
        onehot = np.eye(K)[perms[lo:lo + 50]]                             # (p, n, K)
        dots = np.einsum("lnm,pmk->pnlk", G, onehot)                      # U_i · S_k, as in loo_sims
        sq = np.einsum("pnk,pnlk->plk", onehot, dots)[:, None]            # |S_k|^2
        own = onehot[:, :, None, :]
        num = dots - own * self_sq
        norm2 = sq - own * (2 * dots - self_sq)
        sims = num / np.sqrt(np.maximum(norm2, 1e-12))
        acc = (sims.argmax(-1) == perms[lo:lo + 50, :, None]).mean(1)     # (p, L)
        out[lo:lo + 50] = acc.max(-1)
    return out


def nested_accuracy(X: np.ndarray, labels: np.ndarray, K: int) -> tuple[float, list[int]]:
    """Selection-corrected accuracy: for each held-out sentence the layer is picked by the
    leave-one-out accuracy of the *other* sentences; returns the accuracy and the picked layers."""
    n = len(X)
    hits, picked = 0, []
    full = loo_sims(X, labels, K)
    for i in range(n):
        keep = np.arange(n) != i
        inner = (loo_sims(X[keep], labels[keep], K).argmax(-1) == labels[keep][:, None]).mean(0)
        best = int(inner.argmax())
        picked.append(best)
        hits += int(full[i, best].argmax() == labels[i])
    return hits / n, picked


def threshold_interval(null_top: np.ndarray, level: float, *, n_boot: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the ``level`` quantile of ``null_top`` (the sense-free contexts' cosines),
    over ``n_boot`` resamples of those contexts with replacement (seeded): the abstention threshold's own
    uncertainty.

    >>> lo, hi = threshold_interval(np.linspace(0, 1, 60), 0.95)
    >>> bool(lo < np.quantile(np.linspace(0, 1, 60), 0.95) < hi)
    True
    """
    x = np.asarray(null_top, np.float64)
    idx = np.random.default_rng(seed).integers(0, len(x), (n_boot, len(x)))
    q = np.quantile(x[idx], level, axis=1)
    return float(np.percentile(q, 2.5)), float(np.percentile(q, 97.5))


P_FLOOR = 0.5           # below this lower bound held-out accuracy supports no printed p at all


@dataclass
class PSupport:
    """How high a printed sense probability may go: the accuracy of the abstention rule on contexts outside
    the set's centroids and temperature fit, among those it names (held-out sentences, right when their
    sense is named; sense-free contexts, always wrong when named). A step's p is printed as it is up to the
    95 % lower bound of that accuracy (Clopper-Pearson, floored to 0.01), as "≥ bound" above it, and not
    at all when the bound is under :data:`P_FLOOR` or nothing held out was named.

    >>> s = PSupport(n=25, right=24, ci=(0.80, 0.999), domain="d", n_sentences=30, n_null=60, n_null_named=1)
    >>> s.shown(0.62), s.shown(0.998), s.supports(0.99)
    ('= 0.62', '≥ 0.80', False)
    """

    n: int                      # held-out contexts the rule names
    right: int                  # of those, named with their own sense (a sense-free context never is)
    ci: tuple[float, float]
    domain: str                 # which contexts were held out
    n_sentences: int            # held-out sentences checked
    n_null: int                 # sense-free contexts checked (cross-fitted: threshold from the other half)
    n_null_named: int

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else float("nan")

    @property
    def ceiling(self) -> float:
        """The highest p printed as it is (0 where none is supported)."""
        lo = float(np.floor(self.ci[0] * 100) / 100) if self.n else 0.0
        return lo if lo >= P_FLOOR else 0.0

    def supports(self, p: float) -> bool:
        return bool(self.ceiling > 0 and p <= self.ceiling)

    def shown(self, p: float) -> str:
        """The p as printed after "p(sense) ": "= 0.62", "≥ 0.80", or "withheld"."""
        if self.ceiling <= 0:
            return "withheld"
        return f"= {p:.2f}" if self.supports(p) else f"≥ {self.ceiling:.2f}"

    def note(self) -> str:
        """What the printed p rests on, for a caption or a reveal."""
        if not self.n:
            return f"no p is printed: no held-out context ({self.domain}) was named, so nothing checks it"
        s = (f"held-out accuracy {self.accuracy:.2f} (95 % [{self.ci[0]:.2f}, {self.ci[1]:.2f}], n = {self.n} named "
             f"of {self.n_sentences} sentences and {self.n_null} sense-free contexts outside the fit; "
             f"{self.n_null_named} sense-free named)")
        if self.ceiling <= 0:
            return s + f": under {P_FLOOR:.1f} at its lower bound, so no p is printed"
        return s + f": a p is printed no higher than {self.ceiling:.2f}, its lower bound"

    def to_json(self) -> dict:
        r = lambda x: None if x is None or not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        return {"rule": "a p is printed as it is up to the 95 % lower bound of held-out accuracy, as '≥ bound' "
                        f"above it, and withheld where that bound is under {P_FLOOR}",
                "n": self.n, "right": self.right, "accuracy": r(self.accuracy), "ci": [r(x) for x in self.ci],
                "ceiling": r(self.ceiling), "domain": self.domain, "n_sentences": self.n_sentences,
                "n_null": self.n_null, "n_null_named": self.n_null_named}


def p_support(named: np.ndarray, right: np.ndarray, null_named: np.ndarray, domain: str) -> PSupport:
    """:class:`PSupport` from held-out sentences (``named``, ``right``: bool per sentence) and the
    cross-fitted sense-free contexts (``null_named``: bool per context)."""
    from latent.core.stats import clopper_pearson  # noqa: PLC0415 - keeps this module numpy-only at import

    named, right, null_named = (np.asarray(a, bool) for a in (named, right, null_named))
    n = int(named.sum() + null_named.sum())
    k = int((named & right).sum())
    ci = clopper_pearson(k, n) if n else (float("nan"), float("nan"))
    return PSupport(n, k, ci, domain, len(named), len(null_named), int(null_named.sum()))
