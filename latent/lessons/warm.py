"""Which lesson answers are computed before anyone asks, and in what order (the app runs the plan in a
background thread; see ``app_pages/ui/models.warm_lesson``).

A lesson's answers are its steps' facts, in step order: the first reveal is ready first. Each answer
is kept on the model and in the result store (:mod:`latent.lessons.facts`), so a reveal later reads
it. ``LATENT_WARM=off`` turns the warm-up off (the tests do, except its own).

The warm-up is background work (:func:`latent.core.requests.background`): its model requests wait
while any interactive one (a reveal, a student's page) is queued or computing, and a reveal that needs
the answer it is computing promotes that answer. :func:`warm_status` says how far it got ("answers
ready: 3 of 4").

Example::

    >>> from types import SimpleNamespace as NS
    >>> lesson = NS(steps=[NS(fact=None), NS(fact={"name": "queen_sense", "args": {"context": "queen"}})])
    >>> warm_plan(lesson)
    [{'name': 'queen_sense', 'args': {'context': 'queen'}}]
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from latent.core.requests import background
from latent.lessons import compute_fact
from latent.lessons.words import t


@dataclass
class WarmStatus:
    """How far a lesson's warm-up on one model got: answers ready (computed or already kept) of its plan."""

    total: int
    ready: int = 0
    failed: int = 0
    current: str = ""                    # the fact computing now
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def running(self) -> bool:
        return self.finished is None

    def note(self, lang: str = "en") -> str:
        """One line for the Lessons page, e.g. "answers ready: 3 of 4 (computing walk_band…)", in ``lang``."""
        now = t("warm_computing", lang, what=self.current) if self.running and self.current else ""
        failed = t("warm_failed", lang, n=self.failed) if self.failed else ""
        return t("answers_ready", lang, ready=self.ready, total=self.total) + now + failed

    def to_json(self) -> dict:
        return {"total": self.total, "ready": self.ready, "failed": self.failed, "current": self.current,
                "running": self.running}


def _statuses(lm) -> dict:
    return lm.derived(("lesson", "warm-status"), dict)          # lesson id -> its last warm-up's WarmStatus


def warm_status(lm, lesson) -> WarmStatus | None:
    """The last warm-up of ``lesson`` on ``lm`` (running or finished), or None if none ran."""
    return _statuses(lm).get(getattr(lesson, "id", None))


def warm_enabled() -> bool:
    """Whether lessons' answers are computed in the background (``LATENT_WARM=off`` says not)."""
    return os.environ.get("LATENT_WARM", "").lower() not in ("off", "0", "no")


def warm_plan(lesson) -> list[dict]:
    """The facts to compute ahead of a lesson's reveals: every step's fact, in step order."""
    return [step.fact for step in (lesson.steps if lesson else []) if step.fact]


def warm_answers(lm, lesson, encoder=None, before_each: Callable[[], None] = lambda: None) -> int:
    """Compute the lesson's :func:`warm_plan` on ``lm`` as background work; ``before_each()`` runs before
    each answer (the app waits there while interactive model work is queued). A failing answer is
    skipped: its reveal computes it again and shows its error. :func:`warm_status` follows it. Returns
    how many answers were computed."""
    plan = warm_plan(lesson)
    status = _statuses(lm)[getattr(lesson, "id", None)] = WarmStatus(total=len(plan))
    try:
        for fact in plan:
            before_each()
            status.current = fact.get("name", "")
            try:
                with background():
                    compute_fact(lm, fact, encoder=encoder)
                status.ready += 1
            except Exception:  # noqa: BLE001 - the reveal computes it again and shows its error
                status.failed += 1
    finally:
        status.current, status.finished = "", time.time()
    return status.ready
