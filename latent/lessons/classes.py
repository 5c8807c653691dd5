"""Class state for a lesson run in front of a class: the class, its members, the presenter's step, the
students' predictions and the model's revealed answers, in an SQLite database (standard library).

One module holds the schema and its migrations (:data:`MIGRATIONS`, applied in order and recorded in
``PRAGMA user_version``), so a server restart loses nothing. The database lives in the app's data
directory (``$LATENT_DATA_DIR``, else the user's data dir); each server process tags the classes it
creates with its own data directory's database, so two servers with different data directories
never mix results, and class codes are unique within a database.

Names are optional; nothing stored here is ever rendered as HTML by the app.

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
"""
from __future__ import annotations

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
    members: int


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
            row = c.execute("SELECT code, lesson, step, teacher, lang, (SELECT COUNT(*) FROM members m WHERE m.code = "
                            "classes.code) FROM classes WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise ClassError(f"There is no class {code} on this server (it may have been reset or created on another "
                             "server).")
        return ClassInfo(*row)

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

    def join(self, code: str, name: str = "") -> str:
        """A new member id for this class (names are optional and cut to 40 characters)."""
        info = self.get(code)
        if info.members >= MAX_MEMBERS:
            raise ClassError(f"Class {code} is full ({MAX_MEMBERS} members).")
        member = secrets.token_urlsafe(9)
        clean = "".join(ch for ch in str(name or "") if ch.isprintable())[:MAX_NAME].strip()
        with self._conn() as c:
            c.execute("INSERT INTO members (id, code, name, joined) VALUES (?, ?, ?, ?)", (member, code, clean, time.time()))
        return member

    def is_member(self, code: str, member: str) -> bool:
        with self._conn() as c:
            return c.execute("SELECT 1 FROM members WHERE id = ? AND code = ?", (member, code)).fetchone() is not None

    def set_step(self, code: str, teacher: str, step: int) -> None:
        """Move the class to ``step`` (1-based); only the presenter (holding the teacher secret) may."""
        if not secrets.compare_digest(self.get(code).teacher, str(teacher)):
            raise ClassError("Only the presenter's screen moves the class.")
        with self._conn() as c:
            c.execute("UPDATE classes SET step = ?, updated = ? WHERE code = ?", (int(step), time.time(), code))

    def predict(self, code: str, member: str, step: int, option: str) -> None:
        """A member's prediction for a step (a later one replaces it)."""
        if not self.is_member(code, member):
            raise ClassError(f"Not a member of class {code}: join it again from the students' link.")
        with self._conn() as c:
            c.execute("INSERT INTO predictions (code, member, step, option, at) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT(code, member, step) DO UPDATE SET option = excluded.option, at = excluded.at",
                      (code, member, int(step), str(option)[:80], time.time()))

    def reveal(self, code: str, step: int, answer: str) -> None:
        """The model's answer for a step, as revealed (shown beside the tally)."""
        with self._conn() as c:
            c.execute("INSERT OR REPLACE INTO answers (code, step, answer, at) VALUES (?, ?, ?, ?)",
                      (code, int(step), str(answer)[:80], time.time()))

    def answer(self, code: str, step: int) -> str | None:
        with self._conn() as c:
            row = c.execute("SELECT answer FROM answers WHERE code = ? AND step = ?", (code, int(step))).fetchone()
        return row[0] if row else None

    def tally(self, code: str, step: int) -> dict[str, int]:
        """Counts per option for a step, most first."""
        with self._conn() as c:
            rows = c.execute("SELECT option, COUNT(*) FROM predictions WHERE code = ? AND step = ? GROUP BY option "
                             "ORDER BY COUNT(*) DESC, option", (code, int(step))).fetchall()
        return {o: n for o, n in rows}

    def reset(self, code: str, teacher: str) -> None:
        """Empty the class for the next group: members, predictions and answers go; the step goes back to 1."""
        if not secrets.compare_digest(self.get(code).teacher, str(teacher)):
            raise ClassError("Only the presenter's screen resets the class.")
        with self._conn() as c:
            c.execute("BEGIN IMMEDIATE")
            for table in ("predictions", "answers", "members"):
                c.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
            c.execute("UPDATE classes SET step = 1, updated = ? WHERE code = ?", (time.time(), code))
            c.execute("COMMIT")


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
