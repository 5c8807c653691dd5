"""Model work as plain values: the three request types every path uses, and the door.

A request is values and arrays in, a result out, so the same request can be computed here, by the
app's scheduler (which packs many sessions' requests into one batch) or by a remote worker:

* :class:`GenerateRequest`: rows to decode, each with its own prompt, seed and added vector
  (computed by :func:`latent.core.decode.decode_rows`);
* :class:`StatesRequest`: a hidden-state pass (:func:`latent.core.hidden.forward_requests`);
* :class:`EncodeRequest`: sentence-encoder texts (:func:`latent.core.models.embed_requests`).

A new kind of scheduled work is a request type here (``make``, ``rows``, ``key``, ``group``) and the
engine function that computes a list of them; the serving layer's table of kinds
(``latent.serving.scheduler.KINDS``) names both in one row.

**The door.** :func:`through_door` computes a request here unless this thread has a door
(:func:`set_door`): a function ``door(model, request)`` that returns where to send it (a callable
taking the request) or ``None``. The app sets one per session, so its work joins the scheduler.

**Priority.** Work is interactive (a click, a reveal) unless this thread said otherwise with
:func:`background` (the lessons' warm-up): its requests then wait while interactive work is queued.
A :class:`Priority` is mutable: an interactive caller that needs what a background computation is
computing (``lm.derived`` on the same key) promotes it (:meth:`Priority.promote`), and its remaining work
goes first from then on.

Example::

    >>> r = EncodeRequest.make(["a", "b", "a"])
    >>> r.rows, r.key() == EncodeRequest.make(["a", "b", "a"]).key()
    (3, True)
    >>> GenerateRequest.make(["I think"], [0], max_new_tokens=5).rows
    1
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GenerateRequest:
    """Rows to decode: one prompt and seed per row, and (optionally) a vector added at ``layer`` per row."""

    prompts: tuple[str, ...]
    seeds: tuple[int, ...]
    layer: int = 0                       # 0: no steering
    added: bytes = b""                   # float32 (rows, d) as bytes, so the request hashes and serialises
    max_new_tokens: int = 40
    do_sample: bool = False
    temperature: float = 0.8
    top_k: int = 50
    positions: str = "all"
    typicality: bool = False             # also score each row's text under the unsteered model

    @classmethod
    def make(cls, prompts, seeds, *, layer: int = 0, added: np.ndarray | None = None, **kw) -> GenerateRequest:
        vec = b"" if added is None else np.ascontiguousarray(added, dtype=np.float32).tobytes()
        return cls(tuple(prompts), tuple(int(s) for s in seeds), int(layer), vec, **kw)

    @property
    def rows(self) -> int:
        return len(self.prompts)

    def take(self, rows) -> GenerateRequest:
        """The request for some of its rows, in the order given (their vectors with them)."""
        rows = [int(j) for j in rows]
        added = b""
        if self.added:
            v = np.frombuffer(self.added, dtype=np.float32).reshape(self.rows, -1)
            added = np.ascontiguousarray(v[rows]).tobytes()
        return dataclasses.replace(self, prompts=tuple(self.prompts[j] for j in rows),
                                   seeds=tuple(self.seeds[j] for j in rows), added=added)

    def vectors(self, d: int) -> np.ndarray:
        if not self.added:
            return np.zeros((self.rows, d), np.float32)
        return np.frombuffer(self.added, dtype=np.float32).reshape(self.rows, d).copy()

    def key(self) -> str:
        return hashlib.sha256(repr((self.prompts, self.seeds, self.layer, self.max_new_tokens, self.do_sample,
                                    self.temperature, self.top_k, self.positions, self.typicality)).encode()
                              + self.added).hexdigest()

    def group(self) -> tuple:
        """Requests that can share one decode (``positions="first"`` needs equal prompt lengths: alone)."""
        return (self.do_sample, self.temperature, self.top_k, self.positions) if self.positions == "all" else (id(self),)


@dataclass(frozen=True)
class StatesRequest:
    """One hidden-state pass: token ids per row (start token included) and the layers to keep.
    The result is ``{layer: tensor (rows, T, d)}``, right-padded."""

    ids: tuple[tuple[int, ...], ...]
    layers: tuple[int, ...]

    @classmethod
    def make(cls, id_lists, layers) -> StatesRequest:
        return cls(tuple(tuple(int(t) for t in x) for x in id_lists), tuple(sorted({int(k) for k in layers})))

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def width(self) -> int:
        """Tokens in the longest row (the padded length of this request alone)."""
        return max(map(len, self.ids))

    def key(self) -> str:
        return hashlib.sha256(repr((self.ids, self.layers)).encode()).hexdigest()

    def group(self) -> tuple:
        return ()


@dataclass(frozen=True)
class EncodeRequest:
    """Texts for the sentence encoder; the result is their unit-length embeddings, (n, d)."""

    texts: tuple[str, ...]

    @classmethod
    def make(cls, texts) -> EncodeRequest:
        return cls(tuple(str(t) for t in texts))

    @property
    def rows(self) -> int:
        return len(self.texts)

    def key(self) -> str:
        return hashlib.sha256(repr(self.texts).encode()).hexdigest()

    def group(self) -> tuple:
        return ()


# door(model, request) -> a callable that computes the request elsewhere (the app's scheduler), or None
_DOOR: ContextVar = ContextVar("latent_model_door", default=None)


def set_door(door) -> None:
    """Route this thread's model work through ``door(model, request)``; ``None``: compute here."""
    _DOOR.set(door)


def door_for(model, request):
    """Where this thread sends ``request`` on ``model``: a callable, or ``None`` (compute here)."""
    door = _DOOR.get()
    return door(model, request) if door is not None else None


def through_door(model, request, direct):
    """``request``'s result: through this thread's door when it has one for this work, else
    ``direct([request])[0]`` here (``direct`` computes a list of requests of one type)."""
    run = door_for(model, request)
    return run(request) if run is not None else direct(model, [request])[0]


class Priority:
    """A background computation's priority, shared by the requests it submits; ``parent``: the
    computation it runs inside (promoting that one promotes this one too)."""

    def __init__(self, parent: Priority | None = None):
        self._background, self.parent = True, parent

    @property
    def background(self) -> bool:
        return self._background and (self.parent is None or self.parent.background)

    def promote(self) -> None:
        """Someone interactive waits for this computation: from now on it is interactive work."""
        self._background = False


_PRIORITY: ContextVar = ContextVar("latent_priority", default=None)     # None: interactive


def current_priority() -> Priority | None:
    """This thread's priority: ``None`` (interactive) or a :class:`Priority` (background while not promoted)."""
    return _PRIORITY.get()


def is_background() -> bool:
    p = _PRIORITY.get()
    return p is not None and p.background


@contextlib.contextmanager
def background():
    """Run the block's model work as background work (it yields to interactive work)."""
    token = _PRIORITY.set(Priority(parent=_PRIORITY.get()))
    try:
        yield _PRIORITY.get()
    finally:
        _PRIORITY.reset(token)


def child_of(priority: Priority | None) -> Priority | None:
    """A part of a background computation (one value it computes) that a waiter can promote alone;
    ``None`` for interactive work."""
    return Priority(parent=priority) if priority is not None and priority.background else None


@contextlib.contextmanager
def running_as(priority: Priority | None):
    """Run the block at ``priority`` (``None``: as the thread already runs)."""
    if priority is None:
        yield
        return
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)
