"""The seed texts as structured dialogues.

Every seed becomes a :class:`Dialogue`: an ordered list of :class:`Turn` (speaker, turn index,
section heading, text, source file). Page furniture (audio-player lines, "Leave a Reply",
"discuss", "order", "(no title)") is dropped.

Example::

    >>> d = parse_seed("Frank: Hi.\\nDeepSeek: Hello, Frank.", "x.txt")
    >>> [(t.speaker, t.text) for t in d.turns]
    [('Frank', 'Hi.'), ('DeepSeek', 'Hello, Frank.')]
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from latent.core.assets import ASSETS
from latent.core.errors import LatentError

ASSETS = ASSETS
DIALOGUES_JSON = ASSETS / "dialogues.json"
SEEDS_DIR = ASSETS / "seeds"

MAX_USER_CHARS = 200_000  # a pasted or uploaded dialogue larger than this is refused
MAX_USER_TURNS = 500

FURNITURE = {
    "|", "getting your trinity audio player ready…", "getting your trinity audio player ready...",
    "leave a reply", "discuss", "order", "(no title)",
    "we scan new podcasts and send you the top 5 insights daily.",
    "a frank said / gpt said dialogue",
}
TITLES = {
    "000": "Frank & DeepSeek: sparse vectors",
    "001": "Thread: lossy compression and the 'queen' example",
    "002": "Frank & GPT: latent space and matrix math",
    "003": "Frank & GPT: computational economy",
    "004": "Podcast insights",
}
_SAID = re.compile(r"^(?P<speaker>[A-Z][\w .'-]{0,40}?) said:\s*$")
_COLON = re.compile(r"^(?P<speaker>[A-Z][\w'-]{0,30}(?: [A-Z][\w'-]{0,30})?):\s+(?P<text>\S.*)$")
_COMMENTER = re.compile(r"^(?P<user>[\w.-]+)\s*\|\s*\d+ \w+ ago\s*$")
_HEADING = re.compile(r"^\d{1,2}\.\s+\S.*$")


class CorpusError(LatentError):
    """A dialogue that cannot be parsed; the message says which line and why."""


@dataclass(frozen=True)
class Turn:
    """One turn: who spoke, where, and what. ``quotes`` holds lines the speaker quoted ("> ...")."""

    speaker: str
    index: int
    text: str
    source: str
    section: str | None = None
    quotes: tuple[str, ...] = ()


@dataclass
class Dialogue:
    """A titled, ordered list of turns. ``kind`` is dialogue, thread, insights or user."""

    id: str
    title: str
    kind: str
    source: str
    turns: list[Turn] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for t in d["turns"]:
            t["quotes"] = list(t["quotes"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Dialogue":
        turns = [Turn(**{**t, "quotes": tuple(t.get("quotes", ()))}) for t in d["turns"]]
        return cls(d["id"], d["title"], d["kind"], d["source"], turns)


def _clean_lines(text: str) -> list[str]:
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.lower() in FURNITURE:
            continue
        if re.fullmatch(r"top \| item \d+", line):
            continue
        out.append(line)
    return out


def _said_dialogue(lines: list[str], source: str) -> list[Turn]:
    """'Frank said:' blocks; a numbered line right before a speaker line is a section heading."""
    turns: list[Turn] = []
    speaker, buf, section = None, [], None
    nonblank = [ln for ln in lines if ln]

    def flush():
        if speaker and buf:
            turns.append(Turn(speaker, len(turns), "\n".join(buf).strip(), source, section))

    for i, line in enumerate(nonblank):
        m = _SAID.match(line)
        nxt = nonblank[i + 1] if i + 1 < len(nonblank) else ""
        if m:
            flush()
            speaker, buf = m.group("speaker"), []
        elif _HEADING.match(line) and _SAID.match(nxt):
            flush()
            speaker, buf, section = None, [], line
        elif speaker:
            buf.append(line)
    flush()
    return turns


def _colon_dialogue(lines: list[str], source: str) -> list[Turn]:
    turns: list[Turn] = []
    for line in lines:
        if not line:
            continue
        m = _COLON.match(line)
        if m:
            turns.append(Turn(m.group("speaker"), len(turns), m.group("text").strip(), source))
        elif turns:  # continuation of the previous turn
            t = turns[-1]
            turns[-1] = Turn(t.speaker, t.index, t.text + "\n" + line, source)
    return turns


def _thread(lines: list[str], source: str) -> list[Turn]:
    turns: list[Turn] = []
    user, paras, quotes = None, [], []

    def flush():
        if user and (paras or quotes):
            turns.append(Turn(user, len(turns), "\n\n".join(paras), source, None, tuple(quotes)))

    for line in lines:
        m = _COMMENTER.match(line)
        if m:
            flush()
            user, paras, quotes = m.group("user"), [], []
        elif not line or user is None:
            continue
        elif line.startswith(">"):
            quotes.append(line.lstrip("> ").strip())
        else:
            paras.append(line)
    flush()
    return turns


def parse_seed(text: str, source: str) -> Dialogue:
    """Parse one seed text, choosing the format from its content."""
    lines = _clean_lines(text)
    sid = Path(source).name[:3]
    title = TITLES.get(sid, Path(source).stem)
    if any(_SAID.match(ln) for ln in lines):
        kind, turns = "dialogue", _said_dialogue(lines, source)
    elif any(_COMMENTER.match(ln) for ln in lines):
        kind, turns = "thread", _thread(lines, source)
    elif any(_COLON.match(ln) for ln in lines):
        kind, turns = "dialogue", _colon_dialogue(lines, source)
    else:
        kind = "insights"
        turns = [Turn("Insight", i, ln, source) for i, ln in enumerate(x for x in lines if x)]
    return Dialogue(sid, title, kind, source, turns)


def build_corpus(seeds_dir: Path = SEEDS_DIR) -> list[Dialogue]:
    """Parse every ``*.txt`` seed in ``seeds_dir``, in file-name order."""
    files = sorted(Path(seeds_dir).glob("*.txt"))
    return [parse_seed(f.read_text(encoding="utf-8"), f.name) for f in files]


def write_assets(dialogues: list[Dialogue], path: Path = DIALOGUES_JSON) -> None:
    data = [d.to_dict() for d in dialogues]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_corpus(path: Path = DIALOGUES_JSON) -> list[Dialogue]:
    """The five seed dialogues as committed in ``assets/dialogues.json``."""
    return [Dialogue.from_dict(d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]


def all_turns(dialogues: list[Dialogue]) -> list[tuple[Dialogue, Turn]]:
    return [(d, t) for d in dialogues for t in d.turns if t.text.strip()]


# ---------------------------------------------------------------- user input
def _check_size(text: str) -> None:
    if len(text) > MAX_USER_CHARS:
        raise CorpusError(f"Dialogue is {len(text):,} characters; the limit is {MAX_USER_CHARS:,}.")


def parse_user_text(text: str, title: str = "Your dialogue") -> Dialogue:
    """Parse pasted ``Name: text`` lines. Every non-empty line must start with a speaker.

    >>> [t.speaker for t in parse_user_text("Ann: hi\\nBob: hello").turns]
    ['Ann', 'Bob']
    """
    _check_size(text)
    turns: list[Turn] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        m = re.match(r"^([^:]{1,40}):\s*(.*)$", line)
        if not m or not m.group(1).strip():
            raise CorpusError(f"Line {n} has no speaker. Write each turn as 'Name: text'.")
        if not m.group(2).strip():
            raise CorpusError(f"Line {n} ({m.group(1).strip()}) has a speaker but no text.")
        turns.append(Turn(m.group(1).strip(), len(turns), m.group(2).strip(), "pasted"))
    if not turns:
        raise CorpusError("The dialogue is empty. Write one turn per line as 'Name: text'.")
    if len(turns) > MAX_USER_TURNS:
        raise CorpusError(f"The dialogue has {len(turns)} turns; the limit is {MAX_USER_TURNS}.")
    return Dialogue("user", title, "user", "pasted", turns)


def parse_upload(data: bytes, filename: str) -> Dialogue:
    """Parse an uploaded .txt (``Name: text`` lines) or .json dialogue.

    JSON shape: ``{"title": str, "turns": [{"speaker": str, "text": str}, ...]}`` or just the list.
    """
    if len(data) > MAX_USER_CHARS * 4:
        raise CorpusError(f"File is {len(data):,} bytes; the limit is {MAX_USER_CHARS * 4:,}.")
    if b"\x00" in data:
        raise CorpusError(f"{filename} looks binary. Upload a UTF-8 .txt or .json file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{filename} is not valid UTF-8 (byte {e.start}).") from None
    suffix = Path(filename).suffix.lower()
    if suffix == ".txt":
        return parse_user_text(text, title=Path(filename).stem)
    if suffix != ".json":
        raise CorpusError(f"Unknown file type {suffix or '(none)'}. Must be one of: .txt, .json")
    _check_size(text)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{filename} is not valid JSON: {e.msg} at line {e.lineno}.") from None
    title = Path(filename).stem
    if isinstance(obj, dict):
        title = str(obj.get("title", title))
        obj = obj.get("turns")
    if not isinstance(obj, list) or not obj:
        raise CorpusError('JSON must be {"title": str, "turns": [{"speaker": str, "text": str}, ...]}.')
    lines = []
    for i, t in enumerate(obj):
        if not (isinstance(t, dict) and isinstance(t.get("speaker"), str) and isinstance(t.get("text"), str)):
            raise CorpusError(f'Turn {i} must be an object with string "speaker" and "text".')
        lines.append(f"{t['speaker'].replace(':', ' ').strip()}: {' '.join(t['text'].split())}")
    return parse_user_text("\n".join(lines), title=title)
