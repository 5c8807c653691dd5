"""Every token through every layer on one stable map.

The projection is fitted **once, jointly on all chosen layers**, so a token's coordinates are
comparable across layers and a layer slider only changes which layer is shown. Vectors are
L2-normalised before projection (cosine geometry, like the nearest-neighbour search), because
residual norms grow ~100x with depth and would otherwise decide the map on their own.

Each point says whether it is **massive** (:mod:`latent.core.massive`: a norm over 4× its layer's median,
an attention sink such as SmolLM2's first words at layers 3-9); such points of unrelated texts are each
other's nearest neighbours, so :func:`nearest` can leave them out (``massive=False``) and the figure marks them.

Example::

    >>> tm = token_map(lm, ["The queen of the hive"], layers=range(0, 31, 5), method="pca")  # doctest: +SKIP
    >>> tm.table.groupby("layer").size().tolist()  # 5 tokens at each of 7 layers  # doctest: +SKIP
    [5, 5, 5, 5, 5, 5, 5]
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from latent.core.hidden import InputError, check_layer_list, check_layers, hidden_states
from latent.core.massive import MassiveRule, massive_mask, massive_rule
from latent.core.project import Projector, unit_rows
from latent.core.store import memo, store

MAX_PROMPTS = 64
MAX_POINTS = 50_000   # drawn with WebGL up to this; above it tokens are sampled (whole paths kept)


@dataclass
class TokenMap:
    table: pd.DataFrame   # text_index, token_index, token, layer, x, y[, z], placed, massive
    vectors: np.ndarray   # (points, d) raw states, aligned with table rows
    projector: Projector
    note: str = ""
    total_points: int = 0  # before sampling
    rule: MassiveRule | None = None   # the model's massive-token rule that set the ``massive`` column

    @property
    def sampled(self) -> bool:
        return self.total_points > len(self.table)

    def to_json(self) -> dict:
        """The CLI contract (``tokens --json``): ``points[]`` with ``text_index``, ``token_index``, ``token``,
        ``layer``, ``x``, ``y`` (``z`` in 3-D) and ``massive``; ``massive_rule{multiple, layer_median}``
        (``layer_median[L]``: layer L's median token norm on reference text; a point is massive above
        ``multiple`` × it)."""
        axes = [a for a in "xyz" if a in self.table.columns]
        pts = [{"text_index": int(r["text_index"]), "token_index": int(r["token_index"]), "token": r["token"],
                "layer": int(r["layer"]), **{a: float(r[a]) for a in axes}, "massive": bool(r["massive"])}
               for r in self.table.to_dict("records")]
        return {"points": pts, "massive_rule": self.rule.to_json() if self.rule else None,
                "massive_points": int(self.table["massive"].sum())}


def parse_layers(spec: str, n_layers: int) -> list[int]:
    """'0-30', '0,5,10', '12' or '0-30:5' (every 5th) -> sorted layer list, validated.

    >>> parse_layers("0-10:5,30", 30)
    [0, 5, 10, 30]
    """
    out: set[int] = set()
    for part in str(spec).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not m:
            raise InputError(f"Cannot read layers {spec!r}: use e.g. 0-30, 0,6,12 or 0-30:5.")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        step = int(m.group(3)) if m.group(3) else 1
        if b < a or step < 1:
            raise InputError(f"Bad layer range {part!r}: the end must not be before the start.")
        out.update(range(a, b + 1, step))
    return check_layer_list(out, n_layers)


def check_prompts(prompts: list[str]) -> list[str]:
    prompts = [p for p in (prompts or []) if isinstance(p, str) and p.strip()]
    if not prompts:
        raise InputError("No prompts: type at least one.")
    if len(prompts) > MAX_PROMPTS:
        raise InputError(f"{len(prompts)} prompts is too many; the limit is {MAX_PROMPTS}.")
    return prompts


def token_map(lm, prompts: list[str], layers, *, method: str = "umap", dims: int = 2, seed: int = 0,
              max_points: int = MAX_POINTS, progress=None) -> TokenMap:
    """Hidden states of every token at every chosen layer, projected jointly."""
    prompts = check_prompts(prompts)
    layers = check_layers(lm, layers)
    res = hidden_states(lm, prompts, layers=layers, progress=progress)
    rows, vecs = [], []
    for ti, ts in enumerate(res):
        for li, layer in enumerate(layers):
            for pos, tok in enumerate(ts.tokens):
                rows.append((ti, pos, tok, layer))
            vecs.append(ts.states[li])
    table = pd.DataFrame(rows, columns=["text_index", "token_index", "token", "layer"])
    X = np.concatenate(vecs).astype(np.float32)  # (points, d)
    rule = massive_rule(lm)
    table["massive"] = massive_mask(X, table["layer"].to_numpy(), rule)
    total = len(table)
    if total > max_points:  # sample whole tokens so every kept token keeps its full path
        keys = table[["text_index", "token_index"]].drop_duplicates()
        keep_n = max(1, max_points // len(layers))
        keep = keys.sample(n=min(keep_n, len(keys)), random_state=seed)
        mask = table.set_index(["text_index", "token_index"]).index.isin(pd.MultiIndex.from_frame(keep))
        table, X = table[mask].reset_index(drop=True), X[mask]
    proj = Projector(method, n_components=dims, seed=seed, n_neighbors=15)
    Y = proj.fit_transform(unit_rows(X))
    for i, axis in enumerate("xyz"[:dims]):
        table[axis] = Y[:, i]
    table["placed"] = False
    note = proj.note_
    if total > len(table):
        note = (note + " " if note else "") + f"Showing a sample of {len(table):,} of {total:,} points."
    return TokenMap(table, X, proj, note, total, rule)


def kept_token_map(lm, prompts, layers, *, method: str = "umap", dims: int = 2, seed: int = 0,
                   progress=None) -> TokenMap:
    """:func:`token_map`, computed once per process (the Hidden states page's layer slider recomputes
    nothing) and kept in the result store: the page, a recipe and the CLI read one map."""
    prompts, layers = list(prompts), list(layers)
    params = {"prompts": prompts, "layers": layers, "method": method, "dims": dims, "seed": seed}
    return memo("token_map", (json.dumps(params, default=repr), lm.key), lambda: store().cached(
        "tokens.map", params, lm, lambda: token_map(lm, prompts, layers, method=method, dims=dims, seed=seed,
                                                    progress=progress)), max_entries=8)


def place(tm: TokenMap, lm, text: str) -> pd.DataFrame:
    """New text placed on the existing map with ``transform`` (no refit); rows flagged placed."""
    layers = sorted(tm.table["layer"].unique().tolist())
    ts = hidden_states(lm, [text], layers=layers)[0]
    rows, vecs = [], []
    for li, layer in enumerate(layers):
        for pos, tok in enumerate(ts.tokens):
            rows.append((-1, pos, tok, layer))
        vecs.append(ts.states[li])
    out = pd.DataFrame(rows, columns=["text_index", "token_index", "token", "layer"])
    X = np.concatenate(vecs)
    out["massive"] = massive_mask(X, out["layer"].to_numpy(), tm.rule or massive_rule(lm))
    Y = tm.projector.transform(unit_rows(X))
    for i, axis in enumerate("xyz"[: Y.shape[1]]):
        out[axis] = Y[:, i]
    out["placed"] = True
    return out


def nearest(tm: TokenMap, index: int, k: int = 10, *, other_tokens: bool = False, massive: bool = True) -> pd.DataFrame:
    """The k nearest points to row ``index`` by cosine similarity in the full d_model space, each with
    its ``massive`` flag.

    ``other_tokens``: leave out the point's own token at other layers (otherwise those, one layer
    away, are usually all the nearest neighbours there are). ``massive=False``: leave massive points
    out of the neighbours (they are each other's nearest at cosine ~0.99, whatever their texts)."""
    if not 0 <= index < len(tm.vectors):
        raise InputError(f"Point {index} does not exist (the map has {len(tm.vectors)} points).")
    U = unit_rows(tm.vectors)
    sims = U @ U[index]
    sims[index] = -np.inf
    if other_tokens:
        t = tm.table
        same = (t["text_index"] == t.at[index, "text_index"]) & (t["token_index"] == t.at[index, "token_index"])
        sims[same.to_numpy()] = -np.inf
    if not massive and "massive" in tm.table:
        sims[tm.table["massive"].to_numpy(bool)] = -np.inf
    k = min(k, int(np.isfinite(sims).sum()))
    idx = np.argpartition(-sims, k - 1)[:k] if k > 0 else np.array([], int)
    idx = idx[np.argsort(-sims[idx])]
    out = tm.table.iloc[idx][["text_index", "token_index", "token", "layer"]].copy()
    out["massive"] = tm.table["massive"].to_numpy(bool)[idx] if "massive" in tm.table else False
    out["cosine"] = sims[idx]
    out.insert(0, "row", idx)
    return out.reset_index(drop=True)


def axis_view(tm: TokenMap, x_dir, y_dir=None) -> pd.DataFrame:
    """Custom axes: x = projection on ``x_dir``; y = on ``y_dir``, else the map's first coordinate."""
    t = tm.table.copy()
    t["x_map"], t["y_map"] = t["x"], t["y"]
    t["x"] = x_dir.project(tm.vectors)
    t["y"] = y_dir.project(tm.vectors) if y_dir is not None else t["x_map"]
    return t
