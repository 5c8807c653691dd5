"""Showing user or model text safely: never as HTML, and with markdown syntax escaped."""
from __future__ import annotations

import re

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md_escape(text: str) -> str:
    """Escape markdown so text renders literally (no links, images, HTML or formatting)."""
    return _MD.sub(r"\\\1", str(text))


def plain_md(text) -> str:
    """Text as a markdown code span: shown exactly as written, never as a link, an image, HTML or math
    (a bare address is not linked inside a code span). The fence is one backtick longer than the
    longest run of backticks in the text, and newlines become spaces.

    >>> plain_md("[x](http://evil)"), plain_md("a`b")
    ('`[x](http://evil)`', '``a`b``')
    """
    s = " ".join(str(text).split("\n"))
    runs = [len(r) for r in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (s.startswith(" ") and s.endswith(" ") and s.strip()) else ""
    return f"{fence}{pad}{s}{pad}{fence}" if s else ""
