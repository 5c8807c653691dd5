"""Where the shipped data lives: ``assets/`` at the repository root (seeds, parsed dialogues,
sense sets, steering presets, lessons, shipped vectors).

Example::

    >>> asset("senses.json").name
    'senses.json'
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def asset(*parts: str) -> Path:
    """A path under ``assets/``."""
    return ASSETS.joinpath(*parts)
