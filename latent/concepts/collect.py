"""States for a dictionary: every token's state at one layer over a list of texts, batched.

Collection reads :func:`latent.core.hidden.hidden_states` (the start token prepended and dropped, padding-safe
batches), one call per group of texts under its token limit. Where the app has set a door (the scheduler),
each batch's forward pass goes through it like every other; a Ray backend is not used here yet (the CLI
collects in its own process).

Example::

    >>> st = collect(lm, ["The queen of the hive", "A bee"], layer=12)      # doctest: +SKIP
    >>> st.X.shape, st.massive.sum()                                          # doctest: +SKIP
    ((8, 576), 1)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.core.errors import InputError, check_layer
from latent.core.hidden import MAX_TOTAL_TOKENS, encode, fit_text, hidden_states
from latent.core.massive import MassiveRule, massive_mask


@dataclass
class States:
    """Token states at one layer: ``X (tokens, d)``, each token's text and position, and the massive ones."""

    layer: int
    texts: list[str]
    X: np.ndarray                # (tokens, d) float32
    text_index: np.ndarray       # (tokens,) which text
    position: np.ndarray         # (tokens,) position in its text (0 = first text token)
    tokens: list[str]
    massive: np.ndarray          # (tokens,) bool, under ``rule``
    rule: MassiveRule | None

    @property
    def kept(self) -> np.ndarray:
        return ~self.massive

    def massive_summary(self, top: int = 5) -> dict:
        """How many states the rule leaves out and where they sit (position in the text, commonest tokens)."""
        m = self.massive
        toks: dict[str, int] = {}
        for i in np.flatnonzero(m):
            toks[self.tokens[i]] = toks.get(self.tokens[i], 0) + 1
        sq = (self.X.astype(np.float64) ** 2).sum(1)
        return {"rule": None if self.rule is None else self.rule.describe(), "multiple": None if self.rule is None else self.rule.multiple,
                "limit": None if self.rule is None else round(float(self.rule.threshold(self.layer)), 4),
                "tokens": int(len(m)), "left_out": int(m.sum()), "share": round(float(m.mean()), 6) if len(m) else 0.0,
                "share_of_squared_norm": round(float(sq[m].sum() / max(sq.sum(), 1e-30)), 4),
                "at_first_token": int((m & (self.position == 0)).sum()),
                "top_tokens": [[t, c] for t, c in sorted(toks.items(), key=lambda kv: -kv[1])[:top]]}


def clean_texts(texts) -> list[str]:
    """Non-blank texts, in order."""
    return [t for t in (str(x) for x in texts) if t.strip()]


def collect(lm, texts, layer: int, *, rule: MassiveRule | None = None, max_tokens: int = 512, progress=None) -> States:
    """Every token's state at ``layer`` for ``texts`` (each cut to ``max_tokens`` tokens and the model's
    context), with the massive ones marked under ``rule`` (None: none marked). ``progress(done, total)``
    counts texts."""
    layer = check_layer(layer, lm.n_layers)
    texts = [fit_text(lm, t, max_tokens) for t in clean_texts(texts)]
    if not texts:
        raise InputError("No texts to collect states from: give at least one non-blank text.")
    sizes = [len(encode(lm, t)[0]) for t in texts]
    groups, cur, n = [], [], 0
    for i, s in enumerate(sizes):
        if cur and n + s > MAX_TOTAL_TOKENS:
            groups.append(cur)
            cur, n = [], 0
        cur.append(i)
        n += s
    groups.append(cur)
    X, ti, pos, toks, done = [], [], [], [], 0
    for g in groups:
        res = hidden_states(lm, [texts[i] for i in g], layers=[layer],
                            progress=(lambda a, b, d=done, m=len(g): progress(d + round(m * a / b), len(texts))) if progress else None)
        for i, ts in zip(g, res):
            S = ts.at(layer)
            X.append(S.astype(np.float32))
            ti.append(np.full(len(S), i))
            pos.append(np.arange(len(S)))
            toks.extend(ts.tokens)
        done += len(g)
    X = np.concatenate(X)
    massive = massive_mask(X, layer, rule) if rule is not None else np.zeros(len(X), bool)
    return States(layer, texts, X, np.concatenate(ti), np.concatenate(pos), toks, massive, rule)
