"""One feature's page, computed: its top activating contexts over a probe text set, its activation density,
the tokens its decoder direction pushes up and down, a label from its top tokens and its nearest features;
and the live readings (a text shaded by one feature, the features that fire on a word).

The probe set is the seed dialogues' turns (:func:`probe_texts`). Massive states (the app's rule, see
``latent/core/massive.py``) are left out of every figure here, as on the card.

Example::

    >>> sae = kept_dictionary(lm, "assets/concepts/SmolLM2-135M-Instruct")          # doctest: +SKIP
    >>> page = kept_feature(lm, sae, 7)                                                # doctest: +SKIP
    >>> page.label, [c.activation for c in page.contexts][:2]                          # doctest: +SKIP
    ('king / queen', [4.1, 3.9])
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latent.concepts.collect import collect
from latent.concepts.io import load
from latent.concepts.sae import SAE, DictionaryError
from latent.core.corpus import ASSETS, all_turns, load_corpus
from latent.core.errors import InputError
from latent.core.hidden import hidden_states
from latent.core.massive import massive_mask, massive_rule
from latent.core.store import memo

CONCEPTS_DIR = ASSETS / "concepts"      # the shipped dictionaries: assets/concepts/<model name>/
ENV_DIR = "LATENT_CONCEPTS_DIR"         # another folder of <model name>/ dictionaries (tests, a class's own)
MAX_TRY_CHARS = 2000                    # the "try your own text" box
WINDOW = 8                              # tokens shown either side of a context's peak


def dictionary_root() -> Path:
    """Where dictionaries per model are looked for: ``$LATENT_CONCEPTS_DIR`` if set, else ``assets/concepts``."""
    return Path(os.environ.get(ENV_DIR) or CONCEPTS_DIR)


def shipped_folder(model_name: str) -> Path | None:
    """The dictionary folder for ``model_name`` under :func:`dictionary_root` (None: none there)."""
    p = dictionary_root() / model_name
    return p if (p / "cfg.json").exists() or (p / "params.safetensors").exists() else None


def kept_dictionary(lm, folder) -> SAE:
    """The dictionary in ``folder`` for ``lm`` (checked against its ``d_model`` and layers), read once per
    folder and weights file version in this process. Faults are a :class:`DictionaryError` in one sentence."""
    text = str(folder or "").strip()
    if not text:
        raise DictionaryError("Type the path of a dictionary folder (cfg.json and sae_weights.safetensors).")
    p = Path(text).expanduser()
    if not p.is_dir():
        raise DictionaryError(f"There is no folder at {text}.")
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in sorted(p.iterdir()) if f.is_file())

    def read():
        sae = load(p, d_model=lm.d_model, n_layers=lm.n_layers)
        if sae.layer is None:
            raise DictionaryError(f"The dictionary in {text} does not say which layer it reads.")
        if sae.rule is None:
            sae.rule = massive_rule(lm)
        return sae
    return memo("concepts_dictionary", (str(p.resolve()), stamp, lm.key), read, max_entries=8)


def probe_texts() -> list[str]:
    """The probe text set: every seed dialogue turn (``latent.core.corpus``)."""
    return [t.text for _, t in all_turns(load_corpus())]


def _texts_hash(texts) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


@dataclass
class Probe:
    """Every kept (non-massive) token of the probe texts and its active features, stored sparse
    (``rows``: token, ``cols``: feature, ``vals``: activation, sorted by feature)."""

    texts: list[str]
    tokens: list[str]            # every token, massive ones included (for the context windows)
    text_index: np.ndarray
    position: np.ndarray
    massive: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    token_ids: set[int] = field(default_factory=set)     # the vocabulary ids the probe texts use
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # per feature: its first entry

    @property
    def n_kept(self) -> int:
        return int((~self.massive).sum())

    def of(self, feature: int) -> tuple[np.ndarray, np.ndarray]:
        """The tokens where ``feature`` fires and its activations there."""
        a, b = self.starts[feature], self.starts[feature + 1]
        return self.rows[a:b], self.vals[a:b]


def probe(lm, sae: SAE, texts: list[str], *, chunk: int = 2048) -> Probe:
    """The probe: the states of ``texts`` at the dictionary's layer, encoded, the active entries kept."""
    st = collect(lm, texts, sae.layer, rule=sae.rule)
    rows, cols, vals = [], [], []
    kept = np.flatnonzero(st.kept)
    with torch.no_grad():
        for i in range(0, len(kept), chunk):
            idx = kept[i:i + chunk]
            a = sae.encode(torch.from_numpy(st.X[idx])).numpy()
            r, c = np.nonzero(a > 0)
            rows.append(idx[r])
            cols.append(c)
            vals.append(a[r, c])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    vals = np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, np.float32)
    order = np.argsort(cols, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(cols, np.arange(sae.d_sae + 1))
    ids = set()
    for t in st.texts:
        ids.update(lm.tokenizer(t, add_special_tokens=False)["input_ids"])
    return Probe(st.texts, st.tokens, st.text_index, st.position, st.massive, rows, cols, vals, ids, starts)


def kept_probe(lm, sae: SAE, texts: list[str] | None = None) -> Probe:
    """:func:`probe` once per model, dictionary and texts in this process (default texts: :func:`probe_texts`)."""
    texts = probe_texts() if texts is None else list(texts)
    return memo("concepts_probe", (lm.key, sae.fingerprint, _texts_hash(texts)), lambda: probe(lm, sae, texts), max_entries=4)


def check_feature(value, d_sae: int) -> tuple[int, str | None]:
    """A feature number from a link or a box: ``(feature, note)``; out of range or not a number falls back to
    feature 0 with a one-sentence note.

    >>> check_feature("3", 10), check_feature("12", 10)[0], check_feature("x", 10)[1]
    ((3, None), 0, 'The feature number must be a whole number from 0 to 9; showing feature 0.')
    """
    try:
        f = int(str(value).strip())
    except (TypeError, ValueError):
        return 0, f"The feature number must be a whole number from 0 to {d_sae - 1}; showing feature 0."
    if not 0 <= f < d_sae:
        return 0, f"Feature {f} is out of range: this dictionary has features 0 to {d_sae - 1}; showing feature 0."
    return f, None


@dataclass
class Context:
    """One top activating context: the peak token and a window of tokens with the feature's activation on each
    (None where the token is massive, left out)."""

    text: int
    position: int
    activation: float
    tokens: list[str]
    activations: list[float | None]
    peak: int                     # the peak token's index in ``tokens``

    def to_json(self) -> dict:
        return {"text": self.text, "position": self.position, "activation": round(self.activation, 6),
                "tokens": self.tokens, "activations": [None if a is None else round(a, 6) for a in self.activations],
                "peak": self.peak}


@dataclass
class FeaturePage:
    """Everything a feature's page shows (see the module's docstring)."""

    model: str
    layer: int
    feature: int
    d_sae: int
    label: str
    contexts: list[Context]
    fired: int                    # kept probe tokens where it fires
    tokens: int                   # kept probe tokens in all
    bins: list[float]             # activation histogram edges (over the tokens where it fires)
    counts: list[int]             # tokens per bin; ``counts[0]`` is the tokens where it does not fire (activation 0)
    up: list[tuple[str, float]]
    down: list[tuple[str, float]]
    nearest: list[tuple[int, float]]
    texts: int = 0
    intervals: list = field(default_factory=list)     # activation bins (:class:`Interval`), strongest first

    @property
    def density(self) -> float:
        return self.fired / self.tokens if self.tokens else 0.0

    def histogram_table(self):
        """The density histogram as a table: one row per bin (the first: not active)."""
        import pandas as pd  # noqa: PLC0415 - only the exports need it

        lo = [0.0] + self.bins[:-1]
        hi = [0.0] + self.bins[1:]
        return pd.DataFrame({"from": lo, "to": hi, "tokens": self.counts})

    def to_json(self) -> dict:
        return {"model": self.model, "layer": self.layer, "feature": self.feature, "d_sae": self.d_sae,
                "label": self.label, "label_from": "top tokens",
                "probe": {"texts": self.texts, "tokens": self.tokens, "fired": self.fired, "density": round(self.density, 6)},
                "contexts": [c.to_json() for c in self.contexts],
                "histogram": {"edges": [round(e, 6) for e in self.bins], "counts": self.counts,
                              "first_bin": "not active (activation 0)"},
                "up": [[t, round(v, 6)] for t, v in self.up], "down": [[t, round(v, 6)] for t, v in self.down],
                "nearest": [[f, round(c, 6)] for f, c in self.nearest],
                "intervals": [i.to_json() for i in self.intervals]}

    def intervals_table(self):
        """The activation bins' contexts as numbers: one line per (interval, context, token, activation)."""
        import pandas as pd  # noqa: PLC0415 - only the exports need it

        return pd.DataFrame([{"interval": f"({b.lo:.4g}, {b.hi:.4g}]", "tokens_in_interval": b.n, "context": j, "text": c.text,
                              "token": t, "activation": a}
                             for b in self.intervals for j, c in enumerate(b.contexts) for t, a in zip(c.tokens, c.activations)],
                            columns=["interval", "tokens_in_interval", "context", "text", "token", "activation"])


def label_from_tokens(tokens, activations, n: int = 3) -> str:
    """A short label from a feature's top tokens: the ``n`` commonest distinct tokens (stripped, case-folded)
    among its peaks, by summed activation; "(no label: it never fired on the probe)" when there are none.

    >>> label_from_tokens([" king", "King", " queen", " the"], [3.0, 2.0, 1.5, 0.2], n=2)
    'king / queen'
    """
    score: dict[str, float] = {}
    for t, a in zip(tokens, activations):
        w = str(t).strip().casefold()
        if w:
            score[w] = score.get(w, 0.0) + float(a)
    if not score:
        return "(no label: it never fired on the probe)"
    return " / ".join(w for w, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def unembedding(lm) -> torch.Tensor:
    """The model's unembedding ``(vocab, d)`` in float32 (kept on the model)."""
    return lm.derived("concepts_unembedding", lambda: lm.model.get_output_embeddings().weight.detach().float().cpu())


def pushed_tokens(lm, sae: SAE, feature: int, *, k: int = 10, among: set[int] | None = None):
    """The tokens the feature's decoder direction pushes up and down through the unembedding (``W_U · d_f``),
    among the ids ``among`` (the probe's tokens; None: the whole vocabulary): ``(up, down)``."""
    logits = unembedding(lm) @ sae.W_dec[feature].detach().float()
    ids = torch.tensor(sorted(among)) if among else torch.arange(len(logits))
    ids = ids[ids < len(logits)]
    sub = logits[ids]
    k = min(k, len(sub))
    dec = lambda i: lm.tokenizer.decode([int(i)])  # noqa: E731
    up = [(dec(ids[j]), float(sub[j])) for j in torch.topk(sub, k).indices]
    down = [(dec(ids[j]), float(sub[j])) for j in torch.topk(-sub, k).indices]
    return up, down


def nearest_features(sae: SAE, feature: int, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` features whose decoder directions are closest to this one's (cosine), itself left out."""
    W = torch.nn.functional.normalize(sae.W_dec.detach().float(), dim=1)
    cos = W @ W[feature]
    cos[feature] = -float("inf")
    k = min(k, sae.d_sae - 1)
    top = torch.topk(cos, k)
    return [(int(i), float(v)) for v, i in zip(top.values, top.indices)]


def _context(pr: Probe, r: int, activation: float, act: dict, window: int) -> Context:
    """The context around probe token ``r``: ``window`` tokens either side within its text."""
    same = np.flatnonzero(pr.text_index == pr.text_index[r])
    lo, hi = max(same[0], r - window), min(same[-1], r + window)
    idx = range(lo, hi + 1)
    return Context(int(pr.text_index[r]), int(pr.position[r]), float(activation), [pr.tokens[i] for i in idx],
                   [None if pr.massive[i] else float(act.get(i, 0.0)) for i in idx], int(r - lo))


def _distinct(pr: Probe, rows, vals, order, window: int, limit: int, act: dict) -> list[Context]:
    """Up to ``limit`` contexts for the entries ``order`` (indices into rows/vals), one per stretch of text."""
    out, used = [], set()
    for j in order:
        r = int(rows[j])
        key = (int(pr.text_index[r]), int(pr.position[r]) // max(1, window))
        if key in used:                   # one context per stretch of text
            continue
        used.add(key)
        out.append(_context(pr, r, float(vals[j]), act, window))
        if len(out) >= limit:
            break
    return out


@dataclass
class Interval:
    """One activation interval of a feature (like Neuronpedia's activation bins): the tokens whose activation
    lies in ``(lo, hi]``, how many there are, and a few of their contexts spread over the interval."""

    lo: float
    hi: float
    n: int
    contexts: list[Context]

    def to_json(self) -> dict:
        return {"lo": round(self.lo, 6), "hi": round(self.hi, 6), "n": self.n, "contexts": [c.to_json() for c in self.contexts]}


def intervals(pr: Probe, feature: int, *, n_bins: int = 4, per_bin: int = 3, window: int = WINDOW) -> list[Interval]:
    """The feature's activations where it fires, cut into ``n_bins`` equal intervals of (0, max], strongest
    first; in each, up to ``per_bin`` contexts at evenly spaced ranks of the interval's tokens (the strongest,
    the weakest and between; one per stretch of text), so the page shows what weak firing looks like, not only
    the top. An interval with no tokens is kept, with n = 0."""
    rows, vals = pr.of(int(feature))
    if not len(vals):
        return []
    act = dict(zip(rows.tolist(), vals.tolist()))
    top = float(vals.max())
    edges = np.linspace(0.0, top, n_bins + 1)
    out = []
    for b in range(n_bins, 0, -1):
        lo, hi = float(edges[b - 1]), float(edges[b])
        inside = np.flatnonzero((vals > lo) & (vals <= hi)) if b < n_bins else np.flatnonzero(vals > lo)
        order = inside[np.argsort(-vals[inside], kind="stable")]
        spread = order[np.unique(np.linspace(0, len(order) - 1, min(len(order), 4 * per_bin)).round().astype(int))] \
            if len(order) else order
        out.append(Interval(lo, hi, int(len(inside)), _distinct(pr, rows, vals, spread, window, per_bin, act)))
    return out


def feature_page(lm, sae: SAE, feature: int, pr: Probe, *, top: int = 10, window: int = WINDOW, bins: int = 30,
                 n_intervals: int = 4, per_interval: int = 3) -> FeaturePage:
    """The page of ``feature`` over the probe ``pr``."""
    if not 0 <= int(feature) < sae.d_sae:
        raise DictionaryError(f"Feature {feature} is out of range: this dictionary has features 0 to {sae.d_sae - 1}.")
    f = int(feature)
    rows, vals = pr.of(f)
    order = np.argsort(-vals, kind="stable")
    act = dict(zip(rows.tolist(), vals.tolist()))
    contexts = _distinct(pr, rows, vals, order, window, top, act)
    n = pr.n_kept
    if len(vals):
        edges = np.linspace(0.0, float(vals.max()) * (1 + 1e-9), bins + 1)
        hist = np.histogram(vals, edges)[0]
    else:
        edges, hist = np.array([0.0, 1.0]), np.zeros(1, int)
    counts = [int(n - len(vals))] + [int(c) for c in hist]
    up, down = pushed_tokens(lm, sae, f, among=pr.token_ids or None)
    label = label_from_tokens([c.tokens[c.peak] for c in contexts], [c.activation for c in contexts])
    return FeaturePage(lm.name, int(sae.layer), f, sae.d_sae, label, contexts, int(len(vals)), n,
                       [float(e) for e in edges], counts, up, down, nearest_features(sae, f), len(pr.texts),
                       intervals(pr, f, n_bins=n_intervals, per_bin=per_interval, window=window))


def kept_feature(lm, sae: SAE, feature: int, texts: list[str] | None = None) -> FeaturePage:
    """:func:`feature_page` over the probe (:func:`kept_probe`), once per model, dictionary, feature and texts."""
    texts = probe_texts() if texts is None else list(texts)
    return memo("concepts_feature", (lm.key, sae.fingerprint, int(feature), _texts_hash(texts)),
                lambda: feature_page(lm, sae, feature, kept_probe(lm, sae, texts)), max_entries=64)


@dataclass
class Reading:
    """A text read through the dictionary: its tokens, their character offsets, which are massive, and the
    activations of every feature on each token (massive tokens: all zero)."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]
    massive: list[bool]
    acts: np.ndarray              # (tokens, d_sae)

    def shade(self, feature: int) -> list[tuple[str, float | None]]:
        """``(token, activation of feature)`` per token, None where massive (left out)."""
        return [(t, None if m else float(self.acts[i, feature])) for i, (t, m) in enumerate(zip(self.tokens, self.massive))]

    def to_json(self, feature: int | None = None) -> dict:
        out = {"text": self.text, "tokens": self.tokens, "massive": self.massive}
        if feature is not None:
            out["feature"] = int(feature)
            out["activations"] = [None if a is None else round(a, 6) for _, a in self.shade(feature)]
        return out


def read_text(lm, sae: SAE, text: str, *, max_chars: int = MAX_TRY_CHARS) -> Reading:
    """``text`` read through the dictionary at its layer (one sentence for an empty or too long text)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Type some text to read through the dictionary.")
    if len(text) > max_chars:
        raise InputError(f"That text has {len(text):,} characters; keep it under {max_chars:,}.")
    ts = hidden_states(lm, [text], layers=[sae.layer])[0]
    X = ts.at(sae.layer).astype(np.float32)
    m = massive_mask(X, sae.layer, sae.rule) if sae.rule is not None else np.zeros(len(X), bool)
    with torch.no_grad():
        a = sae.encode(torch.from_numpy(X)).numpy()
    a[m] = 0.0
    return Reading(text, list(ts.tokens), [tuple(o) for o in ts.offsets], [bool(x) for x in m], a)


@dataclass
class WordFeatures:
    """The features that fire on ``word`` in ``sentence`` (summed over its tokens), strongest first."""

    word: str
    sentence: str
    tokens: list[str]
    features: list[tuple[int, float]]

    def to_json(self) -> dict:
        return {"word": self.word, "sentence": self.sentence, "tokens": self.tokens,
                "features": [[f, round(a, 6)] for f, a in self.features]}


def word_features(lm, sae: SAE, sentence: str, word: str, *, k: int = 10) -> WordFeatures:
    """Which features fire on ``word`` in ``sentence``: its tokens are those whose characters fall in the
    word's first occurrence (case-insensitive); their activations are summed."""
    word = (word or "").strip()
    if not word:
        raise InputError("Type the word to look up.")
    at = (sentence or "").casefold().find(word.casefold())
    if at < 0:
        raise InputError(f"'{word}' does not occur in that sentence.")
    r = read_text(lm, sae, sentence)
    span = [i for i, (a, b) in enumerate(r.offsets) if a < at + len(word) and b > at]
    if not span:
        raise InputError(f"No token of '{word}' was found in that sentence.")
    total = r.acts[span].sum(0)
    top = np.argsort(-total, kind="stable")[:k]
    return WordFeatures(word, sentence, [r.tokens[i] for i in span], [(int(f), float(total[f])) for f in top if total[f] > 0])
