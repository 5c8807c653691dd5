"""The disambiguation studio: separability per layer and a context dose-response for one word.

Example::

    >>> rep = analyze(lm, get_builtin("queen"), QUEEN_STEPS)        # doctest: +SKIP
    >>> rep.best_layer, rep.steps[-1].predicted_sense
    (9, 'bee')
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from latent.core.direction import Direction
from latent.core.lens import lens_topk
from latent.senses.sets import SenseError, SenseSet, centroids, loo_accuracy, sense_probs, silhouette, word_states
from latent.core.errors import check_layer

# the seed thread's order: bare "queen", then honey, worker, hive and beeswax added one at a time
QUEEN_STEPS = ["queen", "honey queen", "honey worker queen", "honey worker hive queen",
               "honey worker hive beeswax queen"]
MAX_STEPS = 12


@dataclass
class Step:
    context: str
    probs: np.ndarray            # (layers, senses)
    next_tokens: list[tuple[str, float]]
    predicted_sense: str = ""


@dataclass
class SenseReport:
    word: str
    senses: list[str]
    readout: str
    layers: list[int]
    accuracy: np.ndarray         # (layers,)
    silhouette: np.ndarray       # (layers,)
    best_layer: int
    layer: int                   # the layer used for predictions and the map
    steps: list[Step]
    sentences: pd.DataFrame      # sense, sentence
    X: np.ndarray = field(repr=False, default=None)        # (sentences, layers, d)
    Q: np.ndarray = field(repr=False, default=None)        # (steps, layers, d)

    def probs_table(self) -> pd.DataFrame:
        rows = [{"step": i, "context": s.context, "layer": L, "sense": name, "prob": float(s.probs[li, k])}
                for i, s in enumerate(self.steps) for li, L in enumerate(self.layers)
                for k, name in enumerate(self.senses)]
        return pd.DataFrame(rows)

    def separability_table(self) -> pd.DataFrame:
        return pd.DataFrame({"layer": self.layers, "accuracy": self.accuracy, "silhouette": self.silhouette})

    def target(self) -> str:
        """The sense the last step lands on (at the report's layer)."""
        return self.steps[-1].predicted_sense

    def pull(self, target: str | None = None) -> str:
        """Gradual or a jump? Finds the step that moves P(target) most and its share of the total."""
        if len(self.steps) < 3:
            return "Add at least two context steps to judge whether the pull is gradual or a jump."
        li = self.layers.index(self.layer)
        target = target if target in self.senses else self.target()
        k = self.senses.index(target)
        p = np.array([s.probs[li, k] for s in self.steps])
        total = p[-1] - p[0]
        if abs(total) < 0.05:
            return f"P({target}) barely moves ({p[0]:.2f} → {p[-1]:.2f}) at layer {self.layer}."
        inc = np.diff(p) / total
        j = int(inc.argmax())
        head = f"At layer {self.layer}, P({target}) goes {p[0]:.2f} → {p[-1]:.2f}. "
        if inc[j] >= 0.6:
            return head + (f"It is a jump: step {j + 1} ({self.steps[j + 1].context!r}) makes {inc[j]:.0%} of "
                           f"the change; the first added step makes {inc[0]:+.0%}.")
        return head + f"The pull is gradual: no single step makes more than {inc.max():.0%} of the change."

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


def analyze(lm, sset: SenseSet, contexts: list[str], *, readout: str = "echo", layer: int | None = None,
            pooling: str = "last", k_next: int = 5) -> SenseReport:
    """Separability of the set at every layer, then sense probabilities for each context step."""
    sset.validate()
    contexts = [c for c in contexts if c and c.strip()]
    if not contexts:
        raise SenseError("Empty context: give at least one context step.")
    if len(contexts) > MAX_STEPS:
        raise SenseError(f"{len(contexts)} context steps is too many; the limit is {MAX_STEPS}.")
    if layer is not None:
        check_layer(layer, lm.n_layers, error=SenseError)
    names = sset.names
    sents = [(n, s) for n in names for s in sset.senses[n]]
    labels = np.array([names.index(n) for n, _ in sents])
    layers = list(range(lm.n_layers + 1))
    X = word_states(lm, [s for _, s in sents], sset.word, readout, pooling)     # (sentences, layers, d)
    Q = word_states(lm, contexts, sset.word, readout, pooling)                  # (steps, layers, d)
    acc, sil = loo_accuracy(X, labels, len(names)), silhouette(X, labels)
    best = int(layers[int(np.lexsort((-sil, -acc))[0])])                        # accuracy, then silhouette
    use = best if layer is None else layer
    mean, C = centroids(X, labels, len(names))
    P = sense_probs(Q, mean, C)                                                 # (steps, layers, senses)
    from latent.core.hidden import hidden_states

    last = [r.at(lm.n_layers)[-1] for r in hidden_states(lm, contexts, layers=[lm.n_layers])]
    nexts = lens_topk(lm, np.stack(last), k=k_next)
    steps = [Step(c, P[i], nexts[i], names[int(P[i, layers.index(use)].argmax())]) for i, c in enumerate(contexts)]
    table = pd.DataFrame({"sense": [n for n, _ in sents], "sentence": [s for _, s in sents]})
    return SenseReport(sset.word, names, readout, layers, acc, sil, best, use, steps, table, X, Q)


def sense_map(rep: SenseReport, seed: int = 0) -> pd.DataFrame:
    """2-D PCA map at the report's layer: sentences (by sense) and steps (as a path)."""
    from latent.core.project import Projector, unit_rows

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


def compare_readouts(lm, sset: SenseSet) -> dict[str, dict]:
    """Best-layer leave-one-out accuracy of each readout on the set's sentences."""
    names = sset.validate().names
    sents = [(n, s) for n in names for s in sset.senses[n]]
    labels = np.array([names.index(n) for n, _ in sents])
    out = {}
    for r in ("word", "echo"):
        acc = loo_accuracy(word_states(lm, [s for _, s in sents], sset.word, r), labels, len(names))
        out[r] = {"best_layer": int(acc.argmax()), "accuracy": float(acc.max())}
    return out
