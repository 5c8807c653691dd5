"""Massive tokens: the few token states whose norm dwarfs the rest of their layer.

Small causal LMs park huge activations on a handful of tokens (attention sinks; Sun et al. 2024,
"Massive Activations in Large Language Models"): the start token (dropped everywhere, see
:mod:`latent.core.hidden`), and at some layers a text's **first word** and a few weak words
(SmolLM2: " the" after a preposition; Gemma 3: commas, spaces, " and"). Such a state is mostly one
shared huge vector, not the token's meaning: massive points of unrelated texts are each other's
nearest neighbours at cosine ~0.99, and a mean over a text's tokens is pulled toward them.

**The rule** (one for the whole app, per model): a token is massive at a layer when its norm exceeds
``MULTIPLE`` (4) × that layer's median token norm on reference text (:func:`typical_norms`, the same
median that scales steering strength). Measured on 51 varied texts (docs/models.md, "Massive tokens"):
SmolLM2-135M flags 4-5 % of the points at layers 3-9 (first words such as "Hello", "Water", "Love", and
" the" after a preposition), which hold 48-79 % of the squared norm there, plus one first word ("Thank")
at layers 12-26; Gemma 3 270M flags only layer 1 (commas, spaces, " and": 3 % of the points, 80 % of the
squared norm). Gemma leaves 3-4× empty, so 4 sits in its gap; on SmolLM2 the massive tokens rise at layer
2 and fade at 9-10 through 2.5-5×, so any multiple cuts a few of those edges.

Example::

    >>> rule = MassiveRule(4.0, (1.0, 10.0))
    >>> massive_mask(np.array([[30.0, 0.0], [50.0, 0.0], [3.0, 4.0]]), 1, rule).tolist()
    [False, True, False]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MULTIPLE = 4.0          # a token is massive above MULTIPLE × its layer's median norm (docs/models.md: why 4)


@dataclass(frozen=True)
class MassiveRule:
    """``multiple`` × ``layer_median[L]`` is layer L's threshold (``layer_median`` indexed by layer, 0 = embeddings)."""

    multiple: float
    layer_median: tuple[float, ...]

    def threshold(self, layer) -> np.ndarray:
        return self.multiple * np.asarray(self.layer_median, np.float64)[np.asarray(layer)]

    def to_json(self) -> dict:
        return {"multiple": float(self.multiple), "layer_median": [round(float(m), 4) for m in self.layer_median]}

    def describe(self) -> str:
        return f"norm over {self.multiple:g}× the layer's median token norm"


def massive_mask(states, layers, rule: MassiveRule) -> np.ndarray:
    """True where a token's state is massive under ``rule``.

    ``states`` is ``(..., d)``; ``layers`` is one layer for every row, or one layer per leading index:
    ``(L,)`` for ``(L, tokens, d)`` (a :class:`~latent.core.hidden.TextStates`' ``states``), or ``(points,)``
    for ``(points, d)``. Returns ``states.shape[:-1]`` booleans."""
    norms = np.linalg.norm(np.asarray(states, np.float32), axis=-1)
    t = rule.threshold(layers)
    t = t.reshape(t.shape + (1,) * (norms.ndim - t.ndim))
    return norms > t


def typical_norms(lm) -> np.ndarray:
    """Median per-token residual norm at every layer ``(n_layers+1,)``, measured once per model
    on the seed dialogues' first turns (start token excluded), and kept in the result store (every page
    that steers or marks massive tokens needs it at once: 4 s per new process on SmolLM2 otherwise)."""
    from latent.core.corpus import all_turns, load_corpus  # noqa: PLC0415 - the corpus and torch: only when measured
    from latent.core.hidden import hidden_states  # noqa: PLC0415 - torch: only when measured
    from latent.core.store import store  # noqa: PLC0415 - the store: only when measured

    def measure():
        chars = min(400, (lm.max_positions - 2) // 4)  # fits the context even at 4 tokens per character
        texts = [t.text[:chars] for _, t in all_turns(load_corpus())][:24]
        res = hidden_states(lm, texts)
        norms = np.concatenate([np.linalg.norm(r.states, axis=-1) for r in res], axis=1)  # (layers, tokens)
        return np.median(norms, axis=1)
    return lm.derived("typical_norms", lambda: store().cached("steer.typical_norms", {}, lm, measure))


def massive_rule(lm, multiple: float = MULTIPLE) -> MassiveRule:
    """The model's rule: ``multiple`` × its reference median norm at each layer."""
    return MassiveRule(float(multiple), tuple(float(x) for x in typical_norms(lm)))


@dataclass
class Pooled:
    """Mean-pooled text vectors at one layer, and what the pooling left out."""

    vectors: np.ndarray        # (texts, d)
    tokens: int                # tokens in all
    left_out: int              # massive tokens left out of the means
    whole: int                 # texts kept whole: every one of their tokens was massive
    rule: MassiveRule | None   # None: massive tokens kept
    left_each: np.ndarray | None = None   # (texts,) massive tokens left out of each text's mean

    def to_json(self) -> dict:
        return {"kept": self.rule is None, "tokens": self.tokens, "left_out": self.left_out, "whole_texts": self.whole,
                "multiple": None if self.rule is None else self.rule.multiple}


def mean_pool(lm, texts: list[str], layer: int, *, keep_massive: bool = False, progress=None) -> Pooled:
    """Each text's mean state at ``layer``, leaving its massive tokens out (``keep_massive``: keep them).
    A text whose every token is massive (a one-word text at SmolLM2's layers 3–9) is kept whole: it has
    nothing else to average."""
    from latent.core.hidden import hidden_states  # noqa: PLC0415 - torch: only when pooled

    res = hidden_states(lm, texts, layers=[layer], progress=progress)
    rule = None if keep_massive else massive_rule(lm)
    out, tokens, each, whole = [], 0, [], 0
    for ts in res:
        S = ts.at(layer)
        tokens += len(S)
        keep = np.ones(len(S), bool) if rule is None else ~massive_mask(S, layer, rule)
        if not keep.any():
            keep[:], whole = True, whole + 1
        each.append(int((~keep).sum()))
        out.append(S[keep].mean(0))
    return Pooled(np.stack(out), tokens, int(sum(each)), whole, rule, np.array(each, np.int64))
