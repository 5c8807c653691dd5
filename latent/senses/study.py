"""The disambiguation studio: separability per layer and a context dose-response for one word.

Example::

    >>> rep = analyze(lm, get_builtin("queen"), QUEEN_STEPS)        # doctest: +SKIP
    >>> rep.best_layer, rep.steps[-1].predicted_sense  # doctest: +SKIP
    (9, 'bee')
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latent.core.direction import Direction
from latent.core.errors import check_layer
from latent.core.hidden import hidden_states
from latent.core.lens import lens_topk
from latent.core.models import embed
from latent.core.project import Projector, unit_rows
from latent.core.stats import clopper_pearson, rng
from latent.core.store import memo, store
from latent.senses import calibration as cal
from latent.senses.sets import SenseError, SenseSet, _center_unit, centroids, heldout_sentences, silhouette, word_states

# the seed thread's order: bare "queen", then honey, worker, hive and beeswax added one at a time
QUEEN_STEPS = ["queen", "honey queen", "honey worker queen", "honey worker hive queen",
               "honey worker hive beeswax queen"]
MAX_STEPS = 12


@dataclass
class Step:
    context: str
    probs: np.ndarray            # (layers, senses) calibrated: softmax(sims / fitted temperature per layer)
    next_tokens: list[tuple[str, float]]
    predicted_sense: str = ""    # a sense, or "unclear" (no more confident than sense-free contexts)
    sims: np.ndarray = field(default=None, repr=False)   # (layers, senses) raw centred cosine
    margin: float | None = None  # named steps: cosine to the nearest sense minus the threshold
    margin_ci: tuple[float, float] | None = None   # its 95 % interval from the threshold's bootstrap
    barely: bool = False         # named, but the margin's interval includes 0: no p is shown


@dataclass
class Orders:
    """Which added word moves P(target) most, averaged over the orders the words can come in."""

    words: list[str]
    target: str                  # the sense the full context lands on, averaged over all orders
    share_mean: np.ndarray       # (words,) share of the positive movement, 0-1, averaged over orders
    share_sd: np.ndarray
    top_fraction: np.ndarray     # (words,) fraction of orders in which the word makes the biggest move
    n_orders: int
    verdict: str

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"word": self.words, "share_mean": self.share_mean, "share_sd": self.share_sd,
                             "largest_move_in_fraction_of_orders": self.top_fraction})


@dataclass
class SenseReport:
    word: str
    senses: list[str]
    readout: str
    layers: list[int]
    accuracy: np.ndarray         # (layers,) leave-one-out, in-sample choice of layer
    silhouette: np.ndarray       # (layers,)
    best_layer: int
    layer: int                   # the layer used for predictions and the map
    steps: list[Step]
    sentences: pd.DataFrame      # sense, sentence
    X: np.ndarray = field(repr=False, default=None)        # (sentences, layers, d)
    Q: np.ndarray = field(repr=False, default=None)        # (steps, layers, d)
    temperatures: np.ndarray = field(repr=False, default=None)   # (layers,) fitted by leave-one-out likelihood
    calibration: object = None                             # Calibration at the report's layer
    null_max_accuracy: np.ndarray = field(repr=False, default=None)  # shuffled labels, best over layers
    nested_accuracy: float = float("nan")                   # layer chosen on the other sentences
    baselines: dict = field(default_factory=dict)           # name -> (layers,) accuracy or scalar
    null_contexts: list = field(default_factory=list)       # [(context, cosine to its nearest sense at layer)]
    unclear_below: float = 1.0                               # cosine needed to name a sense (see Abstention)
    orders: Orders | None = None
    abstention: Abstention | None = None
    support: cal.PSupport | None = None                     # how high a printed p may go (held-out check)

    @property
    def null_accuracy_p95(self) -> float:
        return float(np.percentile(self.null_max_accuracy, 95))

    def probs_table(self) -> pd.DataFrame:
        rows = [{"step": i, "context": s.context, "layer": L, "sense": name, "prob": float(s.probs[li, k]),
                 "cosine": float(s.sims[li, k])}
                for i, s in enumerate(self.steps) for li, L in enumerate(self.layers)
                for k, name in enumerate(self.senses)]
        return pd.DataFrame(rows)

    def separability_table(self) -> pd.DataFrame:
        t = pd.DataFrame({"layer": self.layers, "accuracy": self.accuracy, "silhouette": self.silhouette})
        for name, v in self.baselines.items():
            t[name] = v
        t["shuffled_labels_best_layer_p95"] = self.null_accuracy_p95
        return t

    def reliability_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.calibration.table)

    def separability_summary(self) -> str:
        """One paragraph: the best layer against the shuffled-label null and the controls."""
        a = float(self.accuracy.max())
        s = (f"Best layer {self.best_layer}: leave-one-out accuracy {a:.2f} over n = {len(self.X)} sentences "
             f"({len(self.senses)} senses). Choosing the layer on the other sentences only (nested) gives "
             f"{self.nested_accuracy:.2f}. With the senses shuffled, the best layer reaches {self.null_accuracy_p95:.2f} "
             f"(95th percentile of {len(self.null_max_accuracy)} shuffles): ")
        s += "the separation is real, not layer-picking." if self.nested_accuracy > self.null_accuracy_p95 else \
            "the separation does not clear the null."
        if self.layer != self.best_layer and self.abstention is not None:
            s += (f" Contexts are read at layer {self.layer}, where the naming rule names the most of the set's own "
                  f"sentences ({self.abstention.coverage:.0%}) while staying right on at least 95 % of them: chosen on "
                  "the set and the sense-free contexts only.")
        for name, v in self.baselines.items():
            s += f" Control, {name}: {float(np.max(v)):.2f}."
        if self.readout == "echo":
            s += (" The echo readout reads a token appended after the text, which carries mostly the sentence's "
                  "topic: where the unrelated-word control scores as well, the map shows topic, not the word itself.")
        return s

    def calibration_summary(self) -> str:
        c = self.calibration
        ok = "within" if c.calibrated else "outside"
        return (f"Probabilities use a temperature fitted by leave-one-out likelihood ({c.temperature:.3g} at layer "
                f"{c.layer}). On held-out sentences (n = {c.n}) the calibration error is {c.ece:.3f} (the fixed "
                f"temperature 0.1 gave {c.ece_fixed:.3f}); a perfectly calibrated model shows up to "
                f"{c.ece_null_p95:.3f} at this n, so this is {ok} sampling noise. Calibration holds for sentences "
                f"like the sense set's. A step is named a sense only when it is closer (cosine {self.unclear_below:.2f}) "
                f"to a sense than {NULL_LEVEL:.0%} of {len(self.null_contexts)} sense-free contexts, otherwise it is "
                "'unclear'. " + (self.abstention.summary() if self.abstention else ""))

    def target(self) -> str:
        """The sense the last step lands on (at the report's layer), by highest probability."""
        li = self.layers.index(self.layer)
        return self.senses[int(self.steps[-1].probs[li].argmax())]

    def pull(self, target: str | None = None, pending: bool = False) -> str:
        """What the context does to P(target), judged over word orders, not one order (``pending``: the
        word-order control is still computing)."""
        li = self.layers.index(self.layer)
        target = target if target in self.senses else (self.orders.target if self.orders else self.target())
        k = self.senses.index(target)
        p = [float(s.probs[li, k]) for s in self.steps]
        head = (f"At layer {self.layer}, P({target}) goes {self._pull_p(p[0])} → {self._pull_p(p[-1])} over the steps "
                "(printed no higher than held-out accuracy supports). ")
        if self.orders is None and pending:
            return head + "Which word pulls is still computing (over the orders the words can come in)."
        if self.orders is None:
            return head + "Add context words in front of the word (as in the queen steps) to see which word pulls."
        return head + self.orders.verdict

    def _pull_p(self, p: float) -> str:
        """A probability in the pull line, capped as a named step's p is ("0.62", "≥ 0.80", "withheld")."""
        shown = self.shown_p(p)
        return shown[2:] if shown.startswith("= ") else shown

    @property
    def p_name(self) -> str:
        """ "p" where the held-out calibration check passed at the layer, else "score"."""
        return "p" if self.calibration is not None and self.calibration.calibrated else "score"

    def shown_p(self, p: float) -> str:
        """A named step's probability as printed ("= 0.62", "≥ 0.80" or "withheld"; see :class:`PSupport`)."""
        return self.support.shown(p) if self.support is not None else f"= {p:.2f}"

    def reading(self, s: Step) -> str:
        """One step's sense as the page and a lesson reveal say it: "unclear", "barely named: band (margin
        +0.004 [−0.010, +0.020])" (no p), or "bee, p = 0.62" / "bee, p ≥ 0.80" (capped by held-out accuracy)."""
        if s.predicted_sense == "unclear":
            return "unclear"
        if s.barely:
            return f"barely named: {s.predicted_sense} ({margin_text(s)})"
        li = self.layers.index(self.layer)
        shown = self.shown_p(float(s.probs[li].max()))
        if shown == "withheld":
            return f"{s.predicted_sense}, {self.p_name} withheld"
        return f"{s.predicted_sense}, {self.p_name} {shown}"

    def readings_table(self) -> pd.DataFrame:
        """Per step: what is named, with its margin over the threshold and that margin's interval."""
        return pd.DataFrame([{"step": i, "context": s.context, "reading": self.reading(s),
                              "margin": None if s.margin is None else round(s.margin, 4),
                              "margin_ci": None if s.margin_ci is None else f"[{s.margin_ci[0]:+.3f}, {s.margin_ci[1]:+.3f}]"}
                             for i, s in enumerate(self.steps)])

    def readings_note(self) -> str:
        """How to read the readings table: the margin rule and what a printed p rests on."""
        a = self.abstention
        s = ""
        if a is not None and a.threshold_ci is not None:
            s = (f"A step is named when its cosine to the nearest sense clears {a.threshold:.3f} (95 % of sense-free "
                 f"contexts; resampling them gives [{a.threshold_ci[0]:.3f}, {a.threshold_ci[1]:.3f}] over {a.n_boot} "
                 "draws). Where the margin's interval includes 0 the step is 'barely named' and shows no p. ")
        if self.support is not None:
            s += "A printed p: " + self.support.note() + "."
        return s

    def to_json(self) -> dict:
        """The CLI contract: layers, separability with its null and controls, calibration, the
        abstention threshold, and per step the predicted sense, probabilities, cosines and next tokens."""
        li = self.layers.index(self.layer)
        r4 = lambda x: round(float(x), 4)  # noqa: E731

        def step(s):
            out = {"context": s.context, "predicted_sense": s.predicted_sense,
                   "scores": {n: r4(s.sims[li, k]) for k, n in enumerate(self.senses)},
                   "next_tokens": [{"token": t, "prob": round(p, 5)} for t, p in s.next_tokens]}
            if s.predicted_sense != "unclear":      # a named step: its margin over the threshold, with its interval
                out.update(margin=r4(s.margin), margin_ci=[r4(x) for x in s.margin_ci], barely=bool(s.barely),
                           reading=self.reading(s))
            if s.predicted_sense != "unclear" and not s.barely:   # unclear or barely named: scores, no probabilities
                out["probabilities"] = {n: r4(s.probs[li, k]) for k, n in enumerate(self.senses)}
                out["calibrated"] = bool(self.calibration and self.calibration.calibrated)
                out["p_shown"] = self.shown_p(float(s.probs[li].max()))
            return out
        return {"word": self.word, "best_layer": self.best_layer, "senses": self.senses,
                "separability": {str(L): r4(a) for L, a in zip(self.layers, self.accuracy)},
                "nested_accuracy": r4(self.nested_accuracy), "null_accuracy_p95": r4(self.null_accuracy_p95),
                "controls": {k: (r4(v) if np.isscalar(v) else r4(np.max(v))) for k, v in self.baselines.items()},
                "calibration": {**self.calibration.to_json(),
                                "domain": "held-out sentences of this sense set (not rows of context words)"},
                "abstention": self.abstention.to_json() if self.abstention else None,
                "p_support": self.support.to_json() if self.support else None,
                "steps": [step(s) for s in self.steps],
                "orders": self.orders.table().round(4).to_dict("records") if self.orders else None,
                "pull": self.pull(), "readout": self.readout, "layer": self.layer}

    def direction(self, toward: str, away: str, layer: int | None = None) -> Direction:
        """Sense direction (centroid of ``toward`` − centroid of ``away``) for steering or axes."""
        layer = self.layer if layer is None else layer
        li = self.layers.index(layer)
        for s in (toward, away):
            if s not in self.senses:
                raise SenseError(f"Unknown sense {s!r}. Must be one of: {', '.join(self.senses)}")
        lab = self.sentences["sense"].to_numpy()
        return Direction.from_states(self.X[lab == toward, li], self.X[lab == away, li], layer,
                                     recipe={"kind": "sense", "word": self.word, "toward": toward, "away": away,
                                             "readout": self.readout},
                                     positive=f"{self.word}: {toward}", negative=f"{self.word}: {away}")


N_BOOT_THRESHOLD = 1000  # resamples of the sense-free contexts for the threshold's interval
NULL_LEVEL = 0.95        # a step is named when its nearest sense is closer than this share of sense-free contexts
NEUTRAL_FRAMES = ("{w}", "The word {w}.", "Spell {w}.", "{w} is a word.", "Say '{w}' twice.", "The letters of {w}.",
                  "A word: {w}.", "Type {w}.", "Repeat: {w} {w}.", "'{w}' has {n} letters.")


def null_contexts(word: str, n_letters: int = 40, n_digits: int = 10, seed: int = 0) -> list[str]:
    """Sense-free contexts for ``word``: frames that talk about the word as a string (none picks a
    meaning, unlike "Look up {w} in a dictionary" or "The {w} is here", which read its default sense),
    random letter strings and digit strings before it (seeded)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    junk = [" ".join("".join(rng.choice(letters, rng.integers(3, 7))) for _ in range(int(rng.integers(1, 4))))
            + f" {word}" for _ in range(n_letters)]
    digits = [" ".join(str(x) for x in rng.integers(0, 10, int(rng.integers(2, 6)))) + f" {word}" for _ in range(n_digits)]
    return [f.format(w=word, n=len(word)) for f in NEUTRAL_FRAMES] + junk + digits


@dataclass
class Abstention:
    """When a step is named a sense, and how well that rule does where it can be checked. A step is named
    when the set separates its senses beyond shuffled labels and the step's nearest sense is closer than
    :data:`NULL_LEVEL` of the sense-free contexts (so about 1 in 20 of those would be named). Coverage and
    selective accuracy are measured on the sense set's own sentences, each held out of its centroid; the
    sense-free rate is cross-fitted (the threshold from one half of the null contexts, the rate on the
    other)."""

    threshold: float
    separable: bool
    coverage: float
    coverage_ci: tuple[float, float]
    selective_accuracy: float
    selective_ci: tuple[float, float]
    null_named_rate: float
    null_ci: tuple[float, float]
    n: int
    n_null: int
    threshold_ci: tuple[float, float] | None = None     # 95 % bootstrap interval over the sense-free contexts
    n_boot: int = 0

    def margin(self, score: float) -> tuple[float, tuple[float, float], bool]:
        """A named step's margin (``score`` − threshold, in cosine), its 95 % interval from the threshold's
        bootstrap, and whether that interval includes 0 ("barely named").

        >>> a = Abstention(0.477, True, 1, (0, 1), 1, (0, 1), 0, (0, 1), 1, 60, (0.46, 0.50), 1000)
        >>> [round(x, 3) for x in a.margin(0.481)[1]], a.margin(0.481)[2], a.margin(0.52)[2]
        ([-0.019, 0.021], True, False)
        """
        lo, hi = self.threshold_ci if self.threshold_ci is not None else (self.threshold, self.threshold)
        ci = (float(score - hi), float(score - lo))
        return float(score - self.threshold), ci, bool(ci[0] <= 0)

    @property
    def rule(self) -> str:
        return (f"name a sense when the sense set separates beyond shuffled labels and the step's cosine to its nearest "
                f"sense exceeds the {NULL_LEVEL:.0%} point of {self.n_null} sense-free contexts; otherwise 'unclear'. "
                f"A named step whose margin over that point has a 95 % interval (from {self.n_boot} resamples of the "
                "sense-free contexts) including 0 is 'barely named' and shows no probability")

    def to_json(self) -> dict:
        r = lambda x: None if x is None or not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        return {"rule": self.rule, "threshold": r(self.threshold), "separable": self.separable,
                "coverage": r(self.coverage), "coverage_ci": [r(x) for x in self.coverage_ci],
                "selective_accuracy": r(self.selective_accuracy), "selective_ci": [r(x) for x in self.selective_ci],
                "null_named_rate": r(self.null_named_rate), "null_ci": [r(x) for x in self.null_ci], "n": self.n,
                "n_null": self.n_null,
                "threshold_ci": None if self.threshold_ci is None else [r(x) for x in self.threshold_ci],
                "n_boot": self.n_boot}

    def summary(self) -> str:
        if not self.separable:
            return ("The senses do not separate beyond shuffled labels at this layer, so every step is 'unclear'.")
        return (f"A sense is named on {self.coverage:.0%} of the sense set's held-out sentences (n = {self.n}, "
                f"95 % [{self.coverage_ci[0]:.0%}, {self.coverage_ci[1]:.0%}]) and right on {self.selective_accuracy:.0%} "
                f"of those (95 % [{self.selective_ci[0]:.0%}, {self.selective_ci[1]:.0%}]); {self.null_named_rate:.0%} of "
                f"held-out sense-free contexts are named (n = {self.n_null}, 95 % [{self.null_ci[0]:.0%}, "
                f"{self.null_ci[1]:.0%}]). Checked on sentences like the set's, not on rows of context words.")


def abstention(S_loo_layer: np.ndarray, labels: np.ndarray, null_top: np.ndarray, separable: bool,
               seed: int = 0) -> Abstention:
    """The rule's threshold and its coverage, selective accuracy and sense-free rate (see :class:`Abstention`).

    >>> a = abstention(np.array([[0.9, 0.1], [0.1, 0.8], [0.2, 0.3]]), np.array([0, 1, 0]),
    ...                np.linspace(0.0, 0.5, 40), True)
    >>> round(a.coverage, 2), a.selective_accuracy, a.n
    (0.67, 1.0, 3)
    """
    threshold = float(np.quantile(null_top, NULL_LEVEL))
    threshold_ci = cal.threshold_interval(null_top, NULL_LEVEL, n_boot=N_BOOT_THRESHOLD, seed=seed)
    top = S_loo_layer.max(-1)
    named = (top > threshold) if separable else np.zeros(len(top), bool)
    right = S_loo_layer.argmax(-1) == labels
    k_named, k_right = int(named.sum()), int((named & right).sum())
    hits = int(crossfit_named(null_top, seed).sum()) if separable else 0
    return Abstention(threshold, bool(separable), k_named / len(top), clopper_pearson(k_named, len(top)),
                      k_right / k_named if k_named else float("nan"),
                      clopper_pearson(k_right, k_named) if k_named else (float("nan"), float("nan")),
                      hits / len(null_top), clopper_pearson(hits, len(null_top)), len(top), len(null_top),
                      threshold_ci, N_BOOT_THRESHOLD)


GOAL_SELECTIVE, GOAL_NULL = 0.95, 0.10   # the rule's targets: right on ≥ 95 % of what it names, ≤ 10 % sense-free named


def coverage_layer(S_loo: np.ndarray, labels: np.ndarray, null_top: np.ndarray, separable: np.ndarray, best: int) -> int:
    """The layer a set's steps are read at when none is asked for: where the abstention rule names the most of
    the set's own sentences (each left out of its centroid, ``S_loo (sentences, layers, senses)``) while staying
    right on at least :data:`GOAL_SELECTIVE` of them and naming at most :data:`GOAL_NULL` of the sense-free
    contexts (cross-fitted; ``null_top (contexts, layers)``), at a layer that separates beyond shuffled labels.
    Chosen on the fit sentences and the sense-free contexts only, never on held-out sentences; ties go to
    ``best`` (the best-separating layer), then to higher accuracy; ``best`` where no layer qualifies.

    >>> S = np.zeros((4, 2, 2)); S[:, 1] = [[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]]
    >>> coverage_layer(S, np.array([0, 1, 0, 1]), np.full((40, 2), 0.3), np.array([False, True]), 0)
    1
    """
    acc = (S_loo.argmax(-1) == labels[:, None]).mean(0)
    ok = []
    for li in range(S_loo.shape[1]):
        if not separable[li]:
            continue
        a = abstention(S_loo[:, li], labels, null_top[:, li], True)
        if a.coverage > 0 and a.selective_accuracy >= GOAL_SELECTIVE and a.null_named_rate <= GOAL_NULL:
            ok.append((a.coverage, li == best, float(acc[li]), li))
    return max(ok)[3] if ok else best


def crossfit_named(null_top: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per sense-free context, whether the rule names it with the threshold taken from the *other* half of
    those contexts (seeded halves), so none is judged by a cut-off it helped set."""
    order = rng(seed, "null-halves").permutation(len(null_top))
    a, b = order[: len(order) // 2], order[len(order) // 2:]
    out = np.zeros(len(null_top), bool)
    for x, y in ((a, b), (b, a)):
        out[y] = null_top[y] > np.quantile(null_top[x], NULL_LEVEL)
    return out


def margin_text(s: Step) -> str:
    """ "margin +0.004 [−0.010, +0.020]" for a named step (cosine over the threshold, its 95 % interval)."""
    sign = lambda x: f"{x:+.3f}".replace("-", "−")  # noqa: E731
    return f"margin {sign(s.margin)} [{sign(s.margin_ci[0])}, {sign(s.margin_ci[1])}]"


def context_words(steps: list[str], word: str) -> list[str] | None:
    """The words added in front of ``word`` by the last step (the queen-steps form), else None."""
    last = steps[-1].replace(",", " ").split()
    if len(last) < 3 or last[-1].lower().strip(".") != word.lower():
        return None
    words = last[:-1]
    return words if len(set(words)) == len(words) and len(words) <= 8 else None


def order_effects(P_fn, words: list[str], word: str, senses: list[str], *, max_orders: int = 24,
                  seed: int = 0) -> Orders:
    """Shares of the movement of P(target) per added word, over up to ``max_orders`` orders.

    ``P_fn(contexts) -> (contexts, senses)`` probabilities at the report's layer. The orders are
    all permutations of the sorted words (or a seeded sample of them), and the target is the sense
    the full context lands on on average over those orders, so the order in which the user typed
    the words cannot change the answer.
    """

    words = sorted(words)
    perms = list(itertools.permutations(range(len(words))))
    if len(perms) > max_orders:
        rng = np.random.default_rng(seed)
        perms = [perms[i] for i in rng.choice(len(perms), max_orders, replace=False)]
    contexts = [word] + [" ".join(words[j] for j in perm[:m]) + f" {word}"
                         for perm in perms for m in range(1, len(words) + 1)]
    P_all = P_fn(contexts)
    finals = P_all[1:].reshape(len(perms), len(words), -1)[:, -1]       # (orders, senses) full contexts
    k = int(finals.mean(0).argmax())
    P = P_all[:, k]
    base, rest = P[0], P[1:].reshape(len(perms), len(words))
    shares = np.zeros((len(perms), len(words)))
    top = np.zeros(len(words))
    first_biggest = 0
    for o, perm in enumerate(perms):
        delta = np.diff(np.concatenate([[base], rest[o]]))           # move made by each added word
        pos = np.maximum(delta, 0)
        for m, j in enumerate(perm):
            shares[o, j] = pos[m] / pos.sum() if pos.sum() > 1e-9 else 0.0
        top[perm[int(delta.argmax())]] += 1
        first_biggest += int(delta.argmax() == 0 and pos[0] > 0.5 * pos.sum())
    mean, sd, frac = shares.mean(0), shares.std(0), top / len(perms)
    j = int(mean.argmax())
    total = float(rest[:, -1].mean() - base)
    if abs(total) < 0.05:
        verdict = f"The words barely move it (mean change {total:+.2f} over {len(perms)} orders): no jump to name."
    elif mean[j] >= 0.5 and frac[j] >= 0.75:
        verdict = (f"Over {len(perms)} orders of the words, '{words[j]}' makes {mean[j]:.0%} ± {sd[j]:.0%} of the "
                   f"upward movement and is the biggest step in {frac[j]:.0%} of orders: a jump at '{words[j]}'.")
    elif first_biggest >= 0.75 * len(perms):
        verdict = (f"Over {len(perms)} orders the first word added, whichever it is, makes most of the move "
                   f"(in {first_biggest} of {len(perms)} orders): each of these words alone is enough, so no "
                   "single word is 'the' jump.")
    else:
        verdict = (f"Over {len(perms)} orders no single word dominates: the largest mean share is '{words[j]}' with "
                   f"{mean[j]:.0%} ± {sd[j]:.0%}, biggest step in {frac[j]:.0%} of orders. The pull depends on "
                   "the order or is spread over the words.")
    verdict = f"Target: {senses[k]} (where the full context lands, averaged over orders). " + verdict
    return Orders(words, senses[k], mean, sd, frac, len(perms), verdict)


@dataclass
class SenseFit:
    """Everything a report needs that depends on the sense set (and readout, pooling, layer choice and
    the encoder control), not on the context steps: the sentences' states, separability per layer with
    its shuffled null, nested layer choice and baselines, the fitted temperatures, the centroids, the
    sense-free contexts and the abstention rule. Computed once per set (the result store keeps it), so
    adding a context step costs only that step."""

    word: str
    names: list[str]
    readout: str
    pooling: str
    layers: list[int]
    labels: np.ndarray
    X: np.ndarray
    accuracy: np.ndarray
    silhouette: np.ndarray
    best: int
    use: int
    temps: np.ndarray
    mean: np.ndarray
    C: np.ndarray
    null_top: np.ndarray
    nulls: list[str]
    shuffled: np.ndarray
    rule: Abstention
    baselines: dict
    nested: float
    calibration: object
    table: pd.DataFrame
    support: cal.PSupport | None = None

    def probs_and_sims(self, Qx: np.ndarray):
        sims = np.einsum("qld,lkd->qlk", _center_unit(Qx, self.mean), self.C)
        return cal.softmax(sims / self.temps[None, :, None]), sims

    def predict(self, probs: np.ndarray, sims: np.ndarray) -> str:
        li = self.use
        if self.rule.separable and sims[li].max() > self.rule.threshold:
            return self.names[int(probs[li].argmax())]
        return "unclear"

    def step(self, context: str, probs: np.ndarray, sims: np.ndarray, next_tokens) -> Step:
        """A scored context: its sense or "unclear", and for a named one its margin over the threshold."""
        s = Step(context, probs, next_tokens, self.predict(probs, sims), sims)
        if s.predicted_sense != "unclear":
            s.margin, s.margin_ci, s.barely = self.rule.margin(float(sims[self.use].max()))
        return s


def _check(lm, contexts: list[str] | None, layer: int | None) -> list[str]:
    contexts = [c for c in (contexts or []) if c and c.strip()]
    if not contexts:
        raise SenseError("Empty context: give at least one context step.")
    if len(contexts) > MAX_STEPS:
        raise SenseError(f"{len(contexts)} context steps is too many; the limit is {MAX_STEPS}.")
    if layer is not None:
        check_layer(layer, lm.n_layers, error=SenseError)
    return contexts


def fit_senses(lm, sset: SenseSet, *, readout: str = "echo", layer: int | None = None, pooling: str = "last",
               encoder=None, n_perm: int = 200) -> SenseFit:
    """The per-set half of :func:`analyze` (see :class:`SenseFit`)."""
    sset.validate()
    if layer is not None:
        check_layer(layer, lm.n_layers, error=SenseError)
    names, K = sset.names, len(sset.names)
    sents = [(n, s) for n in names for s in sset.senses[n]]
    labels = np.array([names.index(n) for n, _ in sents])
    layers = list(range(lm.n_layers + 1))
    nulls = null_contexts(sset.word)
    X = word_states(lm, [s for _, s in sents], sset.word, readout, pooling)     # (sentences, layers, d)
    N = word_states(lm, nulls, sset.word, readout, pooling)                      # (nulls, layers, d)
    S_loo = cal.loo_sims(X, labels, K)                                          # (sentences, layers, K)
    acc = (S_loo.argmax(-1) == labels[:, None]).mean(0)
    sil = silhouette(X, labels)
    best = int(layers[int(np.lexsort((-sil, -acc))[0])])                        # accuracy, then silhouette
    temps = np.array([cal.fit_temperature(S_loo[:, li], labels) for li in range(len(layers))])
    mean, C = centroids(X, labels, K)
    sims_n = np.einsum("qld,lkd->qlk", _center_unit(N, mean), C)
    shuffled = cal.shuffled_max_accuracy(X, labels, K, n_perm=n_perm)
    separable = acc > np.quantile(shuffled, 0.95)
    use = coverage_layer(S_loo, labels, sims_n.max(-1), separable, best) if layer is None else layer
    null_top = sims_n[:, use].max(-1)         # each sense-free context's cosine to its nearest sense
    rule = abstention(S_loo[:, use], labels, null_top, bool(separable[use]))
    baselines = {"appended unrelated word (The weather)": cal.loo_accuracy(
        word_states(lm, [s for _, s in sents], sset.word, readout="echo", pooling=pooling, echo_word="weather"),
        labels, K)}
    if encoder is not None:
        E = embed(encoder, [s for _, s in sents])[:, None, :]
        baselines["sentence encoder (MiniLM)"] = float(cal.loo_accuracy(E, labels, K)[0])
    nested, _ = cal.nested_accuracy(X, labels, K)
    table = pd.DataFrame({"sense": [n for n, _ in sents], "sentence": [s for _, s in sents]})
    f = SenseFit(sset.word, names, readout, pooling, layers, labels, X, acc, sil, best, use, temps, mean, C,
                 null_top, nulls, shuffled, rule, baselines, nested,
                 cal.heldout_calibration(S_loo[:, use], labels, use), table)
    f.support = _support(lm, f, S_loo[:, use])
    return f


def _support(lm, f: SenseFit, S_loo_use: np.ndarray) -> cal.PSupport:
    """The held-out check behind a printed p (see :class:`~latent.senses.calibration.PSupport`): the
    word's held-out sentences outside the set where it has them (else the set's own sentences, each left
    out of its centroid), and the sense-free contexts cross-fitted."""
    null_named = crossfit_named(f.null_top) if f.rule.separable else np.zeros(len(f.null_top), bool)
    held = heldout_sentences(f.word, f.names)
    if held:
        H = word_states(lm, [s for _, s in held], f.word, f.readout, f.pooling)
        _, sims = f.probs_and_sims(H)
        top, truth = sims[:, f.use], np.array([f.names.index(n) for n, _ in held])
        domain = f"{len(held)} held-out sentences outside the set and the sense-free contexts"
    else:
        top, truth = S_loo_use, f.labels
        domain = "the set's own sentences, each left out of its centroid, and the sense-free contexts"
    named = (top.max(-1) > f.rule.threshold) & f.rule.separable
    return cal.p_support(named, top.argmax(-1) == truth, null_named, domain)


def kept_fit(lm, sset: SenseSet, *, readout: str = "echo", layer: int | None = None, encoder=None) -> SenseFit:
    """:func:`fit_senses` computed once per model and set for the whole process (every session, the Senses
    page and a lesson's "queen" answer alike; a second caller waits for the first) and kept in the result
    store across processes and restarts."""
    sj = sset.to_json()
    params = {"set": sj, "readout": readout, "layer": layer, "encoder": encoder is not None}
    return memo("senses_fit", (sj, readout, layer, lm.key, encoder is not None),
                lambda: store().cached("senses.fit", params, lm, lambda: fit_senses(
                    lm, sset, readout=readout, layer=layer, encoder=encoder)))


def score_steps(lm, f: SenseFit, contexts: list[str], *, k_next: int = 5) -> tuple[list[Step], np.ndarray]:
    """The per-step half: each context's probabilities and cosines per layer, its sense or "unclear",
    and the model's next tokens after it. Returns the steps and their states (steps, layers, d)."""
    contexts = _check(lm, contexts, None)
    Q = word_states(lm, contexts, f.word, f.readout, f.pooling)
    P, SIMS = f.probs_and_sims(Q)
    last = [r.at(lm.n_layers)[-1] for r in hidden_states(lm, contexts, layers=[lm.n_layers])]
    nexts = lens_topk(lm, np.stack(last), k=k_next)
    return [f.step(c, P[i], SIMS[i], nexts[i]) for i, c in enumerate(contexts)], Q


def word_orders(lm, f: SenseFit, contexts: list[str]) -> Orders | None:
    """The word-order control: which added context word pulls, over the orders the words can come in
    (None when the steps are not one word added at a time)."""
    words = context_words(contexts, f.word)
    if not words:
        return None
    return order_effects(
        lambda cs: f.probs_and_sims(word_states(lm, cs, f.word, f.readout, f.pooling, layers=f.layers))[0][:, f.use],
        words, f.word, f.names)


def report(f: SenseFit, steps: list[Step], Q: np.ndarray, orders: Orders | None = None) -> SenseReport:
    """A :class:`SenseReport` from the two halves (and the word-order control, when computed)."""
    return SenseReport(f.word, f.names, f.readout, f.layers, f.accuracy, f.silhouette, f.best, f.use, steps, f.table,
                       f.X, Q, f.temps, f.calibration, f.shuffled, f.nested, f.baselines,
                       [(c, float(p)) for c, p in zip(f.nulls, f.null_top)], f.rule.threshold, abstention=f.rule,
                       orders=orders, support=f.support)


def analyze(lm, sset: SenseSet, contexts: list[str], *, readout: str = "echo", layer: int | None = None,
            pooling: str = "last", k_next: int = 5, encoder=None, orders: bool = True,
            n_perm: int = 200) -> SenseReport:
    """Separability per layer with its nulls and baselines, calibrated sense probabilities for each
    context step (or "unclear"), and which context word pulls, judged over word orders: the per-set fit
    (:func:`fit_senses`), the steps (:func:`score_steps`) and the word-order control (:func:`word_orders`)."""
    sset.validate()
    contexts = _check(lm, contexts, layer)
    f = fit_senses(lm, sset, readout=readout, layer=layer, pooling=pooling, encoder=encoder, n_perm=n_perm)
    return _scored(lm, f, contexts, k_next, orders)


def _scored(lm, f: SenseFit, contexts: list[str], k_next: int, orders: bool) -> SenseReport:
    """A fit's report on checked contexts: the steps, and the word-order control when asked."""
    steps, Q = score_steps(lm, f, contexts, k_next=k_next)
    return report(f, steps, Q, word_orders(lm, f, contexts) if orders else None)


_steps: OrderedDict = OrderedDict()   # (id(fit), context) -> (Step, its states, fit): a step is scored once
_steps_lock = threading.Lock()


def _kept_steps(lm, f: SenseFit, contexts: list[str]) -> list[tuple]:
    """Each context's (Step, states) with fit ``f``, scoring only the contexts not seen before with it in
    this process (adding a context word costs that word's step)."""
    with _steps_lock:
        missing = [c for c in dict.fromkeys(contexts) if (id(f), c) not in _steps]
    if missing:
        new, Q = score_steps(lm, f, missing)
        with _steps_lock:
            for s, q in zip(new, Q):
                _steps[(id(f), s.context)] = (s, q, f)         # f kept: its id is never reused while cached
            while len(_steps) > 512:
                _steps.popitem(last=False)
    with _steps_lock:
        return [_steps[(id(f), c)] for c in contexts]


def kept_report(lm, sset: SenseSet, contexts: list[str], *, readout: str = "echo", layer: int | None = None,
                encoder=None, orders: bool = True) -> SenseReport:
    """:func:`analyze` at its defaults, kept: the per-set fit from :func:`kept_fit` (once per model and set,
    in the result store), each context step scored once per fit in this process, and with ``orders`` the
    word-order control from :func:`kept_orders` (a page may instead fill it in after drawing the rest).
    The one place a Senses report is put together: the Senses page, the CLI, a recipe and a lesson's
    "queen" answer all ask here, so they share one fit."""
    sset.validate()
    contexts = _check(lm, contexts, layer)            # a bad context is said before the fit, as in analyze
    f = kept_fit(lm, sset, readout=readout, layer=layer, encoder=encoder)
    got = _kept_steps(lm, f, contexts)
    rep = report(f, [g[0] for g in got], np.stack([g[1] for g in got]))
    if orders:
        rep.orders = kept_orders(lm, sset, contexts, readout=readout, layer=layer, encoder=encoder)
    return rep


def kept_orders(lm, sset: SenseSet, contexts: list[str], *, readout: str = "echo", layer: int | None = None,
                encoder=None) -> Orders | None:
    """:func:`word_orders` with the kept fit, computed once per process and kept in the result store."""
    contexts = _check(lm, contexts, layer)
    sj = sset.to_json()
    params = {"set": sj, "readout": readout, "layer": layer, "contexts": contexts}
    return memo("senses_orders", (sj, tuple(contexts), readout, layer, lm.key),
                lambda: store().cached("senses.orders", params, lm, lambda: word_orders(
                    lm, kept_fit(lm, sset, readout=readout, layer=layer, encoder=encoder), contexts)))


def sense_map(rep: SenseReport, seed: int = 0) -> pd.DataFrame:
    """2-D PCA map at the report's layer: sentences (by sense) and steps (as a path)."""

    li = rep.layers.index(rep.layer)
    A = np.concatenate([rep.X[:, li], rep.Q[:, li]])
    A = A - rep.X[:, li].mean(0)
    A = unit_rows(A)
    p = Projector("pca", seed=seed).fit(A[: len(rep.X)])
    Y = p.transform(A)
    n = len(rep.X)
    df = pd.DataFrame({"x": Y[:, 0], "y": Y[:, 1],
                       "kind": ["sentence"] * n + ["step"] * len(rep.steps),
                       "sense": list(rep.sentences["sense"]) + [s.predicted_sense for s in rep.steps],
                       "text": list(rep.sentences["sentence"]) + [s.context for s in rep.steps],
                       "step": [-1] * n + list(range(len(rep.steps)))})
    return df


def compare_readouts(lm, sset: SenseSet, readouts: tuple[str, ...] = ("word", "echo")) -> dict[str, dict]:
    """Best-layer leave-one-out accuracy of each readout on the set's sentences (each readout is its own
    forward pass over them)."""

    names = sset.validate().names
    sents = [(n, s) for n in names for s in sset.senses[n]]
    labels = np.array([names.index(n) for n, _ in sents])
    out = {}
    for r in readouts:
        acc = cal.loo_accuracy(word_states(lm, [s for _, s in sents], sset.word, r), labels, len(names))
        out[r] = {"best_layer": int(acc.argmax()), "accuracy": float(acc.max())}
    return out
