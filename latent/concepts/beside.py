"""Concepts beside the other views: a token's top features (Hidden states), a text's most active features
(Dialogues: a turn), the features that fire on a word in each of its senses (Senses), and a feature's
decoder direction as a direction to walk along (Latent walk).

Every list here is read at the dictionary's own layer, which may differ from the layer a page shows, and
each result says so (``layer``) with its n. Massive states (the app's rule) are left out, as on the card.
This module takes plain texts and dicts: it imports no other feature folder.

Example::

    >>> sae = kept_dictionary(lm, shipped_folder(lm.name))                          # doctest: +SKIP
    >>> token_features(lm, sae, "The queen of the hive", 2).features[:1]             # doctest: +SKIP
    [(17, 3.2, 1)]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latent.concepts.features import FeaturePage, Reading, kept_feature, read_text
from latent.concepts.sae import SAE, DictionaryError
from latent.core.direction import Direction
from latent.core.errors import InputError
from latent.core.store import memo

MAX_CHARS = 50_000          # a page's text read whole (a token map's prompt, a dialogue turn)
TOP = 8                     # features listed beside a view


def read_many(lm, sae: SAE, texts: list[str]) -> list[Reading]:
    """Each text read through the dictionary as :func:`~latent.concepts.features.read_text` reads one, in one
    batched pass (``latent.core.hidden.hidden_states`` groups them by length)."""
    import torch  # noqa: PLC0415 - torch: with the model work

    from latent.core.hidden import hidden_states  # noqa: PLC0415 - as above
    from latent.core.massive import massive_mask  # noqa: PLC0415 - as above

    out = []
    for text, ts in zip(texts, hidden_states(lm, list(texts), layers=[sae.layer])):
        X = ts.at(sae.layer).astype(np.float32)
        m = massive_mask(X, sae.layer, sae.rule) if sae.rule is not None else np.zeros(len(X), bool)
        with torch.no_grad():
            a = sae.encode(torch.from_numpy(X)).numpy()
        a[m] = 0.0
        out.append(Reading(text, list(ts.tokens), [tuple(o) for o in ts.offsets], [bool(x) for x in m], a))
    return out


def kept_reading(lm, sae: SAE, text: str) -> Reading:
    """:func:`~latent.concepts.features.read_text` (up to :data:`MAX_CHARS`), once per model, dictionary and text."""
    return memo("concepts_reading", (lm.key, sae.fingerprint, text), lambda: read_text(lm, sae, text, max_chars=MAX_CHARS),
                max_entries=64)


@dataclass
class TopFeatures:
    """The features most active on one thing (a token, a turn, a word in a sense's sentences), strongest first.

    ``features``: ``(feature, value, fired)``: ``value`` is the activation (one token) or the mean activation
    over the ``n`` tokens or sentences (0 where it does not fire), ``fired`` how many of those ``n`` it fires on."""

    what: str                     # "token", "text" or "sense"
    layer: int                    # the dictionary's layer (may differ from the page's)
    n: int                        # tokens (token, text) or sentences (sense) the values are over
    features: list[tuple[int, float, int]]
    tokens: list[str] = field(default_factory=list)      # the tokens read (a token: itself; a sense: the word's tokens)
    note: str = ""                # why the list is empty or short, in one sentence ("" when nothing to say)

    def table(self):
        import pandas as pd  # noqa: PLC0415 - only the page and the exports need it

        col = "activation" if self.what == "token" else f"mean activation (n = {self.n})"
        return pd.DataFrame([{"feature": f, col: round(v, 6), "fires on": k} for f, v, k in self.features],
                            columns=["feature", col, "fires on"])

    def to_json(self) -> dict:
        return {"what": self.what, "layer": self.layer, "n": self.n, "tokens": self.tokens, "note": self.note,
                "value": "activation" if self.what == "token" else "mean activation over n (0 where it does not fire)",
                "features": [{"feature": f, "value": round(v, 6), "fires_on": k} for f, v, k in self.features]}


def _top(acts: np.ndarray, k: int) -> list[tuple[int, float, int]]:
    """``acts`` (rows, d_sae): the ``k`` features with the largest mean, each with its mean and firing count."""
    if not len(acts):
        return []
    mean, fired = acts.mean(0), (acts > 0).sum(0)
    order = np.argsort(-mean, kind="stable")[:k]
    return [(int(f), float(mean[f]), int(fired[f])) for f in order if mean[f] > 0]


def token_features(lm, sae: SAE, text: str, position: int, *, k: int = TOP) -> TopFeatures:
    """The ``k`` features most active on the token at ``position`` of ``text`` (the model's own tokens, as the
    Hidden states page numbers them). A massive token is left out, and says so."""
    r = kept_reading(lm, sae, text)
    if not 0 <= int(position) < len(r.tokens):
        raise InputError(f"Position {position} is out of range: that text has {len(r.tokens)} tokens.")
    i = int(position)
    if r.massive[i]:
        return TopFeatures("token", int(sae.layer), 1, [], [r.tokens[i]],
                           f"This token is massive at layer {sae.layer} (its norm is far above the layer's typical norm), "
                           "so the dictionary leaves it out.")
    top = _top(r.acts[i:i + 1], k)
    return TopFeatures("token", int(sae.layer), 1, top, [r.tokens[i]], "" if top else "No feature fires on this token.")


def text_features(lm, sae: SAE, text: str, *, k: int = TOP) -> TopFeatures:
    """The ``k`` features with the largest mean activation over ``text``'s kept tokens (massive ones left out)."""
    r = kept_reading(lm, sae, text)
    kept = ~np.asarray(r.massive, bool)
    top = _top(r.acts[kept], k)
    return TopFeatures("text", int(sae.layer), int(kept.sum()), top, [], "" if top else "No feature fires on this text.")


def word_span(reading: Reading, word: str) -> list[int]:
    """The token indices of ``word``'s first occurrence (case-insensitive) in the reading's text ([] if none)."""
    at = reading.text.casefold().find(word.casefold())
    if at < 0 or not word:
        return []
    return [i for i, (a, b) in enumerate(reading.offsets) if a < at + len(word) and b > at]


def sense_features(lm, sae: SAE, word: str, senses: dict[str, list[str]], *, k: int = 5) -> dict[str, TopFeatures]:
    """Per sense: the ``k`` features with the largest mean activation on ``word`` over that sense's sentences (a
    sentence's value: the activation summed over the word's tokens, as the Concepts page's word search sums).
    ``n`` is the sentences where the word was found; one without it is left out, and the note says how many.
    Every sentence is read in one batched pass; the result is kept once per model, dictionary, word and set."""
    word = (word or "").strip()
    if not word:
        raise InputError("Type the word whose senses to read.")
    senses = {str(s): [str(x) for x in xs if str(x).strip()] for s, xs in senses.items()}
    key = (lm.key, sae.fingerprint, word, tuple((s, tuple(xs)) for s, xs in senses.items()), k)
    return memo("concepts_senses", key, lambda: _sense_features(lm, sae, word, senses, k), max_entries=16)


def _sense_features(lm, sae: SAE, word: str, senses: dict[str, list[str]], k: int) -> dict[str, TopFeatures]:
    texts = list(dict.fromkeys(x for xs in senses.values() for x in xs))
    if any(len(t) > MAX_CHARS for t in texts):
        raise InputError(f"A sense sentence is over {MAX_CHARS:,} characters; keep each under that.")
    read = dict(zip(texts, read_many(lm, sae, texts))) if texts else {}
    out = {}
    for sense, sentences in senses.items():
        rows, toks, missing = [], [], 0
        for s in sentences:
            r = read[s]
            span = [i for i in word_span(r, word) if not r.massive[i]]
            if not span:
                missing += 1
                continue
            rows.append(r.acts[span].sum(0))
            toks = toks or [r.tokens[i] for i in span]
        acts = np.stack(rows) if rows else np.zeros((0, sae.d_sae), np.float32)
        top = _top(acts, k)
        note = (f"'{word}' was not found in {missing} of {len(sentences)} sentences (left out)." if missing else "")
        if not rows:
            note = f"'{word}' was not found in any of this sense's {len(sentences)} sentences."
        out[sense] = TopFeatures("sense", int(sae.layer), len(rows), top, toks, note)
    return out


def senses_table(found: dict[str, TopFeatures]):
    """:func:`sense_features` as one table (sense, rank, feature, mean activation, fires on, n) for the exports."""
    import pandas as pd  # noqa: PLC0415 - only the page and the exports need it

    return pd.DataFrame([{"sense": s, "rank": i + 1, "feature": f, "mean activation": round(v, 6), "fires on": c, "n": t.n}
                         for s, t in found.items() for i, (f, v, c) in enumerate(t.features)],
                        columns=["sense", "rank", "feature", "mean activation", "fires on", "n"])


def feature_direction(lm, sae: SAE, feature: int, *, label: str = "", up: list[str] | None = None,
                      down: list[str] | None = None) -> Direction:
    """The feature's decoder direction at the dictionary's layer, as a :class:`Direction` to walk along.

    Its recipe is kind ``feature`` (so the walk's data-shaped null, which mirrors a construction from two sets
    of texts, does not apply: the sweep is compared with random directions only). The concept meter's poles are
    the tokens it pushes up (``up``) and down (``down``), else its label and "−"."""
    if not 0 <= int(feature) < sae.d_sae:
        raise DictionaryError(f"Feature {feature} is out of range: this dictionary has features 0 to {sae.d_sae - 1}.")
    if sae.layer is None or not 1 <= int(sae.layer) <= lm.n_layers:
        raise DictionaryError(f"The dictionary's layer {sae.layer} is not a layer the walk can steer (1 to {lm.n_layers}).")
    f = int(feature)
    v = sae.W_dec[f].detach().float().cpu().numpy().astype(np.float32)
    pos = [t.strip() for t in (up or []) if t.strip()] or [label or f"feature {f}"]
    neg = [t.strip() for t in (down or []) if t.strip()] or ["−"]
    recipe = {"kind": "feature", "feature": f, "dictionary": sae.fingerprint, "d_sae": sae.d_sae, "positive": pos,
              "negative": neg}
    return Direction(v, int(sae.layer), recipe, f"feature {f}" + (f" ({label})" if label else ""), "−").check(
        d_model=lm.d_model, n_layers=lm.n_layers)


def walk_feature(lm, sae: SAE, feature: int, *, poles: int = 5) -> tuple[Direction, FeaturePage]:
    """What the Latent walk steers with for ``feature``: its decoder direction (:func:`feature_direction`), labelled
    from its kept page, the meter's poles the ``poles`` tokens it pushes up and down most; and that page."""
    page = kept_feature(lm, sae, int(feature))
    return feature_direction(lm, sae, feature, label=page.label, up=[t for t, _ in page.up[:poles]],
                             down=[t for t, _ in page.down[:poles]]), page
