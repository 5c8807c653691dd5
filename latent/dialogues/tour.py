"""The first screen: the seed dialogues' map with a few notes that teach how to read it, each note
chosen from the data (never a fixed position), so it stays true if the corpus or encoder changes.

Example::

    >>> tour = first_screen(load_corpus(), encoder=load_encoder)          # doctest: +SKIP
    >>> [n.label for n in tour.notes][:2]  # doctest: +SKIP
    ['Start: “Frank & GPT: computational eco…”', 'End: “Frank & GPT: computational eco…”']
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latent.chart_words import tr
from latent.core.corpus import Dialogue, all_turns
from latent.core.models import DEFAULT_ENCODER
from latent.core.store import memo, store
from latent.dialogues.map import MapSpec, compute_map, turn_vectors

SPEC = MapSpec(source="encoder", method="pca", dims=2, seed=0, color="dialogue")
QUEEN = re.compile(r"\bqueen\b", re.I)


@dataclass(frozen=True)
class Note:
    dialogue: str
    turn: int
    label: str
    template: str = ""        # the label's English words (a chart word, latent.chart_words), with {title} to fill
    title: str = ""

    def label_in(self, lang: str = "en") -> str:
        """The note in ``lang`` (a text's title stays as it is); a note kept before it had a template stays English."""
        return tr(self.template, lang, title=self.title) if self.template else self.label


@dataclass(frozen=True)
class Tour:
    table: pd.DataFrame       # the map's rows (turns + x, y)
    notes: list[Note]
    pair: tuple               # the closest two turns from different texts: ((dialogue, turn), (dialogue, turn))
    explained: float          # share of the vectors' variance the two PCA axes keep
    nearest_cos: float        # cosine of the closest pair of turns from different texts (full space)
    nearest_rank: int         # that pair's rank by 2-D distance among all cross-text pairs (1 = also closest)
    n_pairs: int              # how many cross-text pairs there are

    def caption(self) -> str:
        return (f"A point is one turn of the five seed texts ({len(self.table)} turns), embedded by the sentence "
                f"encoder all-MiniLM-L6-v2; colour is the text; a line joins consecutive turns, so a conversation "
                f"is a path. The axes are the two PCA directions of largest spread (no units); they keep "
                f"{self.explained:.0%} of the variance, so nearness on the map is approximate: the two turns closest "
                f"in the full 384-d space (cosine {self.nearest_cos:.2f}) are pair {self.nearest_rank} of "
                f"{self.n_pairs} by distance on the map.")


def first_screen(dialogues: list[Dialogue], encoder=None) -> Tour:
    """The map of the seed texts (encoder, PCA: no UMAP compile wait) and its notes: where the
    longest conversation starts and ends, the first turn that says "queen", and the two closest
    turns from different texts, measured in the full encoder space."""
    df, _ = compute_map(SPEC, dialogues, encoder=encoder)
    X = turn_vectors(SPEC, df["text"].tolist(), encoder=encoder)                 # (turns, 384)
    Xc = X - X.mean(0)
    Y = df[["x", "y"]].to_numpy(float)
    explained = float((Y - Y.mean(0)).var(0).sum() / Xc.var(0).sum())

    notes = []
    sizes = df.groupby("dialogue", sort=False).size()
    longest = df[df["dialogue"] == sizes.idxmax()].sort_values("turn")
    title = _short(longest["title"].iloc[0])
    for row, words in ((longest.iloc[0], "Start: “{title}”"), (longest.iloc[-1], "End: “{title}”")):
        notes.append(Note(row["dialogue"], int(row["turn"]), words.format(title=title), words, title))
    queen = df[df["text"].str.contains(QUEEN)]
    if len(queen):
        q = queen.iloc[0]
        words = "The first turn that says “queen”"
        notes.append(Note(q["dialogue"], int(q["turn"]), words, words))

    U = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    cos = U @ U.T
    d = df["dialogue"].to_numpy()
    cross = d[:, None] != d[None, :]
    iu = np.triu_indices(len(df), 1)
    keep = cross[iu]
    pairs = (iu[0][keep], iu[1][keep])
    k = int(np.argmax(cos[pairs]))
    a, b = pairs[0][k], pairs[1][k]
    dist2 = np.linalg.norm(Y[pairs[0]] - Y[pairs[1]], axis=1)
    rank = int((dist2 < dist2[k]).sum()) + 1
    pair = ((d[a], int(df["turn"].iloc[a])), (d[b], int(df["turn"].iloc[b])))
    return Tour(df, notes, pair, explained, float(cos[a, b]), rank, int(keep.sum()))


def kept_first_screen(dialogues: list[Dialogue], encoder=None) -> Tour:
    """:func:`first_screen` from the result store, keyed by every turn (text, speaker, place) and the encoder:
    a start with a filled store draws Home's map without fitting it (scikit-learn's import alone is ~1 s)."""
    h = hashlib.sha256()
    for d, t in all_turns(dialogues):
        h.update(repr((d.id, d.title, t.index, t.speaker, t.section, t.text)).encode("utf-8") + b"\x00")
    params = {"turns": h.hexdigest(), "encoder": DEFAULT_ENCODER, **SPEC.to_dict()}
    return memo("tour", h.hexdigest(), lambda: store().cached(       # once per process, then from memory
        "dialogues.first_screen", params, None, lambda: first_screen(dialogues, encoder=encoder)))


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
