"""Word senses in hidden space: sense sets, readouts, separability per layer, sense probabilities.

A :class:`SenseSet` is a word plus named senses, each with example sentences. A *readout* turns
a text into one vector per layer for the word:

- ``word``: the state at the word's last sub-token. In a causal LM it sees only the context to its
  left, so context placed *after* the word cannot move it.
- ``echo``: the text, a newline and ``The <word>`` (a short template that repeats the word);
  the echoed word's state has seen the whole text.

Sense probabilities are a softmax over cosine similarity to the sense centroids, after
subtracting the mean of all sense sentences at that layer; :func:`sense_probs` takes a fixed
temperature (``TAU``, the old default), the study fits one per layer (:mod:`latent.senses.calibration`).

Example::

    >>> s = SenseSet("bat", {"animal": ["A bat flew.", "The bat slept."], "sports": ["He swung the bat.", "A bat cracked."]})
    >>> s.validate().names
    ['animal', 'sports']
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent.core.assets import asset
from latent.core.errors import LatentError
from latent.core.hidden import hidden_states
from latent.senses.calibration import loo_accuracy as vectorised

SENSES_JSON = asset("senses.json")
HELDOUT_JSON = asset("senses_heldout.json")     # sentences outside every set, for checking a printed p
READOUTS = ("echo", "word")
ECHO = "{text}\nThe {word}"  # measured best of six templates on SmolLM2 (queen: 0.96 at layer 9)
TAU = 0.1
MAX_SENSES = 12
MAX_SENTENCES = 40


class SenseError(LatentError):
    """A sense set or context that cannot be used; the message names the culprit."""


@dataclass
class SenseSet:
    word: str
    senses: dict[str, list[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.senses)

    def validate(self) -> "SenseSet":
        w = (self.word or "").strip()
        if not w or not re.fullmatch(r"[\w'-]+", w):
            raise SenseError(f"The word must be a single word, not {self.word!r}.")
        if len(self.senses) < 2:
            raise SenseError("Give at least two senses.")
        if len(self.senses) > MAX_SENSES:
            raise SenseError(f"{len(self.senses)} senses is too many; the limit is {MAX_SENSES}.")
        for name, sents in self.senses.items():
            if not str(name).strip():
                raise SenseError("Every sense needs a name.")
            sents = [s for s in sents if s.strip()]
            if len(sents) < 2:
                raise SenseError(f"Sense '{name}' has {len(sents)} sentence; give at least two.")
            if len(sents) > MAX_SENTENCES:
                raise SenseError(f"Sense '{name}' has {len(sents)} sentences; the limit is {MAX_SENTENCES}.")
            for s in sents:
                if find_word(s, w) is None:
                    raise SenseError(f"Sense '{name}': the word '{w}' is missing from the sentence {s!r}.")
            self.senses[name] = sents
        self.word = w
        return self

    def to_rows(self) -> list[dict]:
        """One row per sentence: ``{"sense": name, "sentence": text}`` (for an editable table)."""
        return [{"sense": n, "sentence": t} for n, ts in self.senses.items() for t in ts]

    @classmethod
    def from_rows(cls, word: str, rows) -> "SenseSet":
        """Build from ``(sense, sentence)`` rows; blank rows are skipped. Not yet validated."""
        senses: dict[str, list[str]] = {}
        for r in rows:
            name, text = str(r.get("sense") or "").strip(), str(r.get("sentence") or "").strip()
            if name and text:
                senses.setdefault(name, []).append(text)
            elif text and not name:
                raise SenseError(f"The sentence {text!r} has no sense name.")
        return cls(word, senses)

    def to_json(self) -> str:
        return json.dumps({"word": self.word, "senses": self.senses}, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "SenseSet":
        """Parse ``{"word": str, "senses": {name: [sentence, ...]}}`` and validate it."""
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise SenseError(f"Senses file is not valid JSON: {e}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("word"), str) or not isinstance(obj.get("senses"), dict):
            raise SenseError('Senses JSON must be {"word": str, "senses": {name: [sentence, ...]}}.')
        for k, v in obj["senses"].items():
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                raise SenseError(f"Sense '{k}' must be a list of sentences (strings).")
        return cls(obj["word"], {str(k): list(v) for k, v in obj["senses"].items()}).validate()


def builtin_sets(path: Path = SENSES_JSON) -> dict[str, SenseSet]:
    return {d["word"]: SenseSet(d["word"], d["senses"]) for d in json.loads(path.read_text(encoding="utf-8"))}


def get_builtin(word: str) -> SenseSet:
    sets = builtin_sets()
    key = word.strip().lower()
    if key not in sets:
        raise SenseError(f"Unknown word {word!r} and no senses file. Built-in words: {', '.join(sets)}")
    return sets[key]


def heldout_sentences(word: str, names: list[str], path: Path = HELDOUT_JSON) -> list[tuple[str, str]]:
    """``[(sense, sentence)]`` outside the built-in set for ``word``, for the senses in ``names`` only
    (none for a word without a held-out list). They never enter a centroid or a temperature fit.

    >>> len(heldout_sentences("queen", ["bee", "monarch"])), heldout_sentences("no-such-word", ["x"])
    (10, [])
    """
    obj = json.loads(path.read_text(encoding="utf-8")).get(word.strip().lower(), {})
    return [(n, s) for n in names for s in obj.get(n, [])]


def find_word(text: str, word: str) -> tuple[int, int] | None:
    """Character span of the first occurrence of ``word`` (any case, plural -s/-es allowed)."""
    m = re.search(rf"(?<![\w]){re.escape(word)}(?:e?s)?(?![\w])", text, flags=re.IGNORECASE)
    return None if m is None else (m.start(), m.start() + len(word))


def readout_texts(texts: list[str], word: str, readout: str, echo_word: str | None = None) -> list[tuple[str, tuple[int, int]]]:
    """The text fed to the model and the character span of the word to read, per input text.

    ``echo_word`` replaces the word in the echo template (a control: "The weather" reads sentence
    topic just as well, so the echo readout reads mostly topic, not the word itself)."""
    if readout not in READOUTS:
        raise SenseError(f"Unknown readout {readout!r}. Must be one of: {', '.join(READOUTS)}")
    out = []
    for t in texts:
        if not t.strip():
            raise SenseError("Empty context: type a text that contains the word.")
        if readout == "echo":
            echo = echo_word or word
            full = ECHO.format(text=t.rstrip(), word=echo)
            out.append((full, (len(full) - len(echo), len(full))))
        else:
            span = find_word(t, word)
            if span is None:
                raise SenseError(f"The word '{word}' is missing from {t!r}.")
            out.append((t, span))
    return out


def word_states(lm, texts: list[str], word: str, readout: str = "echo", pooling: str = "last",
                layers=None, echo_word: str | None = None) -> np.ndarray:
    """``(texts, layers, d)``: the word's state per text and layer (``pooling`` last or mean of sub-tokens)."""
    pairs = readout_texts(texts, word, readout, echo_word)
    res = hidden_states(lm, [p[0] for p in pairs], layers=layers)
    out = []
    for ts, (_, span) in zip(res, pairs):
        idx = [i for i, (a, b) in enumerate(ts.offsets) if a < span[1] and b > span[0]]
        if not idx:
            raise SenseError(f"The word '{word}' could not be located among the tokens of {ts.text!r}.")
        out.append(ts.states[:, idx].mean(axis=1) if pooling == "mean" else ts.states[:, idx[-1]])
    return np.stack(out)  # (texts, layers, d)


# ------------------------------------------------------------------ the math on vectors
def _center_unit(X: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Centre on ``mean`` and normalise. A point that differs from the mean only by float noise
    (< 1e-4 of the mean's norm) becomes the zero vector, so noise cannot masquerade as a sense."""
    Y = X - mean
    n = np.linalg.norm(Y, axis=-1, keepdims=True)
    floor = 1e-4 * np.linalg.norm(mean, axis=-1, keepdims=True) + 1e-8
    return np.where(n > floor, Y / np.maximum(n, 1e-12), 0.0)


def centroids(X: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: the mean of all points and each sense's unit centroid after centring.

    ``X`` is ``(points, layers, d)``; returns mean ``(layers, d)`` and centroids ``(layers, n, d)``.
    """
    mean = X.mean(axis=0)
    U = _center_unit(X, mean)
    C = np.stack([U[labels == k].mean(axis=0) for k in range(n)], axis=1)
    return mean, C / np.maximum(np.linalg.norm(C, axis=-1, keepdims=True), 1e-8)


def sense_probs(Q: np.ndarray, mean: np.ndarray, C: np.ndarray, tau: float = TAU) -> np.ndarray:
    """Softmax over centred cosine to the centroids: ``Q (q, layers, d)`` -> ``(q, layers, senses)``."""
    sims = np.einsum("qld,lkd->qlk", _center_unit(Q, mean), C)
    z = sims / tau
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def loo_accuracy(X: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Leave-one-out nearest-centroid accuracy per layer: ``(layers,)``. One implementation for the
    whole app: :func:`latent.senses.calibration.loo_accuracy` (vectorised)."""

    return vectorised(X, labels, n)


def silhouette(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Silhouette (cosine, after centring) per layer: ``(layers,)``."""
    from sklearn.metrics import silhouette_score  # noqa: PLC0415 - heavy (scikit-learn): imported when first needed

    return np.array([silhouette_score(X[:, li] - X[:, li].mean(0), labels, metric="cosine")
                     for li in range(X.shape[1])])
