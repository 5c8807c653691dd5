"""Lessons: guided tours, written as data (one JSON file per lesson in ``assets/lessons/``), whose
steps set the real widgets of a page and whose answers are computed on the model at run time.

A lesson file::

    {"id": "queen-hive", "title": "The queen and her hive", "summary": "…",
     "steps": [
       {"page": "Senses", "text": "Markdown shown to the class.", "set": {"sn_word": "queen"},
        "chart": "sn_dose", "minutes": 2, "notes": "What the teacher says.",
        "expect": {"SmolLM2": "what usually happens on this model"}},
       {"page": "Senses", "text": "…", "ask": "Which sense will the model put it near?",
        "options": ["monarch", "bee", "unclear"], "labels": {"unclear": "no clear answer"},
        "fact": {"name": "queen_sense", "args": {"context": "honey worker hive queen"}},
        "plain": {"bee": "The model reads this queen as the bee.", "*": "The model reads it as {answer}."},
        "reveal": {"bee": "p(bee) = {p:.2f} …", "*": "…"},
        "say": {"bee": "…", "monarch": "…", "unclear": "…"}}]}

``set`` writes widget values (by widget key) before the page draws. ``chart`` names the key of the
chart the step is about (the page gives that chart the key; a test checks it exists). ``hide`` (on a
step that asks) names the parts of its page that give the answer away, such as ``"sense_stars"``: the
page draws them only after the reveal (:meth:`Step.hides`; the page asks the app's ``answer_hidden``,
and the figure builders take ``hide_answer``), with a note where they would be. ``fact``
names a function in :mod:`latent.lessons.facts` that computes the answer on the loaded model;
``plain`` is one sentence a teacher can read aloud and ``reveal`` the numbers behind it, each
picked for the computed answer (else the ``"*"`` text), so a lesson never asserts an outcome the
model did not produce. ``{…}`` fields are filled from the fact's values. ``say`` (the teacher's
words for each possible answer), ``notes``, ``expect`` and ``minutes`` make the teacher's script
and the handout.

Translations: ``assets/lessons/i18n/<lang>/<same file name>`` holds the same lesson's words
(title, summary, and per step the fields in :data:`TRANSLATED`); anything missing falls back to
English. Options stay the same values (they are the model's answers); their on-screen words are
``labels``.

Pages: a step names its page by the app's title, and the library does not know the app's pages. The
caller that draws the steps (the app) passes its titles, ``load_lessons(pages=TITLES)``, and a step
naming any other page is a :class:`LessonError`; without ``pages`` page names are not checked (the
handout, which prints no page, is written from them unchecked).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from latent.core.assets import asset
from latent.core.errors import LatentError
from latent.lessons.facts import FACTS

KEY = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")
LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español"}
FIELDS = {"page", "text", "set", "ask", "options", "labels", "fact", "plain", "reveal", "chart", "notes", "expect",
          "minutes", "say", "hide"}
TRANSLATED = ("text", "ask", "labels", "plain", "reveal", "notes", "expect", "say")   # the words of a step


class LessonError(LatentError):
    """A lesson file that cannot be used; the message names the file and the field."""


def _fill(template: str, values: dict) -> str:
    try:
        return template.format(**values)
    except (KeyError, ValueError, IndexError) as e:
        raise LessonError(f"The reveal text needs a value the fact does not give: {e}") from None


@dataclass
class Step:
    page: str
    text: str
    set: dict = field(default_factory=dict)
    ask: str = ""
    options: list = field(default_factory=list)
    fact: dict = field(default_factory=dict)
    reveal: dict = field(default_factory=dict)
    plain: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    chart: str = ""
    notes: str = ""
    expect: dict = field(default_factory=dict)
    minutes: float = 0
    say: dict = field(default_factory=dict)
    hide: tuple = ()

    def hides(self, part: str) -> bool:
        """Whether this step keeps ``part`` of its page hidden until the reveal (only a step that asks hides).

        >>> Step(page="Senses", text="t", ask="?", hide=("sense_stars",)).hides("sense_stars")
        True
        >>> Step(page="Senses", text="t", hide=("sense_stars",)).hides("sense_stars")
        False
        """
        return bool(self.ask) and part in self.hide

    def _pick(self, texts: dict, values: dict, default: str) -> str:
        template = texts.get(str(values.get("answer")), texts.get("*", default))
        return _fill(template, {**values, "answer": self.label(values.get("answer"))})

    def reveal_text(self, values: dict) -> str:
        """The numbers written for the computed answer (else the ``"*"`` text), filled with the values."""
        return self._pick(self.reveal, values, "The model's answer: {answer}.")

    def plain_text(self, values: dict) -> str:
        """One sentence to read aloud, for the computed answer (else the ``"*"`` text; "" if none)."""
        return self._pick(self.plain, values, "")

    def label(self, option) -> str:
        """An option's words on screen (the option itself unless the lesson gives a label)."""
        return str(self.labels.get(str(option), option))

    def say_text(self, answer) -> str:
        return str(self.say.get(str(answer), self.say.get("*", "")))


@dataclass
class Lesson:
    id: str
    title: str
    summary: str
    steps: list[Step]
    lang: str = "en"
    file: str = ""

    @property
    def minutes(self) -> float:
        return float(sum(s.minutes for s in self.steps))

    @classmethod
    def from_dict(cls, d: dict, source: str = "lesson", lang: str = "en", pages: Iterable[str] | None = None,
                  keys: Callable[[str], str] | None = None) -> "Lesson":
        """The lesson in ``d``, checked field by field; ``pages``: the page titles a step may name
        (``None``: page names are not checked); ``keys``: today's name of a widget key a step names (its
        ``set``, ``chart`` and ``hide``), for a lesson file written under an old key prefix."""
        if not isinstance(d, dict):
            raise LessonError(f"{source}: a lesson is a JSON object.")
        for k in ("id", "title", "steps"):
            if k not in d:
                raise LessonError(f"{source}: missing field {k!r}.")
        if not KEY.match(str(d["id"])):
            raise LessonError(f"{source}: the id may use letters, digits, - and _ only.")
        if not isinstance(d["steps"], list):
            raise LessonError(f"{source}: 'steps' is a list of steps.")
        pages = None if pages is None else tuple(pages)
        steps = [_step(s, f"{source}, step {i}", pages, keys) for i, s in enumerate(d["steps"], start=1)]
        if not steps:
            raise LessonError(f"{source}: a lesson needs at least one step.")
        return cls(str(d["id"]), str(d["title"]), str(d.get("summary", "")), steps, lang, source)


def _step(s, where: str, pages: tuple[str, ...] | None, keys: Callable[[str], str] | None = None) -> Step:
    if not isinstance(s, dict) or "text" not in s or "page" not in s:
        raise LessonError(f"{where}: each step needs 'page' and 'text'.")
    if pages is not None and s["page"] not in pages:
        raise LessonError(f"{where}: unknown page {s['page']!r}. Must be one of: {', '.join(pages)}")
    unknown = set(s) - FIELDS
    if unknown:
        raise LessonError(f"{where}: unknown field {sorted(unknown)[0]!r}.")
    for k in ("set", "fact", "reveal", "plain", "labels", "expect", "say"):
        if not isinstance(s.get(k, {}), dict):
            raise LessonError(f"{where}: {k!r} is an object of names and values.")
    fact = s.get("fact") or {}
    if fact and fact.get("name") not in FACTS:
        raise LessonError(f"{where}: unknown fact {fact.get('name')!r}. Must be one of: {', '.join(FACTS)}")
    if any(not KEY.match(str(k)) for k in s.get("set", {})):
        raise LessonError(f"{where}: widget keys may use letters, digits, - and _ only.")
    if s.get("chart") is not None and not KEY.match(str(s.get("chart", "x"))):
        raise LessonError(f"{where}: 'chart' is a chart key (letters, digits, - and _).")
    hide = s.get("hide", [])
    if not isinstance(hide, list) or any(not KEY.match(str(k)) for k in hide):
        raise LessonError(f"{where}: 'hide' is a list of page-part names (letters, digits, - and _).")
    if hide and not s.get("ask"):
        raise LessonError(f"{where}: only a step that asks hides part of its page until the reveal.")
    options = [str(o) for o in s.get("options", [])]
    if s.get("ask"):
        if not options or not fact:
            raise LessonError(f"{where}: a step that asks needs 'options' and a 'fact' that computes the answer.")
        missing = [o for o in options if o not in s.get("say", {})]
        if "say" in s and missing:
            raise LessonError(f"{where}: 'say' has no words for the answer {missing[0]!r}.")
    try:
        minutes = float(s.get("minutes", 0))
    except (TypeError, ValueError):
        raise LessonError(f"{where}: 'minutes' is a number.") from None
    key = keys or str
    return Step(s["page"], str(s["text"]), {key(str(k)): v for k, v in s.get("set", {}).items()}, str(s.get("ask", "")),
                options, dict(fact),
                {str(k): str(v) for k, v in s.get("reveal", {}).items()},
                {str(k): str(v) for k, v in s.get("plain", {}).items()},
                {str(k): str(v) for k, v in s.get("labels", {}).items()}, key(str(s.get("chart", ""))),
                str(s.get("notes", "")), {str(k): str(v) for k, v in s.get("expect", {}).items()}, minutes,
                {str(k): str(v) for k, v in s.get("say", {}).items()}, tuple(key(str(k)) for k in hide))


def lessons_dir() -> Path:
    return asset("lessons")


def translate(d: dict, tr: dict) -> dict:
    """The English lesson ``d`` with the words of translation ``tr`` put over it (per field; dict fields
    per key), falling back to English for anything the translation lacks. Pages, widget values, facts
    and options never change in a translation."""
    out = {**d, "steps": [dict(s) for s in d.get("steps", [])]}
    for k in ("title", "summary"):
        if isinstance(tr.get(k), str) and tr[k].strip():
            out[k] = tr[k]
    for s, t in zip(out["steps"], tr.get("steps", []) or []):
        if not isinstance(t, dict):
            continue
        for k in TRANSLATED:
            if k not in t:
                continue
            if isinstance(s.get(k), dict) and isinstance(t[k], dict):
                s[k] = {**s[k], **{kk: v for kk, v in t[k].items() if isinstance(v, str) and v.strip()}}
            elif isinstance(t[k], str) and t[k].strip():
                s[k] = t[k]
    return out


def _read(p: Path) -> dict:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LessonError(f"{p.name}: not valid JSON ({e.msg}, line {e.lineno}).") from None


def check_lang(lang) -> str:
    """A language code this app has words for, else English.

    >>> check_lang("de"), check_lang("xx"), check_lang(None)
    ('de', 'en', 'en')
    """
    return lang if lang in LANGUAGES else "en"


def load_lessons(folder: Path | None = None, lang: str = "en", pages: Iterable[str] | None = None,
                 keys: Callable[[str], str] | None = None) -> dict[str, Lesson]:
    """Every lesson in ``assets/lessons`` (sorted by file name), by id, in ``lang`` where translated;
    with ``pages`` (the app's page titles), a step naming another page is a :class:`LessonError`; with
    ``keys`` (the app's old-to-new widget key names), every key a step names is read under today's name."""
    folder = folder or lessons_dir()
    lang = check_lang(lang)
    pages = None if pages is None else tuple(pages)
    out = {}
    for p in sorted(folder.glob("*.json")):
        d = _read(p)
        tp = folder / "i18n" / lang / p.name
        if lang != "en" and tp.exists() and isinstance(d, dict):
            d = translate(d, _read(tp))
        lesson = Lesson.from_dict(d, p.name, lang, pages, keys)
        out[lesson.id] = lesson
    return out


def compute_fact(lm, fact: dict, encoder=None) -> dict:
    """Run a step's fact on the model: ``{"answer": …, **values}``."""

    return FACTS[fact["name"]](lm, encoder=encoder, **fact.get("args", {}))
