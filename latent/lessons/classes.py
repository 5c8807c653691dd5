"""Class state for a lesson run in front of a class: the class, its members, the presenter's step, the
students' predictions and the model's revealed answers, in an SQLite database (standard library).

One module holds the schema and its migrations (:data:`MIGRATIONS`, applied in order and recorded in
``PRAGMA user_version``), so a server restart loses nothing. The database lives in the app's data
directory (``$LATENT_DATA_DIR``, else the user's data dir); each server process tags the classes it
creates with its own data directory's database, so two servers with different data directories
never mix results, and class codes are unique within a database.

A class runs in rounds: students predict blind (the projector sees only how many answered), the
presenter's reveal locks the step's predictions (:meth:`ClassDB.lock`, optionally after a countdown)
and stores the model's answer with its numbers (:meth:`ClassDB.reveal`), which every student's page
then shows. A member is one device: the app passes the random id its browser keeps, so re-opening the
link keeps the member, and "N joined" counts the devices seen in the last :data:`RECENT_SECONDS`.
:meth:`ClassDB.reset` starts a new round (``round`` goes up, so connected pages see it) and
:meth:`ClassDB.end` ends the class; :meth:`ClassDB.summary` is its per-step report (CSV, printable HTML).

Names are optional; nothing stored here is ever rendered as HTML by the app (the summary's HTML escapes
every text).

Example::

    >>> import tempfile, os
    >>> db = ClassDB(os.path.join(tempfile.mkdtemp(), "c.db"))
    >>> c = db.create("queen-hive")
    >>> len(c.code), c.lesson
    (6, 'queen-hive')
    >>> m = db.join(c.code, "Ada")
    >>> db.predict(c.code, m, 2, "bee")
    >>> db.tally(c.code, 2)
    {'bee': 1}
    >>> _ = db.lock(c.code, c.teacher, 2)
    >>> db.predict(c.code, m, 2, "band")
    Traceback (most recent call last):
    ...
    latent.lessons.classes.ClassError: Predictions for step 2 are locked: the teacher has revealed the answer.
"""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

from latent.core.errors import LatentError
from latent.lessons.words import t

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"     # no 0/O, 1/I: read aloud and typed on phones
CODE_LEN = 6
MAX_NAME = 40
MAX_MEMBERS = 500
RECENT_SECONDS = 60          # "N joined" counts the devices seen this recently (a student's page checks in every few seconds)
DEVICE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")      # a browser's random id, as the app keeps it in a cookie

MIGRATIONS: tuple[str, ...] = (
    # 1: classes, members, the presenter's step, predictions (one per member and step), revealed answers
    """
    CREATE TABLE classes (code TEXT PRIMARY KEY, lesson TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 1,
                          teacher TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
    CREATE TABLE members (id TEXT PRIMARY KEY, code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
                          name TEXT NOT NULL DEFAULT '', joined REAL NOT NULL);
    CREATE TABLE predictions (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE, member TEXT NOT NULL,
                              step INTEGER NOT NULL, option TEXT NOT NULL, at REAL NOT NULL,
                              PRIMARY KEY (code, member, step));
    CREATE TABLE answers (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE, step INTEGER NOT NULL,
                          answer TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (code, step));
    CREATE INDEX members_code ON members(code);
    """,
    # 2: the class's language, so the projector and the students read the same words
    "ALTER TABLE classes ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';",
    # 3: rounds (a reset starts the next), the end, one member per device and when it was last seen, locks
    #    (the reveal, or a countdown's end, closes a step's predictions), and the answer's numbers
    """
    ALTER TABLE classes ADD COLUMN round INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE classes ADD COLUMN ended REAL;
    ALTER TABLE members ADD COLUMN device TEXT;
    ALTER TABLE members ADD COLUMN seen REAL NOT NULL DEFAULT 0;
    UPDATE members SET seen = joined;
    CREATE UNIQUE INDEX members_device ON members(code, device);
    CREATE TABLE locks (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE, step INTEGER NOT NULL,
                        at REAL NOT NULL, PRIMARY KEY (code, step));
    ALTER TABLE answers ADD COLUMN fact TEXT NOT NULL DEFAULT '{}';
    """,
)


class ClassError(LatentError):
    """A class code that is not known, or a request the class cannot take."""


@dataclass(frozen=True)
class ClassInfo:
    code: str
    lesson: str
    step: int           # the presenter's step, 1-based
    teacher: str        # the presenter's secret: only a session holding it moves the class
    lang: str
    members: int        # every member of this round
    round: int = 0      # how many times the class was reset (connected pages notice a new round)
    ended: float | None = None      # when the presenter ended the class
    present: int = 0    # the members (devices) seen in the last RECENT_SECONDS: "N joined"


@dataclass(frozen=True)
class Pulse:
    """What a page checks every few seconds: the class, and the state of one step."""
    info: ClassInfo
    locked: bool            # predictions for the step are closed
    lock_at: float | None   # when they close (a countdown), or closed
    answered: int           # predictions in for the step
    revealed: bool          # the model's answer is stored


def data_dir() -> Path:
    """``$LATENT_DATA_DIR``, else the user's data dir (``~/.local/share/latent-dialogue-explorer``)."""
    env = os.environ.get("LATENT_DATA_DIR")
    p = Path(env) if env else Path(user_data_dir("latent-dialogue-explorer"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def valid_code(code) -> bool:
    """A well-formed class code.

    >>> valid_code("ABC234"), valid_code("abc"), valid_code("<b>")
    (True, False, False)
    """
    return isinstance(code, str) and len(code) == CODE_LEN and all(ch in CODE_ALPHABET for ch in code)


LOOKALIKES = str.maketrans("OI", "01")      # O and 0 read as one character, I and 1 as one
_SEPARATORS = re.compile(r"[\s\-_.·]+")
_WELL_FORMED = re.compile(r"[A-Z0-9]{%d}" % CODE_LEN)


def normal_code(text) -> str | None:
    """A typed class code in its one comparable form, or None when it cannot be a code: spaces and
    dashes dropped, upper case, and O/0 and I/1 folded into one character each (0 and 1). The codes
    are made from :data:`CODE_ALPHABET`, which has none of the four, so a typed one is a misreading;
    :meth:`ClassDB.find` folds the stored codes the same way, so the two sides compare alike whatever
    alphabet made a stored code.

    >>> normal_code(" abc-234 "), normal_code("BOXIYZ") == normal_code("b0x1yz"), normal_code("ABC23")
    ('ABC234', True, None)
    """
    s = _SEPARATORS.sub("", str(text or "")).upper().translate(LOOKALIKES)
    return s if _WELL_FORMED.fullmatch(s) else None


class ClassDB:
    """The class database. Thread-safe: one connection per call (SQLite serialises writers), WAL mode."""

    def __init__(self, path: str | Path | None = None):
        self.path = str(path or data_dir() / "classes.sqlite3")
        self._lock = threading.Lock()
        with self._conn() as c:
            self.migrate(c)

    @contextmanager
    def _conn(self):
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA journal_mode = WAL")
            yield con
        finally:
            con.close()

    @staticmethod
    def migrate(con) -> int:
        """Apply the migrations this database has not had yet; returns the schema version."""
        have = con.execute("PRAGMA user_version").fetchone()[0]
        for i, sql in enumerate(MIGRATIONS[have:], start=have + 1):
            con.execute("BEGIN IMMEDIATE")
            try:
                if con.execute("PRAGMA user_version").fetchone()[0] >= i:     # another process got there first
                    con.execute("COMMIT")
                    continue
                for stmt in filter(str.strip, sql.split(";")):
                    con.execute(stmt)
                con.execute(f"PRAGMA user_version = {i}")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return con.execute("PRAGMA user_version").fetchone()[0]

    def create(self, lesson: str, lang: str = "en") -> ClassInfo:
        now = time.time()
        with self._conn() as c:
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))
                try:
                    c.execute("INSERT INTO classes (code, lesson, step, teacher, created, updated, lang) "
                              "VALUES (?, ?, 1, ?, ?, ?, ?)", (code, lesson, secrets.token_urlsafe(12), now, now, lang))
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 32^6 codes
                raise ClassError("Could not find a free class code.")
        return self.get(code)

    def get(self, code: str) -> ClassInfo:
        if not valid_code(code):
            raise ClassError(f"{str(code)[:20]!r} is not a class code (6 letters and digits).")
        with self._conn() as c:
            row = self._info(c, code)
        if row is None:
            raise ClassError(f"There is no class {code} on this server (it may have been reset or created on another "
                             "server).")
        return ClassInfo(*row)

    @staticmethod
    def _info(c, code: str):
        return c.execute("SELECT code, lesson, step, teacher, lang, (SELECT COUNT(*) FROM members m WHERE m.code = "
                         "classes.code), round, ended, (SELECT COUNT(*) FROM members m WHERE m.code = classes.code "
                         "AND m.seen >= ?) FROM classes WHERE code = ?", (time.time() - RECENT_SECONDS, code)).fetchone()

    def find(self, typed) -> ClassInfo:
        """The class whose code this is, read forgivingly (:func:`normal_code`: any case, spaces and
        dashes, O for 0, I for 1)."""
        key = normal_code(typed)
        if key is None:
            raise ClassError(f"{str(typed)[:20]!r} is not a class code (6 letters and digits).")
        with self._conn() as c:
            row = c.execute("SELECT code FROM classes WHERE replace(replace(upper(code), 'O', '0'), 'I', '1') = ? "
                            "ORDER BY created DESC", (key,)).fetchone()
        if row is None:
            raise ClassError(f"There is no class {key} on this server (it may have been reset or created on another "
                             "server).")
        return self.get(row[0])

    def _teacher(self, code: str, teacher: str, what: str) -> ClassInfo:
        info = self.get(code)
        if not secrets.compare_digest(info.teacher, str(teacher)):
            raise ClassError(f"Only the presenter's screen {what} the class.")
        return info

    def join(self, code: str, name: str = "", device: str | None = None) -> str:
        """This class's member id for a device (its browser's random id): the device's member if it has joined
        before, else a new one. Without a device id, always a new member. Names are optional and cut to 40
        characters."""
        info = self.get(code)
        device = device if isinstance(device, str) and DEVICE.match(device) else None
        clean = "".join(ch for ch in str(name or "") if ch.isprintable())[:MAX_NAME].strip()
        now = time.time()
        with self._conn() as c:
            for _ in range(2):
                if device is not None:
                    row = c.execute("SELECT id FROM members WHERE code = ? AND device = ?", (code, device)).fetchone()
                    if row is not None:
                        c.execute("UPDATE members SET seen = ? WHERE id = ?", (now, row[0]))
                        return row[0]
                if info.members >= MAX_MEMBERS:
                    raise ClassError(f"Class {code} is full ({MAX_MEMBERS} members).")
                member = secrets.token_urlsafe(9)
                try:
                    c.execute("INSERT INTO members (id, code, name, joined, device, seen) VALUES (?, ?, ?, ?, ?, ?)",
                              (member, code, clean, now, device, now))
                    return member
                except sqlite3.IntegrityError:      # the same device joined at the same moment: use its member
                    continue
        raise ClassError(f"Could not join class {code}.")  # pragma: no cover - two collisions in a row

    def is_member(self, code: str, member: str) -> bool:
        with self._conn() as c:
            return c.execute("SELECT 1 FROM members WHERE id = ? AND code = ?", (member, code)).fetchone() is not None

    def seen(self, code: str, member: str) -> bool:
        """A member's page checked in (it counts in "N joined" for RECENT_SECONDS); False if not a member."""
        with self._conn() as c:
            return c.execute("UPDATE members SET seen = ? WHERE id = ? AND code = ?",
                             (time.time(), member, code)).rowcount > 0

    def set_step(self, code: str, teacher: str, step: int) -> None:
        """Move the class to ``step`` (1-based); only the presenter (holding the teacher secret) may."""
        self._teacher(code, teacher, "moves")
        with self._conn() as c:
            c.execute("UPDATE classes SET step = ?, updated = ? WHERE code = ?", (int(step), time.time(), code))

    def predict(self, code: str, member: str, step: int, option: str) -> None:
        """A member's prediction for a step (a later one replaces it), until the step is locked or the class ends."""
        if not self.is_member(code, member):
            raise ClassError(f"Not a member of class {code}: join it again from the students' link.")
        now = time.time()
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")          # the lock and the prediction in one transaction: none slips past
            try:
                if c.execute("SELECT ended FROM classes WHERE code = ?", (code,)).fetchone()[0] is not None:
                    raise ClassError(f"Class {code} has ended: predictions are closed.")
                if c.execute("SELECT 1 FROM locks WHERE code = ? AND step = ? AND at <= ?", (code, int(step), now)).fetchone():
                    raise ClassError(f"Predictions for step {int(step)} are locked: the teacher has revealed the answer.")
                c.execute("INSERT INTO predictions (code, member, step, option, at) VALUES (?, ?, ?, ?, ?) "
                          "ON CONFLICT(code, member, step) DO UPDATE SET option = excluded.option, at = excluded.at",
                          (code, member, int(step), str(option)[:80], now))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def prediction(self, code: str, member: str, step: int) -> str | None:
        """A member's prediction for a step, as counted."""
        with self._conn() as c:
            row = c.execute("SELECT option FROM predictions WHERE code = ? AND member = ? AND step = ?",
                            (code, member, int(step))).fetchone()
        return row[0] if row else None

    def lock(self, code: str, teacher: str, step: int, seconds: float = 0) -> float:
        """Close a step's predictions now, or after a countdown of ``seconds`` (an earlier close stands);
        only the presenter may. Returns when they close."""
        self._teacher(code, teacher, "locks")
        at = time.time() + max(float(seconds), 0)
        with self._conn() as c:
            c.execute("INSERT INTO locks (code, step, at) VALUES (?, ?, ?) ON CONFLICT(code, step) DO UPDATE SET "
                      "at = MIN(at, excluded.at)", (code, int(step), at))
            return c.execute("SELECT at FROM locks WHERE code = ? AND step = ?", (code, int(step))).fetchone()[0]

    def locked(self, code: str, step: int) -> bool:
        with self._conn() as c:
            return c.execute("SELECT 1 FROM locks WHERE code = ? AND step = ? AND at <= ?",
                             (code, int(step), time.time())).fetchone() is not None

    def reveal(self, code: str, step: int, answer: str, fact: dict | None = None) -> None:
        """The model's answer for a step (and the numbers behind it, ``fact``), as revealed: shown beside the
        tally and on every student's screen. A revealed step is locked."""
        text = json.dumps(fact or {"answer": answer}, default=lambda o: o.item() if hasattr(o, "item") else str(o))
        now = time.time()
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO locks (code, step, at) VALUES (?, ?, ?) ON CONFLICT(code, step) DO UPDATE SET "
                      "at = MIN(at, excluded.at)", (code, int(step), now))
            c.execute("INSERT OR REPLACE INTO answers (code, step, answer, at, fact) VALUES (?, ?, ?, ?, ?)",
                      (code, int(step), str(answer)[:80], now, text))
            c.execute("COMMIT")

    def answer(self, code: str, step: int) -> str | None:
        with self._conn() as c:
            row = c.execute("SELECT answer FROM answers WHERE code = ? AND step = ?", (code, int(step))).fetchone()
        return row[0] if row else None

    def fact(self, code: str, step: int) -> dict | None:
        """The revealed answer with its numbers (what the reveal computed), or None before the reveal."""
        with self._conn() as c:
            row = c.execute("SELECT answer, fact FROM answers WHERE code = ? AND step = ?", (code, int(step))).fetchone()
        if row is None:
            return None
        try:
            fact = json.loads(row[1])
        except ValueError:
            fact = {}
        return {**(fact if isinstance(fact, dict) else {}), "answer": row[0]}

    def pulse(self, code: str, step: int) -> Pulse:
        """The class and one step's state in one read (what the projector and students' pages poll)."""
        if not valid_code(code):
            self.get(code)
        now = time.time()
        with self._conn() as c:
            row = self._info(c, code)
            if row is None:
                raise ClassError(f"There is no class {code} on this server (it may have been reset or created on "
                                 "another server).")
            lock = c.execute("SELECT at FROM locks WHERE code = ? AND step = ?", (code, int(step))).fetchone()
            n = c.execute("SELECT COUNT(*) FROM predictions WHERE code = ? AND step = ?", (code, int(step))).fetchone()[0]
            rev = c.execute("SELECT 1 FROM answers WHERE code = ? AND step = ?", (code, int(step))).fetchone()
        lock_at = lock[0] if lock else None
        return Pulse(ClassInfo(*row), lock_at is not None and lock_at <= now, lock_at, n, rev is not None)

    def tally(self, code: str, step: int) -> dict[str, int]:
        """Counts per option for a step, most first."""
        with self._conn() as c:
            rows = c.execute("SELECT option, COUNT(*) FROM predictions WHERE code = ? AND step = ? GROUP BY option "
                             "ORDER BY COUNT(*) DESC, option", (code, int(step))).fetchall()
        return {o: n for o, n in rows}

    def reset(self, code: str, teacher: str) -> None:
        """Empty the class for the next group: members, predictions, locks and answers go; the step goes back to
        1 and a new round starts (connected pages see it, say so and join the new round); an ended class is
        open again."""
        self._teacher(code, teacher, "resets")
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            for table in ("predictions", "answers", "locks", "members"):
                c.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
            c.execute("UPDATE classes SET step = 1, round = round + 1, ended = NULL, updated = ? WHERE code = ?",
                      (time.time(), code))
            c.execute("COMMIT")

    def end(self, code: str, teacher: str) -> None:
        """End the class for everyone (predictions close; the class and its results stay for the summary)."""
        self._teacher(code, teacher, "ends")
        with self._conn() as c:
            c.execute("UPDATE classes SET ended = COALESCE(ended, ?), updated = ? WHERE code = ?",
                      (time.time(), time.time(), code))

    def summary(self, code: str, lesson) -> ClassSummary:
        """Per asking step of ``lesson``: the class's predictions against the model's answer."""
        info = self.get(code)
        steps = []
        for i, s in enumerate(lesson.steps, start=1):
            if not s.ask:
                continue
            counts = self.tally(code, i)
            options = [str(o) for o in s.options] + [o for o in counts if o not in map(str, s.options)]
            answer = self.answer(code, i)
            steps.append(StepSummary(i, s.ask, tuple((o, s.label(o), counts.get(o, 0)) for o in options), answer,
                                     s.label(answer) if answer is not None else None))
        return ClassSummary(info.code, lesson.title, info.members, info.ended, tuple(steps), info.lang)


@dataclass(frozen=True)
class StepSummary:
    step: int                                   # 1-based, as on the panel
    question: str
    options: tuple[tuple[str, str, int], ...]   # (option, its words on screen, predictions)
    answer: str | None                          # the model's answer, None if not revealed
    answer_label: str | None

    @property
    def predicted(self) -> int:
        return sum(n for _, _, n in self.options)

    @property
    def right(self) -> int:
        """Predictions that matched the model's answer."""
        return sum(n for o, _, n in self.options if o == self.answer)


@dataclass(frozen=True)
class ClassSummary:
    """A class's report: per asking step, the predictions against the model's answer.

    >>> s = ClassSummary("ABC234", "The queen", 3, None, (StepSummary(2, "Which?", (("bee", "bee", 2),
    ...     ("band", "band", 1)), "bee", "bee"),))
    >>> print(s.to_csv().strip())
    step,question,option,predictions,model_answer
    2,Which?,bee,2,yes
    2,Which?,band,1,no
    >>> print(s.text())
    Step 2: Which? · the model: bee · 2 of 3 predicted as the model
    """
    code: str
    lesson: str
    members: int
    ended: float | None
    steps: tuple[StepSummary, ...]
    lang: str = "en"

    def to_json(self) -> dict:
        return {"code": self.code, "lesson": self.lesson, "members": self.members, "ended": self.ended,
                "steps": [{"step": s.step, "question": s.question, "answer": s.answer,
                           "predictions": {o: n for o, _, n in s.options}} for s in self.steps]}

    def to_csv(self) -> str:
        """One row per step and option: ``step,question,option,predictions,model_answer`` (yes/no/not revealed)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", "question", "option", "predictions", "model_answer"])
        for s in self.steps:
            for o, label, n in s.options:
                w.writerow([s.step, _cell(s.question), _cell(label), n,
                            "not revealed" if s.answer is None else "yes" if o == s.answer else "no"])
        return buf.getvalue()

    def text(self) -> str:
        """One plain line per step (no markup), in the class's language."""
        lg = self.lang
        out = []
        for s in self.steps:
            model = s.answer_label if s.answer is not None else t("not_revealed", lg)
            out.append(f"{t('step', lg, i=s.step)}: {s.question} · {t('model_short', lg, answer=model)} · "
                       + (t("as_model", lg, n=s.right, m=s.predicted) if s.answer is not None
                          else t("predictions_n", lg, n=s.predicted)))
        return "\n".join(out)

    def to_html(self) -> str:
        """A printable page (every text escaped): per step, a table of the predictions, the model's answer marked."""
        e, lg = html.escape, self.lang
        parts = [f"<!doctype html><html lang='{e(lg)}'><head><meta charset='utf-8'><title>{e(self.lesson)} · "
                 f"{e(t('class', lg, code=self.code))}</title><style>body{{font-family:sans-serif;max-width:46rem;"
                 "margin:1.5rem auto;color:#111}table{border-collapse:collapse;width:100%;margin:.3rem 0 1.2rem}"
                 "td,th{border:1px solid #999;padding:.25rem .5rem;text-align:left}td.n{text-align:right;width:6rem}"
                 "tr.model{font-weight:bold;background:#eef6ee}section{page-break-inside:avoid}"
                 "@media print{body{margin:0}}</style></head><body>",
                 f"<h1>{e(self.lesson)}</h1><p>{e(t('class', lg, code=self.code))} · "
                 f"{e(t('joined', lg, n=self.members))}</p>"]
        for s in self.steps:
            model = s.answer_label if s.answer is not None else t("not_revealed", lg)
            parts.append(f"<section><h2>{e(t('step', lg, i=s.step))}: {e(s.question)}</h2>"
                         f"<p>{e(t('model_short', lg, answer=model))}</p><table>")
            for o, label, n in s.options:
                mark = " ◀" if o == s.answer else ""
                parts.append(f"<tr{' class=model' if mark else ''}><td>{e(label)}{mark}</td><td class=n>{n}</td></tr>")
            parts.append("</table></section>")
        parts.append("</body></html>")
        return "".join(parts)


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_DB: dict[str, ClassDB] = {}
_DB_LOCK = threading.Lock()


def class_db() -> ClassDB:
    """The process's class database (one per data directory)."""
    path = str(data_dir() / "classes.sqlite3")
    with _DB_LOCK:
        if path not in _DB:
            _DB[path] = ClassDB(path)
        return _DB[path]


def tally_text(options, counts: dict, answer, label, lg: str = "en", width: int = 10) -> str:
    """The tally as plain text bars (no HTML), one line per option: the count, a bar, the option (last,
    so a narrow panel wraps only the words), and the model's answer marked.

    >>> print(tally_text(["bee", "band"], {"bee": 2}, "bee", str))
      2 ██████████ bee  ◀ The model said
      0            band
    """
    top = max([*counts.values(), 1])
    lines = []
    for o in options:
        n = counts.get(str(o), 0)
        mark = f"  ◀ {t('model_said', lg)}" if answer is not None and str(o) == answer else ""
        lines.append(f"{n:>3} {'█' * round(width * n / top):<{width}} {label(o)}{mark}")
    if not sum(counts.values()):
        lines.append(t("no_predictions", lg))
    if answer is None:
        lines.append(f"{t('model_said', lg)}: {t('not_revealed', lg)}")
    return "\n".join(lines)
