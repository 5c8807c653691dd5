"""The seeds' claims, tested live. One module per experiment; each exposes ``run(lm, **params)``
returning an :class:`ExperimentResult` whose verdict is computed from its numbers by :func:`verdict`.

Example::

    >>> verdict(0.95, holds=0.9, partly=0.5)
    'holds'
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pandas as pd

VERDICTS = ("holds", "holds partly", "does not hold")
NAMES = ("sparse-messages", "economy", "reuse", "sparse-matrix", "reasoning")


def verdict(score: float, *, holds: float, partly: float, higher_is_better: bool = True) -> str:
    """Map a score to a verdict with two documented thresholds (inclusive)."""
    if higher_is_better:
        return "holds" if score >= holds else "holds partly" if score >= partly else "does not hold"
    return "holds" if score <= holds else "holds partly" if score <= partly else "does not hold"


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
    verdict: str
    numbers: dict
    method: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "verdict": self.verdict, "numbers": self.numbers, "method": self.method}


class ExperimentError(ValueError):
    """Bad experiment parameters; the message names the parameter."""


def module(name: str):
    if name not in NAMES:
        raise ExperimentError(f"Unknown experiment {name!r}. Must be one of: {', '.join(NAMES)}")
    return importlib.import_module(f"latent.experiments.{name.replace('-', '_')}")


def run(name: str, lm, progress=None, **params) -> ExperimentResult:
    return module(name).run(lm, progress=progress, **params)


def check_layer(lm, layer: int) -> int:
    if not 0 <= int(layer) <= lm.n_layers:
        raise ExperimentError(f"Layer {layer} is out of range: this model has layers 0-{lm.n_layers}.")
    return int(layer)


def check_prompts(lm, prompts, max_prompts: int = 400) -> list[str]:
    from latent.hidden import encode

    prompts = [p for p in (prompts or []) if isinstance(p, str) and p.strip()]
    if not prompts:
        raise ExperimentError("The prompt set is empty: give at least one prompt.")
    if len(prompts) > max_prompts:
        raise ExperimentError(f"{len(prompts)} prompts is too many; the limit is {max_prompts}.")
    room = min(2048, lm.max_positions - 64)
    for p in prompts:
        n = len(encode(lm, p, max_tokens=10**9)[0])
        if n > room:
            raise ExperimentError(f"A prompt of {n:,} tokens is longer than the context window allows ({room:,}).")
    return prompts


def corpus_prompts(n: int = 120, max_chars: int = 200) -> list[str]:
    """Short prompts from the seed dialogues and the sense sentences (for statistics over many prompts)."""
    from latent.corpus import all_turns, load_corpus
    from latent.senses import builtin_sets

    out = [t.text[:max_chars].rsplit(" ", 1)[0] for _, t in all_turns(load_corpus()) if len(t.text) > 40]
    out += [s for ss in builtin_sets().values() for v in ss.senses.values() for s in v]
    return out[:n]
