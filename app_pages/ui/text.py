"""Showing user or model text safely: never as HTML, and with markdown syntax escaped."""
from __future__ import annotations

import re

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def md_escape(text: str) -> str:
    """Escape markdown so text renders literally (no links, images, HTML or formatting)."""
    return _MD.sub(r"\\\1", str(text))
