"""The dialogue map: every turn of every dialogue as one point in latent space.

A turn's vector comes from the sentence encoder, or from the LM's hidden state at one layer
pooled over the turn's tokens. The vectors are projected to 2D/3D with :class:`Projector`.

Example::

    >>> spec = MapSpec(source="lm", layer=12, pooling="mean", method="pca")
    >>> df = compute_map(spec, load_corpus(), lm=lm)             # doctest: +SKIP
    >>> df[["dialogue", "turn", "speaker", "x", "y"]].head(2)  # one row per turn  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from latent.core.assets import asset
from latent.core.corpus import Dialogue, all_turns, load_corpus
from latent.core.errors import InputError, check_layer
from latent.core.massive import MULTIPLE, mean_pool
from latent.core.models import cache_dir, embed
from latent.core.project import Projector
from latent.core.store import memo

SOURCES = ("encoder", "lm")
SHIPPED_VECTORS = asset("vectors")
POOLINGS = ("mean", "last")
COLORS = ("speaker", "dialogue")


@dataclass(frozen=True)
class MapSpec:
    """Everything that decides the map; doubles as the figure's recipe parameters."""

    source: str = "encoder"
    layer: int = 12
    pooling: str = "mean"
    method: str = "umap"
    dims: int = 2
    seed: int = 0
    color: str = "speaker"

    def validate(self, n_layers: int | None = None) -> "MapSpec":
        if self.source not in SOURCES:
            raise InputError(f"Unknown source {self.source!r}. Must be one of: {', '.join(SOURCES)}")
        if self.pooling not in POOLINGS:
            raise InputError(f"Unknown pooling {self.pooling!r}. Must be one of: {', '.join(POOLINGS)}")
        if self.color not in COLORS:
            raise InputError(f"Unknown color {self.color!r}. Must be one of: {', '.join(COLORS)}")
        if n_layers is not None and self.source == "lm":
            check_layer(self.layer, n_layers)
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def turn_table(dialogues: list[Dialogue]) -> pd.DataFrame:
    """One row per turn: dialogue id/title, turn index, speaker, section, text."""
    rows = [{"dialogue": d.id, "title": d.title, "turn": t.index, "speaker": t.speaker,
             "section": t.section or "", "text": t.text} for d, t in all_turns(dialogues)]
    return pd.DataFrame(rows)


def _vector_file(name: str, texts: list[str]) -> str:
    h = hashlib.sha256(name.encode())
    for t in texts:
        h.update(b"\x00" + t.encode("utf-8"))
    return h.hexdigest()[:24] + ".npy"


def cached_vectors(name: str, texts: list[str], compute) -> np.ndarray:
    """Vectors for ``texts`` from a file keyed by a hash of ``name`` and the texts: first the copy
    shipped in ``assets/vectors`` (the seed corpus with the embedded encoder), then the user cache
    dir; else ``compute()`` and store them in the cache dir."""

    fname = _vector_file(name, texts)
    for folder in (SHIPPED_VECTORS, cache_dir() / "vectors"):
        if (folder / fname).is_file():
            try:
                X = np.load(folder / fname, allow_pickle=False)
                if X.shape[0] == len(texts):
                    return X
            except (OSError, ValueError):
                pass
    X = np.asarray(compute(), dtype=np.float32)
    out = cache_dir() / "vectors"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (fname + ".tmp.npy")
    np.save(tmp, X)
    tmp.replace(out / fname)
    return X


def _model(x):
    """A model object (it has ``.encode`` / ``.model``), or a zero-argument function that returns one."""
    return x if hasattr(x, "encode") or hasattr(x, "model") else x()


def turn_vectors(spec: MapSpec, texts: list[str], *, lm=None, encoder=None, progress=None) -> np.ndarray:
    """``(n_turns, d)`` vectors for the turns, from the encoder or the LM (cached on disk).

    ``encoder`` and ``lm`` may be zero-argument callables, called only when the vectors must be computed.
    """
    if spec.source == "encoder":
        if encoder is None:
            raise InputError("source='encoder' needs a sentence encoder.")

        return cached_vectors("encoder:all-MiniLM-L6-v2", texts, lambda: embed(_model(encoder), texts))
    if lm is None:
        raise InputError("source='lm' needs a language model.")

    return lm_turns(spec, texts, _model(lm), progress=progress)[0]


def lm_turns(spec: MapSpec, texts: list[str], lm, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """The LM's turn vectors and, per turn, how many massive tokens mean pooling left out (both kept on
    disk). Mean pooling leaves a turn's massive tokens out (:func:`~latent.core.massive.mean_pool`, the
    app's one rule: a first word's state at SmolLM2's layers 3-9 can hold most of a turn's squared norm,
    and turns would group by their first word); "last" pools one token and leaves nothing out."""
    from latent.core.hidden import fit_text, pooled_states  # noqa: PLC0415 - torch: only for an LM's map (Home's is the encoder's)

    fitted = [fit_text(lm, t) for t in texts]
    if spec.pooling != "mean":
        V = cached_vectors(f"lm:{lm.fingerprint}:{spec.layer}:{spec.pooling}", texts,
                           lambda: pooled_states(lm, fitted, layer=spec.layer, how=spec.pooling, progress=progress))
        return V, np.zeros(len(texts), np.int64)
    done = {}

    def pool():
        if "p" not in done:
            done["p"] = mean_pool(lm, fitted, spec.layer, progress=progress)
        return done["p"]
    name = f"lm:{lm.fingerprint}:{spec.layer}:mean-without-massive"
    V = cached_vectors(name, texts, lambda: pool().vectors)
    left = cached_vectors(name + ":left-out", texts, lambda: pool().left_each[:, None].astype(np.float32))
    return V, left[:, 0].astype(np.int64)


def compute_map(spec: MapSpec, dialogues: list[Dialogue], *, lm=None, encoder=None,
                progress=None) -> tuple[pd.DataFrame, str]:
    """The map's table (turns + coordinates) and a note (e.g. a PCA fallback), or raise."""
    spec.validate(lm.n_layers if hasattr(lm, "n_layers") else None)
    df = turn_table(dialogues)
    added = df["dialogue"].isin([d.id for d in dialogues if d.kind == "user"]).to_numpy()
    fit = ~added if (~added).sum() >= 3 else np.ones(len(df), bool)
    # the fitted turns' vectors never depend on what was added (same cache entry, same map)
    lm_source = spec.source == "lm" and lm is not None
    if lm_source:
        lm = _model(lm)
    parts = [(m, lm_turns(spec, df.loc[m, "text"].tolist(), lm, progress=progress) if lm_source else
              (turn_vectors(spec, df.loc[m, "text"].tolist(), lm=lm, encoder=encoder, progress=progress), None))
             for m in (fit, ~fit) if m.any()]
    X = np.zeros((len(df), parts[0][1][0].shape[1]), np.float32)
    left = np.zeros(len(df), np.int64)
    for m, (V, L) in parts:
        X[m] = V
        if L is not None:
            left[m] = L
    proj = Projector(spec.method, n_components=spec.dims, seed=spec.seed,
                     n_neighbors=min(15, max(2, int(fit.sum()) // 4)))
    Y = np.zeros((len(df), spec.dims), np.float32)
    Y[fit] = proj.fit_transform(X[fit])        # the map is fitted on the seed texts only...
    if (~fit).any():
        Y[~fit] = proj.transform(X[~fit])       # ...added dialogues are placed on it, so it keeps its shape
    for i, axis in enumerate("xyz"[: spec.dims]):
        df[axis] = Y[:, i]
    df["placed"] = ~fit
    notes = [proj.note_] if proj.note_ else []
    if lm_source and spec.pooling == "mean":
        df["massive_left_out"] = left
        notes.append(massive_note(left, spec.layer))
    return df, " ".join(notes)


def massive_note(left: np.ndarray, layer: int) -> str:
    """What mean pooling left out of the turns, in one sentence (empty when nothing was).

    >>> massive_note(np.array([0, 2, 1, 0]), 6)[:60]
    'Mean pooling left out 3 massive tokens in 2 of 4 turns at la'
    >>> massive_note(np.array([0, 0]), 6)
    ''
    """
    n, turns = int(left.sum()), int((left > 0).sum())
    if not n:
        return ""
    return (f"Mean pooling left out {n} massive token{'s' * (n != 1)} in {turns} of {len(left)} turns at layer {layer} "
            f"(a state's norm over {MULTIPLE:g}× the layer's median token norm: mostly a turn's first word, one huge "
            "vector shared across texts); the table's massive_left_out column says which.")


def kept_map(spec: MapSpec, extra: list[Dialogue] = (), *, lm=None, encoder=None,
             progress=None) -> tuple[pd.DataFrame, str]:
    """:func:`compute_map` of the seed dialogues plus ``extra``, computed once per process per spec, added
    dialogues and model (the turn vectors themselves are kept on disk by :func:`turn_vectors`)."""
    extra = list(extra)
    key = (json.dumps(spec.to_dict(), sort_keys=True), json.dumps([d.to_dict() for d in extra], sort_keys=True),
           lm.key if lm is not None else None)
    return memo("dialogue_map", key, lambda: compute_map(spec, load_corpus() + extra, lm=lm, encoder=encoder,
                                                         progress=progress))
