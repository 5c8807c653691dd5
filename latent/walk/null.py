"""The data-shaped null of a sweep: directions built like the walked one, from texts that mean nothing.

Isotropic random directions (:func:`latent.walk.paths.random_directions`) are a weak control for a
direction built from texts: a mean difference of real texts lies in the residual stream's
high-variance subspace, and the concept meter reads whatever topic difference the two sets happen to
have. So a sweep along a direction made from two sets of texts also walks ``n_splits`` **data-null
directions**: each the same construction (the same layer, pooling, massive-token rule and method, mean
difference or PCA) applied to two disjoint random subsets of a neutral text set, of the direction's own
set sizes (at most half the neutral set each), scaled to the same norm and run on the same prompts,
seeds and strengths, each read by the same concept meter built from *its own* two subsets (as the
direction's is built from its two sets: the audit's meaningless directions moved the text toward their
own halves' topics, which a meter shared with the walked direction cannot see). The direction's verdict
must clear their band as well as the isotropic one.

The neutral set ships as ``assets/walk_neutral.json`` (everyday sentences: train times, recipes,
weather reports; no emotion words, no word of a shipped preset's poles); a caller may give its own
(:func:`check_neutral`). A direction given as a raw vector (a file, the Senses page's) has no texts to
mirror: its data null is not applicable, and :attr:`DataNull.reason` says why.

Example::

    >>> null = data_null(lm, Direction.from_texts(lm, LOVE, HATE, 9, pooling="mean"))   # doctest: +SKIP
    >>> null.vectors.shape, null.sizes                                                  # doctest: +SKIP
    ((4, 576), (8, 8))
    >>> len(load_neutral()) >= 64
    True
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from latent.core.assets import asset
from latent.core.direction import Direction
from latent.core.errors import InputError

NEUTRAL_JSON = asset("walk_neutral.json")
N_SPLITS = 4          # data-null directions per sweep (each costs prompts × seeds × nonzero strengths rows)
NULL_SEED = 0         # the splits' seed (a held-out check draws its own with another)
MIN_NEUTRAL = 8       # a neutral set smaller than this cannot give splits that differ
MAX_NEUTRAL = 512     # texts (each pooled once per layer)
MAX_CHARS = 2000      # per neutral text


def load_neutral() -> tuple[str, ...]:
    """The shipped neutral set."""
    return tuple(json.loads(NEUTRAL_JSON.read_text(encoding="utf-8"))["texts"])


def neutral_lines(text: str) -> tuple[str, ...]:
    """A neutral set typed one sentence per line, blank lines dropped (empty: the shipped set); checked
    when the sweep runs (:func:`check_neutral`).

    >>> neutral_lines("The bus leaves at nine.\\n\\n  A cup of tea.  \\n")
    ('The bus leaves at nine.', 'A cup of tea.')
    """
    return tuple(x.strip() for x in (text or "").splitlines() if x.strip())


def check_neutral(texts) -> tuple[str, ...]:
    """A neutral set given by a user, checked: a list of at least :data:`MIN_NEUTRAL` different non-empty
    texts (blank ones dropped), at most :data:`MAX_NEUTRAL`, each at most :data:`MAX_CHARS` characters.

    >>> try:
    ...     check_neutral(["a"] * 3)
    ... except InputError as e:
    ...     print(str(e)[:60])
    The neutral set has 1 different text; give at least 8 differ
    """
    if isinstance(texts, (str, bytes)) or not all(isinstance(x, str) for x in texts):
        raise InputError(f"The neutral set must be a list of texts, not {str(texts)[:80]!r}.")
    out = tuple(dict.fromkeys(x.strip() for x in texts if x.strip()))
    if len(out) < MIN_NEUTRAL:
        raise InputError(f"The neutral set has {len(out)} different text{'s' * (len(out) != 1)}; give at least "
                         f"{MIN_NEUTRAL} different everyday sentences (one per line), or leave it empty for the shipped set.")
    if len(out) > MAX_NEUTRAL:
        raise InputError(f"The neutral set has {len(out)} texts; the limit is {MAX_NEUTRAL}.")
    long = next((x for x in out if len(x) > MAX_CHARS), None)
    if long is not None:
        raise InputError(f"A neutral text is {len(long)} characters long ({long[:40]!r}…); the limit is {MAX_CHARS}.")
    return out


def read_neutral(path) -> tuple[str, ...]:
    """A neutral set from a file: a JSON list of texts, a JSON object with ``texts`` (as the shipped
    set), or plain text with one sentence per line; checked with :func:`check_neutral`."""
    from pathlib import Path  # noqa: PLC0415 - only the CLI reads files

    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"Cannot read the neutral set {str(p)!r}: {e}.") from None
    if p.suffix.lower() == ".json" or raw.lstrip()[:1] in ("[", "{"):
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(f"The neutral set {p.name!r} is not valid JSON ({e.msg}, line {e.lineno}); give a list "
                             "of texts, or plain text with one sentence per line.") from None
        texts = doc.get("texts") if isinstance(doc, dict) else doc
        if not isinstance(texts, list):
            raise InputError(f"The neutral set {p.name!r} must be a JSON list of texts or an object with \"texts\".")
        return check_neutral(texts)
    return check_neutral(raw.splitlines())


@dataclass(frozen=True)
class DataNull:
    """The data-null directions of one sweep (unit vectors, ``(n_splits, d)``), or why there are none."""

    vectors: np.ndarray
    reason: str = ""                 # empty where applicable; else one sentence: why no data null was built
    sizes: tuple[int, int] = (0, 0)  # texts per side of each split (the direction's own set sizes, capped)
    n_texts: int = 0                 # in the neutral set
    neutral: str = "shipped"         # "shipped" or "given"
    seed: int = NULL_SEED
    poles: tuple = ()                # per split: (its positive texts, its negative texts): its own concept meter

    @property
    def applicable(self) -> bool:
        return not self.reason

    @property
    def n_splits(self) -> int:
        return len(self.vectors)

    def to_json(self) -> dict:
        return {"applicable": self.applicable, "reason": self.reason or None, "n_splits": self.n_splits,
                "sizes": list(self.sizes), "neutral": self.neutral, "n_texts": self.n_texts, "seed": self.seed}


def not_applicable(d_model: int, reason: str) -> DataNull:
    return DataNull(np.zeros((0, d_model), np.float32), reason)


def mirror_reason(direction: Direction) -> str:
    """Why a direction has no data null ("" when it has one: it was built from two sets of texts)."""
    r = direction.recipe or {}
    if r.get("kind") == "texts" and isinstance(r.get("positive"), list) and isinstance(r.get("negative"), list) \
            and r["positive"] and r["negative"]:
        return ""
    if r.get("kind") in (None, "", "manual", "random"):
        return "the direction was given as a vector, not built from two sets of texts, so there is no construction to mirror"
    return (f"the direction was built as {r.get('kind')!r}, not as the difference of two sets of texts, so there is no "
            "construction to mirror")


def pooled_neutral(lm, texts: tuple[str, ...], layer: int, pooling: str, keep_massive: bool) -> np.ndarray:
    """Every neutral text's pooled state at ``layer``, as :meth:`Direction.from_texts` pools (kept on the model)."""
    def pool():
        from latent.core.hidden import pooled_states  # noqa: PLC0415 - torch: only when pooled
        from latent.core.massive import mean_pool  # noqa: PLC0415 - torch: only when pooled

        if pooling == "mean":
            return mean_pool(lm, list(texts), layer, keep_massive=keep_massive).vectors
        return np.asarray(pooled_states(lm, list(texts), layer=layer, how=pooling), np.float32)
    return lm.derived(("walk", "neutral_pool", texts, layer, pooling, keep_massive), pool)


def data_null(lm, direction: Direction, neutral=None, n_splits: int = N_SPLITS, seed: int = NULL_SEED) -> DataNull:
    """``n_splits`` directions built as ``direction`` was (its recipe: pooling, massive-token rule, method,
    set sizes) from disjoint random subsets of the neutral set (``neutral``: the shipped set when None or
    empty; checked with :func:`check_neutral`), at its layer; or, for a direction not built from texts or
    ``n_splits`` 0, none and the reason."""
    if n_splits == 0:
        return not_applicable(lm.d_model, "the data-shaped null was turned off (n_splits = 0)")
    reason = mirror_reason(direction)
    if reason:
        return not_applicable(lm.d_model, reason)
    texts = check_neutral(neutral) if neutral else load_neutral()
    r = direction.recipe
    half = len(texts) // 2
    sizes = (min(len(r["positive"]), half), min(len(r["negative"]), half))
    pooling = r.get("pooling", "last")
    keep = bool((r.get("massive") or {}).get("kept", False))
    X = pooled_neutral(lm, texts, direction.layer, pooling, keep)
    rng = np.random.default_rng(seed)
    out, poles = [], []
    for _ in range(n_splits):
        perm = rng.permutation(len(texts))
        pi, ni = perm[:sizes[0]], perm[sizes[0]: sizes[0] + sizes[1]]
        v = Direction.from_states(X[pi], X[ni], direction.layer, method=r.get("method", "mean")).vector
        out.append(v / np.linalg.norm(v))
        poles.append((tuple(texts[i] for i in pi), tuple(texts[i] for i in ni)))
    return DataNull(np.stack(out).astype(np.float32), "", sizes, len(texts), "given" if neutral else "shipped", seed,
                    tuple(poles))
