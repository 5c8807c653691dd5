"""One content-addressed result store on disk, shared by every session, the CLI and restarts.

A result that depends only on the model, the inputs and a seed is computed once and kept, keyed by
the model's weight fingerprint, the function's name, its parameters and the code version (a hash of
this package's source, so any code change starts afresh). The store is a ``diskcache.Cache`` (SQLite
plus files) with a size cap and least-recently-used eviction.

``$LATENT_STORE_DIR`` moves it (default: the cache dir's ``results/``), ``$LATENT_STORE_MB`` sets the
cap (default 1024), ``LATENT_STORE=off`` turns it off. Values are pickled: the store lives in the
user's own cache dir and holds only what this app wrote there.

Example::

    >>> import tempfile
    >>> s = ResultStore(tempfile.mkdtemp(), size_mb=1)
    >>> calls = []
    >>> s.cached("demo.square", {"x": 3}, None, lambda: calls.append(1) or 9)
    9
    >>> s.cached("demo.square", {"x": 3}, None, lambda: calls.append(1) or 9), len(calls)
    (9, 1)
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import diskcache

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parents[1]
DEFAULT_MB = 1024


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of every source file of the ``latent`` package and the shipped assets it reads (lessons,
    sense sets, presets): results computed by other code are never served."""
    h = hashlib.sha256()
    roots = [PACKAGE, PACKAGE.parent / "assets"]
    for root in roots:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if p.suffix in (".py", ".json") and p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _canonical(params) -> str:
    """Parameters as canonical JSON (sorted keys; tuples as lists; anything else by its repr)."""
    return json.dumps(params, sort_keys=True, default=repr, ensure_ascii=False)


class ResultStore:
    def __init__(self, path: str | Path, size_mb: float = DEFAULT_MB):
        self.path = str(path)
        self.size_limit = int(size_mb * 2 ** 20)
        self.cache = diskcache.Cache(self.path, size_limit=self.size_limit, eviction_policy="least-recently-used",
                                     cull_limit=1)     # evict one at a time (10 emptied a small store at once)
        self.hits = self.misses = 0
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def key(self, name: str, params, model=None) -> str:
        """The address of a result: function name, parameters, the model's weight fingerprint, code version."""
        fp = getattr(model, "fingerprint", None) if model is not None else None
        raw = _canonical({"fn": name, "params": params, "model": fp, "code": code_version()})
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str, default=None):
        return self.cache.get(key, default=default)

    def cached(self, name: str, params, model, compute):
        """``compute()`` once per (name, params, model, code); later calls (any session, process or
        restart) read it back. Two threads asking for the same key compute it once."""
        key = self.key(name, params, model)
        missing = object()
        value = self.cache.get(key, default=missing)
        if value is not missing:
            self.hits += 1
            return value
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            value = self.cache.get(key, default=missing)
            if value is not missing:
                self.hits += 1
                return value
            self.misses += 1
            value = compute()
            try:
                self.cache.set(key, value)
            except (pickle.PicklingError, TypeError, AttributeError) as e:     # kept in memory by the caller only
                log.warning("result %s not stored: %s", name, e)
            return value

    def volume(self) -> int:
        """Bytes on disk now (the cap evicts least-recently-used results beyond ``size_limit``)."""
        return int(self.cache.volume())

    def clear(self) -> None:
        self.cache.clear()


class _Off:
    """The store when ``LATENT_STORE=off``: computes every time."""

    hits = misses = 0

    def cached(self, name, params, model, compute):
        return compute()

    def get(self, key, default=None):
        return default


_STORES: dict[str, ResultStore] = {}
_STORES_LOCK = threading.Lock()


def store():
    """The process's result store (one per directory)."""
    if os.environ.get("LATENT_STORE", "").lower() in ("off", "0", "no"):
        return _Off()
    from latent.core.models import cache_dir  # noqa: PLC0415 - models imports torch; the store need not

    path = os.environ.get("LATENT_STORE_DIR") or str(cache_dir() / "results")
    with _STORES_LOCK:
        if path not in _STORES:
            _STORES[path] = ResultStore(path, float(os.environ.get("LATENT_STORE_MB", DEFAULT_MB)))
        return _STORES[path]


class Memo:
    """Results kept in this process, shared by every session: one least-recently-used table per name,
    each with its own cap, and one computation per key at a time (a second caller asking for a key
    being computed waits for it instead of computing it again). For results with a progress bar, which
    the disk store's callers wrap, or too cheap to write to disk.

    >>> m, calls = Memo(), []
    >>> [m("square", 3, lambda: calls.append(1) or 9) for _ in range(2)], len(calls)
    ([9, 9], 1)
    """

    def __init__(self):
        self._tables: dict[str, OrderedDict] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def _get(self, name, key, missing):
        table = self._tables.setdefault(name, OrderedDict())
        if key in table:
            table.move_to_end(key)
            return table[key]
        return missing

    def __call__(self, name: str, key, fn, max_entries: int = 24):
        missing = object()
        with self._lock:
            value = self._get(name, key, missing)
            if value is not missing:
                return value
            lock = self._locks.setdefault((name, key), threading.Lock())
        with lock:
            with self._lock:
                value = self._get(name, key, missing)
            if value is not missing:
                return value
            try:
                value = fn()
                with self._lock:
                    table = self._tables.setdefault(name, OrderedDict())
                    table[key] = value
                    while len(table) > max_entries:
                        table.popitem(last=False)
                return value
            finally:                            # a failed computation (a bad input) leaves no lock behind
                with self._lock:
                    self._locks.pop((name, key), None)


memo = Memo()
"""The process's memo (see :class:`Memo`)."""
