"""The offline training text: what needs no download. The seed dialogues' turns (``latent.core.corpus``), Python's
own ``pydoc_data.topics`` (the language reference's help topics, PSF licence, in every Python install) cut into
chunks of paragraphs, and the app's sense and walk sentences (``assets/``). ``concepts build --texts offline``
trains on it; :func:`sources` gives the count per source for the card's record."""
from __future__ import annotations

import json

from latent.core.corpus import ASSETS, all_turns, load_corpus

CHUNK_CHARS = 1500


def chunk_paragraphs(paragraphs, limit: int = CHUNK_CHARS, *, hard: bool = False, sep: str = " ") -> list[str]:
    """Paragraphs (whitespace folded, blank ones skipped) packed in order into chunks of at most ``limit``
    characters; a paragraph longer than ``limit`` is its own chunk, or with ``hard`` cut at word boundaries."""
    out, cur = [], ""
    for para in (" ".join(str(p).split()) for p in paragraphs):
        if not para:
            continue
        pieces = [para]
        if hard and len(para) > limit:
            pieces, piece = [], ""
            for w in para.split(" "):
                if piece and len(piece) + 1 + len(w) > limit:
                    pieces.append(piece)
                    piece = ""
                piece = f"{piece} {w}".strip()
            pieces.append(piece)
        for para in pieces:
            if cur and len(cur) + len(para) > limit:
                out.append(cur)
                cur = ""
            cur = f"{cur}{sep}{para}".strip()
    if cur:
        out.append(cur)
    return out


def _pydoc_chunks(limit: int = CHUNK_CHARS) -> list[str]:
    from pydoc_data.topics import topics  # noqa: PLC0415 - stdlib data, only for a build

    return [c for name in sorted(topics) for c in chunk_paragraphs(topics[name].split("\n\n"), limit)]


def _asset_sentences() -> list[str]:
    out = []
    for s in json.loads((ASSETS / "senses.json").read_text(encoding="utf-8")):     # not senses_heldout.json: the
        for sents in s.get("senses", {}).values():                                # Senses page's own held-out check
            out.extend(sents)
    out.extend(json.loads((ASSETS / "walk_neutral.json").read_text(encoding="utf-8")).get("texts", []))
    for p in json.loads((ASSETS / "walk_presets.json").read_text(encoding="utf-8")):
        for k in ("positive", "negative"):
            out.extend(p.get(k, []) if isinstance(p.get(k), list) else [])
    return [" ".join(str(t).split()) for t in out if str(t).strip()]


def sources() -> dict[str, list[str]]:
    """Each offline source's texts, one line each (newlines folded to spaces)."""
    return {"seed dialogue turns": [" ".join(t.text.split()) for _, t in all_turns(load_corpus())],
            "pydoc_data.topics (PSF)": _pydoc_chunks(),
            "sense and walk sentences (assets/)": _asset_sentences()}


def offline_texts() -> list[str]:
    """Every offline source's texts, in a fixed order."""
    return [t for texts in sources().values() for t in texts]
