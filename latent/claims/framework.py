"""The seeds' claims, tested live: one module per experiment, one registry.

Each experiment module in this package ends with ``EXPERIMENT = Experiment(...)``: its name,
title, the quoted claim, ``run(lm, seed=0, progress=None, **params) -> ExperimentResult``,
``figure(result)`` and the :class:`Param` specs from which the page draws its widgets and the CLI
parses ``--param k=v``. :func:`registry` discovers the modules, so adding an experiment is adding
one file. Every result carries an :class:`~latent.claims.evidence.Evidence`: what was tested, what
was not, and a finding whose verdict comes from its interval against a null measured in the same
run (see :mod:`latent.claims.evidence`).

Experiments run in fp32 on the CPU (:func:`fp32_cpu`), whatever dtype the app chose elsewhere, and
take a seed, so a second run with the same seed gives the same JSON.

Example::

    >>> sorted(registry())[:2]                      # doctest: +SKIP
    ['cousins', 'economy']
"""
from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch

from latent.claims.evidence import Evidence
from latent.core.corpus import all_turns, load_corpus
from latent.core.errors import LatentError
from latent.core.errors import check_layer as check
from latent.core.hidden import start_ids
from latent.core.models import DEFAULT_LM, LM, shared_lm
from latent.core.store import memo, store
from latent.senses.sets import builtin_sets


@dataclass
class Claim:
    source: str            # seed file
    dialogue: str          # dialogue id in assets/dialogues.json
    turn: int              # turn index there
    quote: str


@dataclass
class ExperimentResult:
    name: str
    claim: Claim
    evidence: Evidence
    numbers: dict
    method: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    params: dict = field(default_factory=dict)
    model: str = ""
    dtype: str = "float32"
    seed: int = 0
    timing: dict = field(default_factory=dict)   # wall-clock seconds: measured, so not reproducible
    contract: dict = field(default_factory=dict)  # experiment-specific fields of the CLI contract (top level)

    @property
    def verdict(self) -> str:
        return self.evidence.finding.verdict

    def to_json(self) -> dict:
        """The CLI contract: name, claim, tested, not_tested, verdict, effect, ci, null, n, model,
        dtype, seed (+ the tab's key sentence ``headline``, generated from ``numbers``, the finding's rule,
        secondary findings, numbers and, apart, wall-clock timing)."""
        f = self.evidence.finding
        j = f.to_json()
        return {"name": self.name, "claim": self.claim.quote, "source": self.claim.source,
                "tested": self.evidence.tested, "not_tested": self.evidence.not_tested,
                "verdict": f.verdict, "measure": f.measure, "effect": j["effect"], "ci": j["ci"],
                "null": {"name": f.null_name, "band": j["null_band"], "value": j["null_effect"], "side": f.side},
                "n": f.n, "rule": f.rule, "caveat": self.evidence.caveat, "model": self.model, "dtype": self.dtype, "seed": self.seed,
                "headline": self.evidence.headline,
                "findings": [g.to_json() for g in self.evidence.more], "numbers": self.numbers,
                "method": self.method, "timing_seconds": self.timing, **self.contract}


class ExperimentError(LatentError):
    """Bad experiment parameters; the message names the parameter."""


@dataclass(frozen=True)
class Param:
    """One experiment parameter: how the page shows it and how the CLI reads ``--param name=value``.

    ``kind``: ``layer`` (``default`` is a relative depth, 0-1, so it suits every model), ``float``,
    ``int``, ``ints`` (comma-separated), ``choices`` (a subset of ``options``) or ``texts`` (one per line).
    """

    name: str
    label: str
    kind: str
    default: object = None
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple = ()
    help: str = ""

    def default_for(self, lm):
        if self.kind == "layer":
            return max(int(self.lo or 0), lm.depth(float(self.default)))
        return self.default

    def parse(self, text: str, lm=None):
        """The value of ``--param name=text``, checked against this spec.

        >>> Param("ks", "k", "ints").parse("1, 2,4")
        (1, 2, 4)
        """
        text = str(text).strip()
        try:
            if self.kind in ("layer", "int"):
                v = int(text)
            elif self.kind == "float":
                v = float(text)
            elif self.kind in ("ints", "choices"):
                v = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
            else:
                v = tuple(t for t in text.split("|") if t.strip()) or None
        except ValueError:
            raise ExperimentError(f"Cannot read {self.name}={text!r}: {self.help or self.kind} expected.") from None
        return self.check(v, lm)

    def check(self, v, lm=None):
        hi = lm.n_layers if (self.kind == "layer" and lm is not None) else self.hi
        vals = v if isinstance(v, tuple) else (v,)
        if self.kind in ("ints", "choices") and not vals:
            raise ExperimentError(f"{self.label}: give at least one value.")
        for x in vals if self.kind != "texts" else ():
            if (self.lo is not None and x < self.lo) or (hi is not None and x > hi):
                raise ExperimentError(f"{self.label}: {x} is out of range; choose {self.lo}-{hi}.")
        if self.kind == "choices" and self.options and any(x not in self.options for x in vals):
            raise ExperimentError(f"{self.label}: choose from {', '.join(map(str, self.options))}.")
        return v


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    claim: Claim
    run: Callable          # (lm, seed=0, progress=None, **params) -> ExperimentResult
    figure: Callable       # (ExperimentResult, lang="en") -> go.Figure (lang: latent.chart_words)
    params: tuple[Param, ...] = ()
    order: int = 100       # position of its tab
    needs_other: bool = False   # its run takes ``other``: a function giving the other embedded model
    caption: str = ""      # one line under its chart: what a point, an axis and a colour mean

    def defaults(self, lm) -> dict:
        return {p.name: p.default_for(lm) for p in self.params}


_REGISTRY: dict[str, Experiment] = {}
EXPERIMENTS = "latent.claims.experiments"


def registry() -> dict[str, Experiment]:
    """Every experiment module in this package, by name, in tab order (discovered once)."""
    if not _REGISTRY:
        found = []
        experiments = importlib.import_module(EXPERIMENTS)   # by name: the experiments import this module
        for info in pkgutil.iter_modules(experiments.__path__):
            exp = getattr(importlib.import_module(f"{experiments.__name__}.{info.name}"), "EXPERIMENT", None)
            if isinstance(exp, Experiment):
                found.append(exp)
        _REGISTRY.update((e.name, e) for e in sorted(found, key=lambda e: (e.order, e.name)))
    return _REGISTRY


def get(name: str) -> Experiment:
    reg = registry()
    if name not in reg:
        raise ExperimentError(f"Unknown experiment {name!r}. Must be one of: {', '.join(reg)}")
    return reg[name]


def run(name: str, lm, progress=None, seed: int = 0, models=None, **params) -> ExperimentResult:
    """Run one experiment in fp32 on the CPU with ``seed``; the result names the model and dtype."""
    seed = int(seed)
    if not 0 <= seed < 2 ** 31:
        raise ExperimentError(f"Seed {seed} is out of range; choose 0-{2 ** 31 - 1}.")
    exp, work = get(name), fp32_cpu(lm)
    if exp.needs_other:        # loaded only if the experiment asks for it
        params["other"] = lambda: other_model(work, models)
    r = exp.run(work, progress=progress, seed=seed, **params)
    r.model, r.dtype, r.seed = lm.name, work.dtype, seed
    return r


def kept_run(name: str, lm, *, params: dict | None = None, seed: int = 0, progress=None, models=None) -> ExperimentResult:
    """:func:`run`, computed once per process (a second caller waits for the first) and kept in the result
    store under one name. Parameters left out take the experiment's defaults for this model (the values
    the Seed claims page starts from), so the page at its defaults, ``python -m latent claims NAME``, a
    recipe and a lesson's verdict read one result. ``progress`` and ``models`` (the other model's
    provider) are the first caller's."""
    exp = get(name)
    full = {**exp.defaults(lm), **(params or {})}
    key = {"name": exp.name, "params": full, "seed": int(seed)}
    return memo("claims_run", (json.dumps(key, sort_keys=True, default=repr), lm.key), lambda: store().cached(
        "claims.run", key, lm, lambda: run(exp.name, lm, progress=progress, seed=seed, models=models, **full)))


def fp32_cpu(lm):
    """``lm`` itself when it already runs in fp32 on the CPU, else an fp32 CPU copy (made once per model)."""
    if lm.device == "cpu" and lm.dtype == "float32":
        return lm

    def copy_():
        m = copy.deepcopy(lm.model).to(device="cpu", dtype=torch.float32)
        return LM(m, lm.tokenizer, lm.name, "cpu", "float32", 0.0, lm.source, lm.weights, lm.licence)
    return lm.derived("fp32_cpu", copy_)


def other_model(lm, models=None):
    """The far reference for cross-model experiments: Gemma 3 for SmolLM2, SmolLM2 for anything else,
    in its fp32 CPU form. ``models(name) -> LM`` is the caller's model provider (the app passes its
    shared loader, so no second copy is made); by default, :func:`latent.core.models.shared_lm`."""
    name = "gemma-3-270m" if lm.name == DEFAULT_LM else DEFAULT_LM
    return fp32_cpu((models or shared_lm)(name))


def check_layer(lm, layer: int) -> int:
    return check(layer, lm.n_layers, error=ExperimentError)


def check_prompts(lm, prompts, max_prompts: int = 400) -> list[str]:
    prompts = [p for p in (prompts or []) if isinstance(p, str) and p.strip()]
    if not prompts:
        raise ExperimentError("The prompt set is empty: give at least one prompt.")
    if len(prompts) > max_prompts:
        raise ExperimentError(f"{len(prompts)} prompts is too many; the limit is {max_prompts}.")
    room = min(2048, lm.max_positions - 64)
    for p in prompts:
        n = len(start_ids(lm.tokenizer)) + len(lm.tokenizer(p, add_special_tokens=False)["input_ids"])
        if n > room:
            raise ExperimentError(f"A prompt of {n:,} tokens is longer than the context window allows ({room:,}).")
    return prompts


def corpus_prompts(n: int = 120, max_chars: int = 200) -> list[str]:
    """Short prompts from the seed dialogues and the sense sentences (for statistics over many prompts)."""

    out = [t.text[:max_chars].rsplit(" ", 1)[0] for _, t in all_turns(load_corpus()) if len(t.text) > 40]
    out += [s for ss in builtin_sets().values() for v in ss.senses.values() for s in v]
    return out[:n]
