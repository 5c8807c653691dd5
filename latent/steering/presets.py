"""Steering presets (assets/steer_presets.json), each built into a :class:`Direction` on a model.

A preset's layer is the paper's layer scaled to this model's relative depth (``L / 48`` of GPT-2-XL's
48 layers), clamped to 20-40 % of the depth (layers 6-12 of SmolLM2's 30, where steering stayed
fluent when we tried it by hand). The strengths are **hand-set**: no committed procedure chose them.
"""
from __future__ import annotations

import json

from latent.core.assets import asset
from latent.core.corpus import load_corpus
from latent.core.direction import Direction, DirectionError
from latent.senses.sets import get_builtin
from latent.senses.study import analyze

PRESETS_JSON = asset("steer_presets.json")
# hand-set on SmolLM2 (not measured by committed code; see the module docstring)
STRENGTH = {"Love − Hate": 0.2, "Weddings": 0.4, "Anger − Calm": 0.3,
            "Queen: bee − monarch (sense direction)": 0.2, "Seeds: GPT's turns − Frank's turns": 0.4}


def load_presets() -> dict[str, dict]:
    return {p["name"]: p for p in json.loads(PRESETS_JSON.read_text(encoding="utf-8"))}


def scaled_layer(preset: dict, n_layers: int) -> int:
    lo, hi = round(0.2 * n_layers), round(0.4 * n_layers)
    paper = (preset.get("paper") or {}).get("layer")
    if paper is None:
        return max(1, round(0.3 * n_layers))
    return max(1, lo, min(round(paper / 48 * n_layers), hi))


def build(lm, name: str, *, layer: int | None = None, method: str = "mean") -> Direction:
    presets = load_presets()
    if name not in presets:
        raise DirectionError(f"Unknown preset {name!r}. Must be one of: {', '.join(presets)}")
    p = presets[name]
    layer = scaled_layer(p, lm.n_layers) if layer is None else layer
    if p["kind"] == "texts":
        d = Direction.from_texts(lm, p["positive"], p["negative"], layer, method=method, pooling="mean")
        d.positive, d.negative = name.split(" − ")[0], (name.split(" − ")[1] if " − " in name else "neutral")
        return d
    if p["kind"] == "sense":
        rep = analyze(lm, get_builtin(p["word"]), [p["word"]], layer=layer)
        d = rep.direction(p["toward"], p["away"], layer)
        d.recipe = {**d.recipe, "positive": ["queen bee, honey, hive"], "negative": ["queen, monarch, crown, palace"]}
        return d

    dl = next(d for d in load_corpus() if d.id == p["dialogue"])
    pos = [t.text[:600] for t in dl.turns if t.speaker == p["toward"]]
    neg = [t.text[:600] for t in dl.turns if t.speaker == p["away"]]
    d = Direction.from_texts(lm, pos, neg, layer, method=method, pooling="mean")
    d.positive, d.negative = p["toward"], p["away"]
    return d
