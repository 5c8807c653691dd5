"""Rebuild a figure's data from its JSON recipe (see :func:`latent.export.make_recipe`).

Example::

    >>> df, fig, note = replay(json.load(open("map.json")), Resources())   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

KINDS: dict[str, Callable] = {}


class RecipeError(ValueError):
    """A recipe that cannot be replayed; the message says which field is wrong."""


@dataclass
class Resources:
    """Lazily loaded models, so a recipe that needs no LM never loads one."""

    model: str | None = None
    _lm: object = field(default=None, repr=False)
    _enc: object = field(default=None, repr=False)

    def lm(self):
        if self._lm is None:
            from latent.models import load_lm

            self._lm = load_lm(self.model)
        return self._lm

    def encoder(self):
        if self._enc is None:
            from latent.models import load_encoder

            self._enc = load_encoder()
        return self._enc


def register(kind: str):
    def deco(fn):
        KINDS[kind] = fn
        return fn
    return deco


def replay(recipe: dict, res: Resources | None = None):
    """Return ``(table, figure, note)`` for a recipe dict."""
    if not isinstance(recipe, dict) or "kind" not in recipe or "params" not in recipe:
        raise RecipeError('A recipe must be a JSON object with "kind" and "params".')
    kind = recipe["kind"]
    if kind not in KINDS:
        raise RecipeError(f"Unknown recipe kind {kind!r}. Must be one of: {', '.join(sorted(KINDS))}")
    res = res or Resources(recipe.get("model"))
    return KINDS[kind](recipe["params"], res)


@register("dialogue_map")
def _dialogue_map(params: dict, res: Resources):
    from latent.corpus import Dialogue, load_corpus
    from latent.dialogue_map import MapSpec, compute_map
    from latent.figures import dialogue_map_figure

    p = dict(params)
    extra = [Dialogue.from_dict(d) for d in p.pop("extra_dialogues", [])]
    try:
        spec = MapSpec(**p)
    except TypeError as e:
        raise RecipeError(f"Bad dialogue_map params: {e}") from None
    dialogues = load_corpus() + extra
    lm = res.lm() if spec.source == "lm" else None
    enc = res.encoder() if spec.source == "encoder" else None
    df, note = compute_map(spec, dialogues, lm=lm, encoder=enc)
    fig = dialogue_map_figure(df, color=spec.color, dims=spec.dims, title=map_title(spec, lm))
    return df, fig, note


def map_title(spec, lm=None) -> str:
    src = "sentence encoder (all-MiniLM-L6-v2)" if spec.source == "encoder" else \
        f"{lm.name if lm else 'LM'} layer {spec.layer}, {spec.pooling} pooling"
    return f"Dialogue map · {src} · {spec.method.upper()}"


@register("token_map")
def _token_map(params: dict, res: Resources):
    from latent.figures_tokens import token_map_figure
    from latent.tokenmap import token_map

    p = dict(params)
    try:
        tm = token_map(res.lm(), p["prompts"], p["layers"], method=p.get("method", "pca"),
                       dims=p.get("dims", 2), seed=p.get("seed", 0))
    except KeyError as e:
        raise RecipeError(f"token_map recipe lacks {e}") from None
    layer = p.get("layer", p["layers"][len(p["layers"]) // 2])
    fig = token_map_figure(tm.table, p["prompts"], layer=layer, dims=p.get("dims", 2), note=tm.note,
                           title=f"Token map · {res.lm().name} · {tm.projector.method_used_.upper()}")
    return tm.table, fig, tm.note


@register("lens")
def _lens(params: dict, res: Resources):
    from latent.figures_tokens import lens_heatmap
    from latent.hidden import hidden_states
    from latent.lens import lens_table

    lm = res.lm()
    table = lens_table(lm, hidden_states(lm, [params["text"]])[0], k=params.get("k", 3))
    return table, lens_heatmap(table, title=f"Logit lens · {lm.name}"), ""


@register("senses")
def _senses(params: dict, res: Resources):
    from latent.disambiguation import analyze
    from latent.figures_senses import dose_response_figure
    from latent.senses import SenseSet

    sset = SenseSet(params["word"], params["senses"]).validate()
    rep = analyze(res.lm(), sset, params["contexts"], readout=params.get("readout", "echo"), layer=params.get("layer"))
    return rep.probs_table(), dose_response_figure(rep), rep.pull()
