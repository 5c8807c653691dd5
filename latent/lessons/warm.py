"""Which lesson answers are computed before anyone asks, and in what order (the app runs the plan in a
background thread; see ``app_pages/ui/models.warm_lesson``).

A lesson's answers are its steps' facts, in step order: the first reveal is ready first. Each answer
is kept on the model and in the result store (:mod:`latent.lessons.facts`), so a reveal later reads
it. ``LATENT_WARM=off`` turns the warm-up off (the tests do, except its own).

Example::

    >>> from types import SimpleNamespace as NS
    >>> lesson = NS(steps=[NS(fact=None), NS(fact={"name": "queen_sense", "args": {"context": "queen"}})])
    >>> warm_plan(lesson)
    [{'name': 'queen_sense', 'args': {'context': 'queen'}}]
"""
from __future__ import annotations

import os
from typing import Callable

from latent.lessons import compute_fact


def warm_enabled() -> bool:
    """Whether lessons' answers are computed in the background (``LATENT_WARM=off`` says not)."""
    return os.environ.get("LATENT_WARM", "").lower() not in ("off", "0", "no")


def warm_plan(lesson) -> list[dict]:
    """The facts to compute ahead of a lesson's reveals: every step's fact, in step order."""
    return [step.fact for step in (lesson.steps if lesson else []) if step.fact]


def warm_answers(lm, lesson, encoder=None, before_each: Callable[[], None] = lambda: None) -> int:
    """Compute the lesson's :func:`warm_plan` on ``lm``; ``before_each()`` runs before each answer (the
    app waits there while interactive model work is queued). A failing answer is skipped: its reveal
    computes it again and shows its error. Returns how many answers were computed."""
    done = 0
    for fact in warm_plan(lesson):
        before_each()
        try:
            compute_fact(lm, fact, encoder=encoder)
            done += 1
        except Exception:  # noqa: BLE001 - the reveal computes it again and shows its error
            pass
    return done
