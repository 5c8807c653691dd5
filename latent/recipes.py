"""Recipes: every exported figure carries a JSON recipe from which :func:`replay` rebuilds it.

A recipe is ``{"kind", "params", "model", "versions", ...}``. Each kind is registered once here
with the models it needs and the figures it can draw (``params["figure"]`` picks one); pages and
the CLI make recipes only through :func:`make_recipe`, which refuses unknown kinds and figures, so
whatever a page exports, ``python -m latent replay`` can rebuild.

Example::

    >>> r = make_recipe("lens", {"text": "The queen"}, model="SmolLM2-135M-Instruct")
    >>> r["kind"], sorted(KINDS)[:3]
    ('lens', ['claim', 'concepts', 'dialogue_map'])
"""
from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass, field
from typing import Callable

from latent.chart_words import tr
from latent.claims import get, kept_run
from latent.claims.figures import evidence_figure
from latent.core.corpus import Dialogue, load_corpus
from latent.core.direction import Direction
from latent.core.errors import LatentError
from latent.core.models import DEFAULT_ENCODER, load_encoder, load_lm
from latent.dialogues.figures import dialogue_map_figure
from latent.dialogues.map import MapSpec, compute_map
from latent.senses import figures as F
from latent.senses.sets import SenseSet
from latent.senses.study import kept_report, sense_map
from latent.states.figures import lens_heatmap, token_map_figure
from latent.states.lens import kept_lens
from latent.states.map import axis_view, kept_token_map
from latent.walk.figures import interpolation_figure, meters_figure, steered_map_figure
from latent.walk.paths import interpolate, steered_map
from latent.walk.spec import SweepSpec

_PACKAGES = ("torch", "transformers", "sentence-transformers", "umap-learn", "scikit-learn",
             "plotly", "kaleido", "numpy", "streamlit")


class RecipeError(LatentError):
    """A recipe that cannot be replayed; the message says which field is wrong."""


@dataclass(frozen=True)
class Kind:
    build: Callable            # (params, Resources) -> (table, figure, note)
    figures: tuple[str, ...]   # the figures this kind draws; the first is the default


KINDS: dict[str, Kind] = {}
OLD_KINDS = {"token_map": "states_map", "steer": "walk"}    # recipes written before the names of 2026-12-07 still replay


def versions() -> dict:
    out = {}
    for p in _PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return out


def make_recipe(kind: str, params: dict, *, model: str | None = None, **extra) -> dict:
    """A JSON-able recipe: what was drawn, with which model, parameters and package versions."""
    kind = OLD_KINDS.get(kind, kind)
    _check(kind, params)
    return {"kind": kind, "params": dict(params), "model": model, "versions": versions(),
            "app": "latent-dialogue-explorer", **extra}


def _check(kind: str, params: dict) -> Kind:
    kind = OLD_KINDS.get(kind, kind)
    if kind not in KINDS:
        raise RecipeError(f"Unknown recipe kind {kind!r}. Must be one of: {', '.join(sorted(KINDS))}")
    k = KINDS[kind]
    fig = params.get("figure", k.figures[0])
    if fig not in k.figures:
        raise RecipeError(f"Unknown figure {fig!r} for {kind}. Must be one of: {', '.join(k.figures)}")
    return k


@dataclass
class Resources:
    """Lazily loaded models, so a recipe that needs no LM never loads one."""

    model: str | None = None
    _lm: object = field(default=None, repr=False)
    _enc: object = field(default=None, repr=False)

    def lm(self):
        if self._lm is None:
            self._lm = load_lm(self.model)
        return self._lm

    def encoder(self):
        if self._enc is None:
            self._enc = load_encoder()
        return self._enc


def register(kind: str, figures: tuple[str, ...] = ("main",)):
    def deco(fn):
        KINDS[kind] = Kind(fn, figures)
        return fn
    return deco


def replay(recipe: dict, res: Resources | None = None):
    """Return ``(table, figure, note)`` for a recipe dict."""
    if not isinstance(recipe, dict) or "kind" not in recipe or not isinstance(recipe.get("params"), dict):
        raise RecipeError('A recipe must be a JSON object with "kind" and "params".')
    kind = _check(recipe["kind"], recipe["params"])
    res = res or Resources(recipe.get("model"))
    params = dict(recipe["params"])
    params.setdefault("figure", kind.figures[0])
    try:
        return kind.build(params, res)
    except KeyError as e:
        raise RecipeError(f"The {recipe['kind']} recipe lacks {e}.") from None


# ---------------------------------------------------------------------------- kinds
@register("dialogue_map")
def _dialogue_map(params: dict, res: Resources):
    p = {k: v for k, v in params.items() if k != "figure"}
    extra = [Dialogue.from_dict(d) for d in p.pop("extra_dialogues", [])]
    try:
        spec = MapSpec(**p)
    except TypeError as e:
        raise RecipeError(f"Bad dialogue_map params: {e}") from None
    lm = res.lm() if spec.source == "lm" else None
    enc = res.encoder() if spec.source == "encoder" else None
    df, note = compute_map(spec, load_corpus() + extra, lm=lm, encoder=enc)
    fig = dialogue_map_figure(df, color=spec.color, dims=spec.dims, title=map_title(spec, lm), method=spec.method)
    return df, fig, note


def map_title(spec, lm=None, lang: str = "en") -> str:
    src = tr("sentence encoder ({encoder})", lang, encoder=DEFAULT_ENCODER) if spec.source == "encoder" else \
        tr("{model} layer {layer}, {pooling} pooling", lang, model=lm.name if lm else "LM", layer=spec.layer,
           pooling=spec.pooling)
    return tr("Dialogue map · {method} · {source}", lang, method=spec.method.upper(), source=src)


@register("states_map")
def _token_map(params: dict, res: Resources):
    lm = res.lm()
    dims = params.get("dims", 2)
    tm = kept_token_map(lm, params["prompts"], params["layers"], method=params.get("method", "pca"), dims=dims,
                        seed=params.get("seed", 0))
    table, title, axis_titles = tm.table, f"Token map · {lm.name} · {tm.projector.method_used_.upper()}", ("", "")
    if params.get("x_axis"):
        dx = Direction.from_dict(params["x_axis"], d_model=lm.d_model, n_layers=lm.n_layers)
        dy = Direction.from_dict(params["y_axis"], d_model=lm.d_model, n_layers=lm.n_layers) \
            if params.get("y_axis") else None
        table = axis_view(tm, dx, dy)
        title = f"Custom axes · {dx.label}" + (f" × {dy.label}" if dy else "")
        axis_titles = (dx.label, dy.label if dy else "map coordinate 1")
    if params.get("hide_massive"):                          # the page's "Leave out massive tokens"
        table = table[~table["massive"].astype(bool)]
    layers = params["layers"]
    layer = params.get("layer", layers[len(layers) // 2])  # absent: the middle layer; None: all layers at once
    fig = token_map_figure(table, params["prompts"], layer=layer, color=params.get("color", "prompt"),
                           dims=dims, title=title, axis_titles=axis_titles, note=tm.note,
                           massive_multiple=tm.rule.multiple if tm.rule else None)
    return table, fig, tm.note


@register("lens")
def _lens(params: dict, res: Resources):
    lm = res.lm()
    table = kept_lens(lm, params["text"], k=params.get("k", 3))
    return table, lens_heatmap(table, title=f"Logit lens · {lm.name}", value=params.get("value", "prob")), ""


@register("senses", ("dose_response", "separability", "probabilities", "sense_map", "reliability"))
def _senses(params: dict, res: Resources):
    sset = SenseSet(params["word"], params["senses"]).validate()
    rep = kept_report(res.lm(), sset, params["contexts"], readout=params.get("readout", "echo"),
                      layer=params.get("layer"), encoder=res.encoder() if params.get("encoder_baseline") else None)
    fig = params["figure"]
    if fig == "reliability":
        return rep.reliability_table(), F.reliability_figure(rep), rep.calibration_summary()
    if fig == "separability":
        return rep.separability_table(), F.separability_figure(rep), ""
    if fig == "probabilities":
        target = params.get("target") or rep.target()
        return rep.probs_table(), F.probs_heatmap(rep, target), ""
    if fig == "sense_map":
        smap = sense_map(rep)
        return smap, F.sense_map_figure(smap, rep.senses, sense_map_title(rep)), ""
    return rep.probs_table(), F.dose_response_figure(rep), rep.pull()


def sense_map_title(rep, lang: str = "en") -> str:
    return tr("Sense map at layer {layer} ({method}) · ★ = context steps", lang, layer=rep.layer, method="PCA")


@register("walk", ("meters", "steered_map"))
def _steer(params: dict, res: Resources):
    lm = res.lm()
    d = Direction.from_dict(params["direction"], d_model=lm.d_model, n_layers=lm.n_layers)
    try:        # a field the recipe lacks takes the page's default (n_random: 8; see SweepSpec.from_dict)
        spec = SweepSpec.from_dict({k: v for k, v in params.items() if k not in ("direction", "figure")})
    except LatentError as e:
        raise RecipeError(f"Bad steer params: {e}") from None
    sw = spec.run(lm, res.encoder(), direction=d)
    if params["figure"] == "steered_map":
        smap = steered_map(lm, sw, d)
        return smap, steered_map_figure(smap, d.label), ""
    return sw.table(), meters_figure(sw), ""


@register("interpolation")
def _interpolation(params: dict, res: Resources):
    it = interpolate(res.lm(), res.encoder(), params["a"], params["b"], params["layer"])
    return it.table, interpolation_figure(it.path, params["layer"]), it.finding


@register("claim", ("main", "evidence"))
def _claim(params: dict, res: Resources):
    exp = get(params["name"])
    r = kept_run(exp.name, res.lm(), params=params.get("params", {}), seed=int(params.get("seed", 0)))
    fig = evidence_figure(r.evidence) if params.get("figure") == "evidence" else exp.figure(r)
    return r.table, fig, r.verdict


@register("concepts", ("density", "contexts", "intervals", "token", "text", "senses"))
def _concepts(params: dict, res: Resources):
    """A feature's page (``feature``: its density histogram, top contexts or activation bins), or the features
    beside another view: a token's (``text``, ``position``), a text's (``text``) or each sense's (``word``,
    ``senses``); every one from the dictionary in ``folder``, with the figure's words in ``lang``."""
    from latent.concepts import beside  # noqa: PLC0415 - torch-heavy, only for this kind
    from latent.concepts.features import kept_dictionary, kept_feature  # noqa: PLC0415 - as above
    from latent.concepts.figures import activation_table, density_figure, features_figure  # noqa: PLC0415 - as above

    lm = res.lm()
    sae = kept_dictionary(lm, params["folder"])
    lang, figure = params.get("lang", "en"), params["figure"]
    if figure == "token":
        tf = beside.token_features(lm, sae, params["text"], int(params["position"]))
        title = tr("Top features of token {token} at layer {layer}", lang, token=repr(tf.tokens[0]), layer=tf.layer)
        return tf.table(), features_figure(tf, title, lang=lang), tf.note
    if figure == "text":
        tf = beside.text_features(lm, sae, params["text"])
        title = tr("Most active features of this text at layer {layer} · n = {n} tokens", lang, layer=tf.layer, n=tf.n)
        return tf.table(), features_figure(tf, title, lang=lang), tf.note
    if figure == "senses":
        found = beside.sense_features(lm, sae, params["word"], params["senses"])
        title = tr("Features on '{word}' per sense at layer {layer}", lang, word=params["word"], layer=sae.layer)
        return beside.senses_table(found), features_figure(found, title, lang=lang), " ".join(t.note for t in found.values() if t.note)
    page = kept_feature(lm, sae, int(params["feature"]))
    fig = density_figure(page, lang=lang)
    if figure == "contexts":
        return activation_table([list(zip(c.tokens, c.activations)) for c in page.contexts]), fig, page.label
    if figure == "intervals":
        return page.intervals_table(), fig, page.label
    return page.histogram_table(), fig, page.label
