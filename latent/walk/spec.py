"""The sweep spec: everything that decides a steering sweep, and the one place its defaults are set.

The Latent walk page, ``python -m latent steer``, the ``steer`` recipe and the walking lesson each
build a :class:`SweepSpec` and run it, so a replayed recipe (or the CLI, or the lesson) runs the
sweep the page runs. A spec doubles as the recipe's parameters (:meth:`SweepSpec.to_dict`; the
recipe adds the direction's vector, so a replay needs nothing else).

Example::

    >>> spec = SweepSpec.default(lm, "Love − Hate")                 # doctest: +SKIP
    >>> sw = spec.run(lm, encoder)                                    # doctest: +SKIP
    >>> SweepSpec.from_dict(spec.to_dict()) == spec                  # doctest: +SKIP
    True
    >>> SweepSpec().n_random, SweepSpec().max_new_tokens, SweepSpec().strengths
    (8, 24, (-0.4, 0.0, 0.4))
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, fields

from latent.core.direction import Direction, DirectionError
from latent.core.errors import InputError, check_layer
from latent.core.generate import MAX_NEW_TOKENS
from latent.walk.null import N_SPLITS, check_neutral
from latent.walk.paths import N_RANDOM, Sweep, sweep
from latent.walk.presets import DEFAULT_PRESET, build, load_presets, preset_setting
from latent.walk.steer import check_strengths

SOURCES = ("preset", "texts", "direction", "feature")   # a preset; two sets of texts; a Direction the caller gives (a file,
# the Senses page's); a concept dictionary's feature (its decoder direction, which the caller gives: latent.concepts.beside)
METHODS = ("mean", "pca")
POSITIONS = ("all", "first")
POOLINGS = ("mean", "last")
DEFAULT_TOKENS = 24           # new tokens per text (the concept meter reads a sentence's worth)
FREE_DEPTH = 0.3              # a free sweep's layer: 30 % of the model's depth (a preset has its own)
FREE_POLES = (("Love",), ("Hate",))          # a "texts" sweep's default poles
HELDOUT_SETS = ("heldout", "heldout2")        # a preset's held-out prompt sets (disjoint), in order
HELDOUT_NAMES = ("held-out prompts", "second held-out prompts")


@dataclass(frozen=True)
class SweepSpec:
    """Everything that decides one sweep. The field defaults are a free sweep's (the page's "two sets
    of texts" and "direction file" sources, the CLI without ``--preset``), along a direction the caller
    gives; :meth:`default` adds the model-dependent ones (a preset's layer, prompts and strengths; the
    texts' poles and layer).

    A spec is checked when it is made (:class:`~latent.core.errors.InputError`, or
    :class:`DirectionError` for strengths, with one sentence saying what to change); the layer against
    a model when it runs."""

    source: str = "direction"
    preset: str | None = None                  # source "preset": its name
    positive: tuple[str, ...] = ()             # source "texts": the two sets
    negative: tuple[str, ...] = ()
    layer: int | None = None                   # None: the given direction's layer
    method: str = "mean"                       # how texts become a direction: mean difference, or PCA (repeng)
    pooling: str = "mean"                      # source "texts": a text's states pooled by their mean, or the last token's
    keep_massive: bool = False                 # mean pooling (texts, presets) leaves massive tokens out unless True
    prompts: tuple[str, ...] = ("I think that you",)
    strengths: tuple[float, ...] = (-0.4, 0.0, 0.4)
    seeds: tuple[int, ...] = (0,)              # sampling seeds per prompt (greedy decoding uses the first)
    max_new_tokens: int = DEFAULT_TOKENS
    positions: str = "all"                     # add at every position, or the first only (ActAdd)
    do_sample: bool = True
    n_random: int = N_RANDOM                   # random directions of the same norm, run on every prompt × seed × strength
    n_splits: int = N_SPLITS                   # data-null directions (a direction from texts): 0, or 2 or more
    neutral: tuple[str, ...] = ()              # their neutral texts (empty: the shipped set, assets/walk_neutral.json)
    feature: int | None = None                 # source "feature": the dictionary feature whose decoder direction is walked

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        if self.source not in SOURCES:
            raise InputError(f"Unknown sweep source {self.source!r}. Must be one of: {', '.join(SOURCES)}")
        if self.source == "preset":
            presets = load_presets()
            if self.preset not in presets:
                raise InputError(f"Unknown preset {self.preset!r}. Must be one of: {', '.join(presets)}")
        if self.source == "feature":
            if self.feature is None:
                raise InputError("A sweep along a dictionary feature needs the feature's number.")
            put("feature", _whole(self.feature, "feature", lo=0))
        elif self.feature is not None:
            raise InputError(f"feature is for the source 'feature', not {self.source!r}.")
        put("positive", _texts(self.positive, "positive"))
        put("negative", _texts(self.negative, "negative"))
        if self.source == "texts" and not (self.positive and self.negative):
            raise InputError("A sweep from two sets of texts needs at least one positive and one negative text.")
        if self.layer is not None:
            put("layer", _whole(self.layer, "layer", lo=1))
        if self.method not in METHODS:
            raise InputError(f"Unknown method {self.method!r}. Must be one of: {', '.join(METHODS)}")
        if self.pooling not in POOLINGS:
            raise InputError(f"Unknown pooling {self.pooling!r}. Must be one of: {', '.join(POOLINGS)}")
        if not isinstance(self.keep_massive, bool):
            raise InputError(f"keep_massive must be true or false, not {self.keep_massive!r}.")
        put("prompts", _texts(self.prompts, "prompts"))
        if not self.prompts:
            raise InputError("Give at least one prompt.")
        if isinstance(self.strengths, (str, bytes)):
            raise InputError(f"strengths must be a list of numbers, not {self.strengths!r}.")
        put("strengths", tuple(check_strengths(self.strengths)))
        if isinstance(self.seeds, (str, bytes)):
            raise InputError(f"seeds must be a list of whole numbers, not {self.seeds!r}.")
        put("seeds", tuple(_whole(s, "seed", lo=0) for s in self.seeds))
        if not self.seeds:
            raise InputError("Give at least one seed.")
        put("max_new_tokens", _whole(self.max_new_tokens, "max_new_tokens", lo=1, hi=MAX_NEW_TOKENS))
        if self.positions not in POSITIONS:
            raise InputError(f"Unknown positions {self.positions!r}. Must be one of: {', '.join(POSITIONS)}")
        if not isinstance(self.do_sample, bool):
            raise InputError(f"do_sample must be true or false, not {self.do_sample!r}.")
        put("n_random", _whole(self.n_random, "n_random", lo=0))
        put("n_splits", _whole(self.n_splits, "n_splits", lo=0))
        if self.n_splits == 1:
            raise InputError("n_splits 1 gives no band (a band needs two data-null directions); choose 0 (off) or 2 or more.")
        if self.neutral:
            put("neutral", check_neutral(self.neutral))
        else:
            put("neutral", ())

    # ----------------------------------------------------------------- the defaults
    @classmethod
    def default(cls, lm, preset: str | None = DEFAULT_PRESET, *, source: str = "texts") -> SweepSpec:
        """The sweep that runs when nothing else is said: a preset's (its prompts, its layer and ±its
        strength, measured or hand-set: :func:`~latent.walk.presets.preset_setting`), or with
        ``preset=None`` a free one (``source`` "texts": Love − Hate at 30 % of the depth; "direction": a
        direction the caller gives, at its own layer). Everything else is the field defaults."""
        if preset is not None:
            s = preset_setting(lm, preset)
            return cls(source="preset", preset=preset, layer=s.layer, prompts=s.prompts, strengths=tuple(s.strengths))
        if source == "texts":
            return cls(source="texts", positive=FREE_POLES[0], negative=FREE_POLES[1], layer=lm.depth(FREE_DEPTH))
        return cls(source=source)

    def setting(self, lm):
        """The preset's setting on ``lm`` (where its layer and strength came from: ``.source()``), or None."""
        return preset_setting(lm, self.preset) if self.source == "preset" else None

    def replace(self, **changes) -> SweepSpec:
        return dataclasses.replace(self, **changes)

    # ----------------------------------------------------------------- running
    def direction(self, lm) -> Direction:
        """The direction this spec walks (a preset's, or the two sets' mean difference or PCA)."""
        layer = check_layer(self.layer if self.layer is not None else lm.depth(FREE_DEPTH), lm.n_layers,
                            allow_zero=False, error=InputError)
        if self.source == "preset":
            return build(lm, self.preset, layer=layer, method=self.method, keep_massive=self.keep_massive)
        if self.source == "texts":
            return Direction.from_texts(lm, list(self.positive), list(self.negative), layer, method=self.method,
                                        pooling=self.pooling, keep_massive=self.keep_massive)
        if self.source == "feature":
            raise InputError("A sweep along a dictionary feature needs its direction (the Concepts page's, or "
                             "latent.concepts.beside.feature_direction).")
        raise InputError("A sweep from a direction needs the direction (a file, or the Senses page's).")

    def run(self, lm, encoder, *, direction: Direction | None = None, runner=None, on_token=None) -> Sweep:
        """Run the sweep (see :func:`latent.walk.paths.sweep` for ``runner`` and ``on_token``) along
        ``direction``, or the spec's own. Its ``recipe`` is this spec's :meth:`to_dict` with what ran:
        the seeds decoded (one when greedy), the direction's layer, and the direction itself."""
        if self.layer is not None:
            check_layer(self.layer, lm.n_layers, allow_zero=False, error=InputError)
        d = direction if direction is not None else self.direction(lm)
        if self.layer is not None and d.layer != self.layer:
            raise DirectionError(f"The direction is for layer {d.layer}, not {self.layer}.")
        sw = sweep(lm, encoder, list(self.prompts), d, list(self.strengths), max_new_tokens=self.max_new_tokens,
                   seeds=self.seeds, do_sample=self.do_sample, n_random=self.n_random, positions=self.positions,
                   runner=runner, on_token=on_token, n_splits=self.n_splits, neutral=self.neutral or None)
        sw.recipe = {**self.to_dict(), **sw.recipe}
        sw.prompt_sets = [sw.prompt_set(self.prompt_set_name())]
        return sw

    def prompt_set_name(self) -> str:
        """What the prompts are: a preset's "default prompts", "held-out prompts" or (where it has a second,
        disjoint held-out set) "second held-out prompts", else "given prompts"."""
        if self.source == "preset":
            p = load_presets()[self.preset]
            for name, key in (("default prompts", "prompts"), *zip(HELDOUT_NAMES, HELDOUT_SETS)):
                if list(self.prompts) == list(p.get(key) or []):
                    return name
        return "given prompts"

    def run_heldout(self, lm, encoder, *, direction: Direction | None = None, runner=None) -> Sweep:
        """:meth:`run`, then the same sweep on each of the preset's held-out prompt sets (disjoint from its
        default ones and from each other: ``heldout``, and ``heldout2`` where the preset has a second): the
        first sweep, with every set in its ``prompt_sets`` (each set's slope against its own nulls, run on its
        own prompts). One more sweep's cost per held-out set."""
        if self.source != "preset":
            raise InputError("Held-out prompts belong to a preset: name one (--preset).")
        p = load_presets()[self.preset]
        sets = [tuple(p[k]) for k in HELDOUT_SETS if p.get(k)]
        if not sets:
            raise InputError(f"The preset {self.preset!r} has no held-out prompts.")
        sw = self.run(lm, encoder, direction=direction, runner=runner)
        for heldout in sets:
            other = self.replace(prompts=heldout).run(lm, encoder, direction=direction, runner=runner)
            sw.prompt_sets = sw.prompt_sets + other.prompt_sets
        return sw

    # ----------------------------------------------------------------- (de)serialising
    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        """A spec from :meth:`to_dict` or a ``steer`` recipe's parameters (less ``direction`` and ``figure``).

        Older recipes: ``prompt`` (one text or a list) is read as ``prompts``, and ``seed`` (one seed,
        before sweeps had several) as ``seeds``. A field a recipe lacks takes the page's default: a recipe
        without ``n_random`` (written before the random directions were recorded) replays with the page's
        count, 8 (:data:`~latent.walk.paths.N_RANDOM`), not the 5 an older replay used; one without
        ``n_splits`` (written before the data-shaped null) replays with the page's data null too."""
        if not isinstance(d, dict):
            raise InputError(f"A sweep spec must be a JSON object, not {type(d).__name__}.")
        d = dict(d)
        if "prompt" in d and "prompts" not in d:
            p = d.pop("prompt")
            d["prompts"] = [p] if isinstance(p, str) else p
        if "seed" in d and "seeds" not in d:
            d["seeds"] = [d.pop("seed")]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"Unknown sweep setting{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}. "
                             f"Must be among: {', '.join(sorted(known))}")
        return cls(**d)


def _texts(xs, name: str) -> tuple[str, ...]:
    if isinstance(xs, (str, bytes)) or not all(isinstance(x, str) for x in xs):
        raise InputError(f"{name} must be a list of texts, not {xs!r}.")
    return tuple(x for x in xs if x.strip())


def _whole(x, name: str, *, lo: int, hi: int | None = None) -> int:
    if isinstance(x, bool) or not (isinstance(x, numbers.Integral) or (isinstance(x, numbers.Real) and float(x).is_integer())):
        raise InputError(f"{name} must be a whole number, not {x!r}.")
    x = int(x)
    if x < lo or (hi is not None and x > hi):
        raise InputError(f"{name} {x} is out of range; choose {lo}-{hi}." if hi is not None else
                         f"{name} {x} is out of range; choose {lo} or more.")
    return x
