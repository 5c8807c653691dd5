"""A ``Direction`` in the residual stream: a vector at a layer, with a record of how it was made.

Directions serve as custom map axes (Hidden states page), sense directions (Senses page) and
steering vectors (Latent walk). They support ``+``, ``-``, scalar ``*`` and negation, and save
to ``.npz`` (the vector) + ``.json`` (everything else).

Example::

    >>> d = Direction(np.array([3.0, 4.0]), layer=6, recipe={"kind": "manual"})
    >>> (2 * d).norm, (-d).vector.tolist(), (d - d).norm
    (10.0, [-3.0, -4.0], 0.0)
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent.core.errors import LatentError, check_layer
from latent.core.hidden import check_layers, pooled_states
from latent.core.massive import MULTIPLE, mean_pool

METHODS = ("mean", "pca")


class DirectionError(LatentError):
    """A direction that cannot be made or used; the message says why."""


@dataclass
class Direction:
    vector: np.ndarray  # (d,)
    layer: int
    recipe: dict = field(default_factory=dict)
    positive: str = "+"
    negative: str = "−"

    def __post_init__(self):
        self.vector = np.asarray(self.vector, dtype=np.float32).reshape(-1)

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    @property
    def label(self) -> str:
        return f"{self.negative} → {self.positive}"

    def unit(self) -> np.ndarray:
        n = self.norm
        if not np.isfinite(n) or n < 1e-8:
            raise DirectionError("This direction is zero (its two poles are identical); pick poles that differ.")
        return self.vector / n

    def project(self, X: np.ndarray) -> np.ndarray:
        """Signed coordinate of each row of ``X`` along the unit direction: ``(n,)``."""
        return np.asarray(X, np.float32) @ self.unit()

    # arithmetic ---------------------------------------------------------
    def _combine(self, other: "Direction", sign: float) -> "Direction":
        if not isinstance(other, Direction):
            return NotImplemented
        if other.layer != self.layer or other.vector.shape != self.vector.shape:
            raise DirectionError(f"Cannot combine directions at layers {self.layer} and {other.layer} "
                                 f"(or dims {self.vector.shape} and {other.vector.shape}).")
        op = "+" if sign > 0 else "-"
        return Direction(self.vector + sign * other.vector, self.layer,
                         {"kind": "combination", "op": op, "left": self.recipe, "right": other.recipe},
                         f"({self.positive}){op}({other.positive})", f"({self.negative}){op}({other.negative})")

    def __add__(self, other):
        return self._combine(other, 1.0)

    def __sub__(self, other):
        return self._combine(other, -1.0)

    def __mul__(self, k):
        if not isinstance(k, (int, float, np.floating, np.integer)):
            return NotImplemented
        return Direction(self.vector * float(k), self.layer, {"kind": "scaled", "by": float(k), "of": self.recipe},
                         self.positive, self.negative)

    __rmul__ = __mul__

    def __neg__(self):
        return Direction(-self.vector, self.layer, {"kind": "negated", "of": self.recipe},
                         self.negative, self.positive)

    # persistence --------------------------------------------------------
    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write ``path.npz`` and ``path.json``; returns both paths."""
        base = Path(path).with_suffix("")
        np.savez(base.with_suffix(".npz"), vector=self.vector)
        meta = {"layer": self.layer, "recipe": self.recipe, "positive": self.positive,
                "negative": self.negative, "dim": int(self.vector.size)}
        base.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        return base.with_suffix(".npz"), base.with_suffix(".json")

    @classmethod
    def load(cls, path: str | Path, *, d_model: int | None = None, n_layers: int | None = None) -> "Direction":
        """Load and validate (finite values, right dimension and layer for the loaded model).

        Reads ``path.npz`` (either format) and, when present, the metadata in ``path.json``."""
        base = Path(path).with_suffix("")
        try:
            data = base.with_suffix(".npz").read_bytes()
        except OSError as e:
            raise DirectionError(f"Cannot read direction file {base.with_suffix('.npz')}: {e}") from None
        d = cls.from_npz_bytes(data)
        if base.with_suffix(".json").is_file():
            try:
                meta = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise DirectionError(f"Bad direction metadata {base.with_suffix('.json')}: {e}") from None
            d = cls(d.vector, int(meta.get("layer", 0)), meta.get("recipe", {}), meta.get("positive", "+"),
                    meta.get("negative", "−"))
        return d.check(d_model=d_model, n_layers=n_layers)

    def to_dict(self) -> dict:
        """Everything, the vector included, as JSON-able values (for recipes)."""
        return {"vector": [float(x) for x in self.vector], "layer": int(self.layer), "recipe": self.recipe,
                "positive": self.positive, "negative": self.negative}

    @classmethod
    def from_dict(cls, d: dict, *, d_model: int | None = None, n_layers: int | None = None) -> "Direction":
        try:
            out = cls(np.asarray(d["vector"], np.float32), int(d["layer"]), d.get("recipe", {}),
                      d.get("positive", "+"), d.get("negative", "−"))
        except (KeyError, TypeError, ValueError) as e:
            raise DirectionError(f"Not a direction (needs 'vector' and 'layer'): {e}") from None
        return out.check(d_model=d_model, n_layers=n_layers)

    def to_npz_bytes(self) -> bytes:
        """The vector and its metadata in one ``.npz`` (metadata as a JSON string array)."""

        buf = io.BytesIO()
        meta = {"layer": self.layer, "recipe": self.recipe, "positive": self.positive, "negative": self.negative}
        np.savez(buf, vector=self.vector, meta=np.array(json.dumps(meta, ensure_ascii=False, default=str)))
        return buf.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes, *, d_model: int | None = None, n_layers: int | None = None) -> "Direction":
        """Load an uploaded ``.npz`` (from :meth:`to_npz_bytes`, or one with just ``vector``)."""

        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                vec = np.asarray(z["vector"], dtype=np.float32)
                meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
        except (OSError, KeyError, ValueError, EOFError):  # numpy's own text advises allow_pickle: not for users
            raise DirectionError("Not a direction file: expected a .npz saved from the Latent walk page "
                                 "(with a 'vector' array).") from None
        d = cls(vec, int(meta.get("layer", 0)), meta.get("recipe", {}), meta.get("positive", "+"),
                meta.get("negative", "−"))
        return d.check(d_model=d_model, n_layers=n_layers)

    def check(self, *, d_model: int | None = None, n_layers: int | None = None) -> "Direction":
        if self.vector.ndim != 1 or self.vector.size == 0:
            raise DirectionError("A direction must be a non-empty 1-D vector.")
        if not np.isfinite(self.vector).all():
            raise DirectionError("The direction contains NaN or inf values.")
        if d_model is not None and self.vector.size != d_model:
            raise DirectionError(f"The direction has {self.vector.size} dimensions; this model has {d_model}.")
        if n_layers is not None:
            check_layer(self.layer, n_layers, error=DirectionError)
        return self

    # construction -------------------------------------------------------
    @classmethod
    def from_states(cls, pos: np.ndarray, neg: np.ndarray, layer: int, *, method: str = "mean",
                    recipe: dict | None = None, positive: str = "+", negative: str = "−") -> "Direction":
        """From two sets of states ``(n, d)``: difference of means, or repeng-style first PC of
        paired differences (sign chosen so that the positive set scores higher)."""
        pos, neg = np.atleast_2d(np.asarray(pos, np.float32)), np.atleast_2d(np.asarray(neg, np.float32))
        if method not in METHODS:
            raise DirectionError(f"Unknown method {method!r}. Must be one of: {', '.join(METHODS)}")
        if method == "mean" or min(len(pos), len(neg)) < 2:
            v = pos.mean(0) - neg.mean(0)
        else:
            n = min(len(pos), len(neg))
            diffs = pos[:n] - neg[:n]  # (pairs, d)
            _, _, vt = np.linalg.svd(diffs - diffs.mean(0), full_matrices=False)
            v = vt[0] * np.linalg.norm(diffs.mean(0))  # first PC, scaled like the mean difference
            if (pos.mean(0) - neg.mean(0)) @ v < 0:
                v = -v
        if np.linalg.norm(v) < 1e-6 * max(1.0, float(np.linalg.norm(pos.mean(0)))):
            raise DirectionError("The two poles give the same state: the direction is zero. Use poles that differ.")
        return cls(v, layer, dict(recipe or {}, method=method), positive, negative)

    @classmethod
    def from_texts(cls, lm, positive: list[str] | str, negative: list[str] | str, layer: int, *,
                   method: str = "mean", pooling: str = "last", keep_massive: bool = False) -> "Direction":
        """From texts: pooled states of each pole's texts at ``layer`` (via the LM).

        Mean pooling leaves each text's massive tokens out (:mod:`latent.core.massive`: a first word's
        norm can be 5-10x its layer's median and would pull the mean); ``keep_massive`` keeps them. The
        recipe's ``massive`` says how many were left out, and :attr:`pooling_note` says it in a sentence."""

        pos = [positive] if isinstance(positive, str) else list(positive)
        neg = [negative] if isinstance(negative, str) else list(negative)
        if not pos or not neg:
            raise DirectionError("Both poles need at least one text.")
        check_layers(lm, [layer])
        recipe = {"kind": "texts", "positive": pos, "negative": neg, "pooling": pooling, "model": lm.name}
        if pooling == "mean":
            P, N = mean_pool(lm, pos, layer, keep_massive=keep_massive), mean_pool(lm, neg, layer, keep_massive=keep_massive)
            recipe["massive"] = {"kept": keep_massive, "tokens": P.tokens + N.tokens, "left_out": P.left_out + N.left_out,
                                 "whole_texts": P.whole + N.whole, "multiple": MULTIPLE}
            P, N = P.vectors, N.vectors
        else:
            P = pooled_states(lm, pos, layer=layer, how=pooling)
            N = pooled_states(lm, neg, layer=layer, how=pooling)
        short = lambda xs: xs[0][:30] + (f" (+{len(xs) - 1})" if len(xs) > 1 else "")  # noqa: E731
        return cls.from_states(P, N, layer, method=method, recipe=recipe, positive=short(pos), negative=short(neg))

    @property
    def pooling_note(self) -> str:
        """One sentence on what mean pooling left out (empty for a direction not mean-pooled from texts)."""
        m = (self.recipe or {}).get("massive")
        if not m:
            return ""
        if m.get("kept"):
            return (f"Mean of each text's {m['tokens']} tokens at layer {self.layer}, massive tokens kept "
                    f"(a norm over {m['multiple']:g}× the layer's median would otherwise be left out).")
        whole = (f"; {m['whole_texts']} text(s) of only massive tokens kept whole" if m.get("whole_texts") else "")
        return (f"Mean of each text's tokens at layer {self.layer}, leaving out {m['left_out']} of {m['tokens']} as "
                f"massive (norm over {m['multiple']:g}× the layer's median){whole}.")
