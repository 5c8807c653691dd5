"""The dialogue map: every turn of every dialogue as one point in latent space.

A turn's vector comes from the sentence encoder, or from the LM's hidden state at one layer
pooled over the turn's tokens. The vectors are projected to 2D/3D with :class:`Projector`.

Example::

    >>> spec = MapSpec(source="lm", layer=12, pooling="mean", method="pca")
    >>> df = compute_map(spec, load_corpus(), lm=lm)             # doctest: +SKIP
    >>> df[["dialogue", "turn", "speaker", "x", "y"]].head(2)   # one row per turn
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from latent.corpus import Dialogue, all_turns
from latent.project import Projector

SOURCES = ("encoder", "lm")
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
            raise ValueError(f"Unknown source {self.source!r}. Must be one of: {', '.join(SOURCES)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}. Must be one of: {', '.join(POOLINGS)}")
        if self.color not in COLORS:
            raise ValueError(f"Unknown color {self.color!r}. Must be one of: {', '.join(COLORS)}")
        if n_layers is not None and self.source == "lm" and not 0 <= self.layer <= n_layers:
            raise ValueError(f"Layer {self.layer} is out of range: this model has layers 0-{n_layers}.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def turn_table(dialogues: list[Dialogue]) -> pd.DataFrame:
    """One row per turn: dialogue id/title, turn index, speaker, section, text."""
    rows = [{"dialogue": d.id, "title": d.title, "turn": t.index, "speaker": t.speaker,
             "section": t.section or "", "text": t.text} for d, t in all_turns(dialogues)]
    return pd.DataFrame(rows)


def turn_vectors(spec: MapSpec, texts: list[str], *, lm=None, encoder=None, progress=None) -> np.ndarray:
    """``(n_turns, d)`` vectors for the turns, from the encoder or the LM."""
    if spec.source == "encoder":
        if encoder is None:
            raise ValueError("source='encoder' needs a sentence encoder.")
        return np.asarray(encoder.encode(texts, batch_size=32, normalize_embeddings=True), np.float32)
    if lm is None:
        raise ValueError("source='lm' needs a language model.")
    from latent.hidden import pooled_states

    return pooled_states(lm, texts, layer=spec.layer, how=spec.pooling, progress=progress)


def compute_map(spec: MapSpec, dialogues: list[Dialogue], *, lm=None, encoder=None,
                progress=None) -> tuple[pd.DataFrame, str]:
    """The map's table (turns + coordinates) and a note (e.g. a PCA fallback), or raise."""
    spec.validate(lm.n_layers if lm is not None else None)
    df = turn_table(dialogues)
    X = turn_vectors(spec, df["text"].tolist(), lm=lm, encoder=encoder, progress=progress)
    proj = Projector(spec.method, n_components=spec.dims, seed=spec.seed,
                     n_neighbors=min(15, max(2, len(X) // 4)))
    Y = proj.fit_transform(X)
    for i, axis in enumerate("xyz"[: spec.dims]):
        df[axis] = Y[:, i]
    return df, proj.note_
