"""Lessons: guided tours, written as data (one JSON file per lesson in ``assets/lessons/``), whose
steps set the real widgets of a page and whose answers are computed on the model at run time.

A lesson file::

    {"id": "queen-hive", "title": "The queen and her hive", "summary": "…",
     "steps": [
       {"page": "Senses", "text": "Markdown shown to the class.", "set": {"sn_word": "queen"}},
       {"page": "Senses", "text": "…", "ask": "Which sense will the model put it near?",
        "options": ["monarch", "bee", "band"],
        "fact": {"name": "queen_sense", "args": {"context": "honey worker hive queen"}},
        "reveal": {"bee": "The model puts it nearest the bee sense (p = {p:.2f}).",
                   "*": "The model puts it nearest {answer}, not the bee: {why}"}}]}

``set`` writes widget values (by widget key) before the page draws. ``fact`` names a function in
:mod:`latent.lessons.facts` that computes the answer on the loaded model; ``reveal`` picks the
text written for that answer, or the ``"*"`` text, so a lesson never asserts an outcome the model
did not produce. ``{…}`` fields are filled from the fact's values.

Example::

    >>> step = Step(page="Senses", text="t", reveal={"bee": "bee, p = {p:.2f}", "*": "not bee: {answer}"})
    >>> step.reveal_text({"answer": "bee", "p": 0.7})
    'bee, p = 0.70'
    >>> step.reveal_text({"answer": "band", "p": 0.4})
    'not bee: band'
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from latent.core.assets import asset
from latent.core.errors import LatentError
from latent.lessons.facts import FACTS
from latent.site import TITLES

KEY = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")


class LessonError(LatentError):
    """A lesson file that cannot be used; the message names the file and the field."""


@dataclass
class Step:
    page: str
    text: str
    set: dict = field(default_factory=dict)
    ask: str = ""
    options: list = field(default_factory=list)
    fact: dict = field(default_factory=dict)
    reveal: dict = field(default_factory=dict)

    def reveal_text(self, values: dict) -> str:
        """The reveal written for the computed answer (else the ``"*"`` text), filled with the values."""
        template = self.reveal.get(str(values.get("answer")), self.reveal.get("*", "The model's answer: {answer}."))
        try:
            return template.format(**values)
        except (KeyError, ValueError, IndexError) as e:
            raise LessonError(f"The reveal text needs a value the fact does not give: {e}") from None


@dataclass
class Lesson:
    id: str
    title: str
    summary: str
    steps: list[Step]

    @classmethod
    def from_dict(cls, d: dict, source: str = "lesson") -> "Lesson":
        if not isinstance(d, dict):
            raise LessonError(f"{source}: a lesson is a JSON object.")
        for k in ("id", "title", "steps"):
            if k not in d:
                raise LessonError(f"{source}: missing field {k!r}.")
        if not KEY.match(str(d["id"])):
            raise LessonError(f"{source}: the id may use letters, digits, - and _ only.")
        steps = []
        for i, s in enumerate(d["steps"], start=1):
            if not isinstance(s, dict) or "text" not in s or "page" not in s:
                raise LessonError(f"{source}, step {i}: each step needs 'page' and 'text'.")
            if s["page"] not in TITLES:
                raise LessonError(f"{source}, step {i}: unknown page {s['page']!r}. Must be one of: {', '.join(TITLES)}")
            unknown = set(s) - {"page", "text", "set", "ask", "options", "fact", "reveal"}
            if unknown:
                raise LessonError(f"{source}, step {i}: unknown field {sorted(unknown)[0]!r}.")
            fact = s.get("fact") or {}
            if fact and fact.get("name") not in FACTS:
                raise LessonError(f"{source}, step {i}: unknown fact {fact.get('name')!r}. Must be one of: {', '.join(FACTS)}")
            if any(not KEY.match(str(k)) for k in s.get("set", {})):
                raise LessonError(f"{source}, step {i}: widget keys may use letters, digits, - and _ only.")
            steps.append(Step(s["page"], str(s["text"]), dict(s.get("set", {})), str(s.get("ask", "")),
                              list(s.get("options", [])), dict(fact), dict(s.get("reveal", {}))))
        if not steps:
            raise LessonError(f"{source}: a lesson needs at least one step.")
        return cls(str(d["id"]), str(d["title"]), str(d.get("summary", "")), steps)


def lessons_dir() -> Path:
    return asset("lessons")


def load_lessons(folder: Path | None = None) -> dict[str, Lesson]:
    """Every lesson in ``assets/lessons`` (sorted by file name), by id."""
    out = {}
    for p in sorted((folder or lessons_dir()).glob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise LessonError(f"{p.name}: not valid JSON ({e.msg}, line {e.lineno}).") from None
        lesson = Lesson.from_dict(d, p.name)
        out[lesson.id] = lesson
    return out


def compute_fact(lm, fact: dict, encoder=None) -> dict:
    """Run a step's fact on the model: ``{"answer": …, **values}``."""

    return FACTS[fact["name"]](lm, encoder=encoder, **fact.get("args", {}))
