"""Steering presets (assets/walk_presets.json), each built into a :class:`Direction` on a model,
and each preset's setting on a model (:func:`preset_setting`: its layer, strength and prompts), from
which :meth:`latent.walk.spec.SweepSpec.default` makes the sweep a page, a lesson and
``python -m latent steer --preset`` run.

Each preset carries 8 default prompts and 8 held-out prompts. Its layer and strength are
**measured** for a model where ``bench/bench_presets.py`` swept layers × strengths on the held-out
prompts and wrote the chosen setting with its effect to ``assets/walk_settings.json``
(:func:`preset_setting` says which). Otherwise they are **hand-set**: the paper's layer scaled to this
model's relative depth (``L / 48`` of GPT-2-XL's 48 layers, clamped to 20-40 % of the depth) and a
strength no committed procedure chose, and the page says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from latent.core.assets import asset
from latent.core.corpus import load_corpus
from latent.core.direction import Direction, DirectionError
from latent.senses.sets import get_builtin
from latent.senses.study import analyze

PRESETS_JSON = asset("walk_presets.json")
SETTINGS_JSON = asset("walk_settings.json")
DEFAULT_PRESET = "Love − Hate"
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


def build(lm, name: str, *, layer: int | None = None, method: str = "mean", keep_massive: bool = False) -> Direction:
    """A preset's direction on ``lm``; texts are mean-pooled without their massive tokens unless ``keep_massive``
    (:meth:`Direction.from_texts`)."""
    presets = load_presets()
    if name not in presets:
        raise DirectionError(f"Unknown preset {name!r}. Must be one of: {', '.join(presets)}")
    p = presets[name]
    layer = scaled_layer(p, lm.n_layers) if layer is None else layer
    if p["kind"] == "texts":
        d = Direction.from_texts(lm, p["positive"], p["negative"], layer, method=method, pooling="mean",
                                 keep_massive=keep_massive)
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
    d = Direction.from_texts(lm, pos, neg, layer, method=method, pooling="mean", keep_massive=keep_massive)
    d.positive, d.negative = p["toward"], p["away"]
    return d


@dataclass(frozen=True)
class PresetSetting:
    """A preset's setting on one model: its layer and strength (the sweep runs at ±strength), its
    prompts; ``measured`` holds what the bench measured on the held-out prompts (None: hand-set). The
    sweep built from it is :meth:`latent.walk.spec.SweepSpec.default`."""

    preset: str
    layer: int
    strength: float
    prompts: tuple[str, ...]
    measured: dict | None = None

    @property
    def strengths(self) -> list[float]:
        return [-self.strength, 0.0, self.strength]

    def source(self) -> str:
        """Where the layer and strength came from, in a sentence for the page."""
        if not self.measured:
            return (f"Layer {self.layer} and strength {self.strength:g} are hand-set (no committed procedure chose them "
                    "for this model).")
        m = self.measured
        if m.get("qualified") is False:
            return (f"No layer and strength in bench/bench_presets.py's grid cleared both nulls below the cliff on "
                    f"{m['n_heldout']} held-out prompts ({m.get('cliff_rule', 'the cliff rule')}): layer {self.layer} "
                    f"and strength {self.strength:g} are the earlier choice, kept for the page, not a measured one.")
        if "data_band" in m:
            s = (f"Layer {self.layer} and strength {self.strength:g} were chosen by bench/bench_presets.py on "
                 f"{m['n_heldout']} held-out prompts (not these), below the cliff ({m.get('cliff_rule', 'the cliff rule')}), "
                 f"where the slope was {m['slope']:+.3f} [{m['slope_ci'][0]:+.3f}, {m['slope_ci'][1]:+.3f}] against random "
                 f"directions' {m['random_band'][0]:+.3f} to {m['random_band'][1]:+.3f} and the data-shaped null's "
                 f"{m['data_band'][0]:+.3f} to {m['data_band'][1]:+.3f}: {m['verdict']}.")
            other = [x for x in m.get("prompt_sets") or [] if x.get("name") == "second held-out prompts"]
            if other:
                o = other[0]
                s += (f" On {o['n_prompts']} other held-out prompts: {o['slope']:+.3f} [{o['slope_ci'][0]:+.3f}, "
                      f"{o['slope_ci'][1]:+.3f}], {o['verdict']}.")
            return s
        return (f"Layer {self.layer} and strength {self.strength:g} were chosen by bench/bench_presets.py on "
                f"{m['n_heldout']} held-out prompts (not these), where the slope was {m['slope']:+.3f} "
                f"[{m['slope_ci'][0]:+.3f}, {m['slope_ci'][1]:+.3f}] against random directions' {m['random_band'][0]:+.3f} to "
                f"{m['random_band'][1]:+.3f}: {m['verdict']}.")


def measured_settings() -> dict:
    """{model name: {preset: the chosen setting and what it measured}} as the bench wrote it."""
    if not SETTINGS_JSON.exists():
        return {}
    return json.loads(SETTINGS_JSON.read_text(encoding="utf-8"))


def preset_setting(lm, name: str = DEFAULT_PRESET) -> PresetSetting:
    presets = load_presets()
    if name not in presets:
        raise DirectionError(f"Unknown preset {name!r}. Must be one of: {', '.join(presets)}")
    p = presets[name]
    m = measured_settings().get(lm.name, {}).get(name)
    if m:
        return PresetSetting(name, int(m["layer"]), float(m["strength"]), tuple(p["prompts"]), measured=m)
    return PresetSetting(name, scaled_layer(p, lm.n_layers), STRENGTH[name], tuple(p["prompts"]))
