"""The one table of scheduled kinds (:data:`KINDS`), apart from the scheduler that serves them and the
backends that compute them, so that both look a kind up here and neither imports the other for it.

A :class:`Batcher` row names its request type, its kind, the engine function that computes a list of
such requests (``"module:function"``, imported when a batch runs), its pool and its batch limits; a new
kind of scheduled work is a request type and its engine function in core plus one ``@register``-ed row
(here, or in any module imported before the schedulers are made). :mod:`latent.serving.scheduler`
batches the requests of each kind; :mod:`latent.serving.backends` computes a batch, in this process or
on a Ray worker that receives the kind's name.
"""
from __future__ import annotations

import importlib
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

from latent.core.requests import EncodeRequest, GenerateRequest, StatesRequest

MAX_ROWS = 160
MAX_STATE_TOKENS = 8192      # padded tokens per shared hidden-state pass (each request is at most 4096)
MAX_TEXTS = 1024             # texts per shared encoder call


@dataclass(eq=False)
class Ticket:
    """A submitted request: its future, its place in the queue and the decode's progress."""

    request: object
    future: Future = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    progress: tuple[int, int] = (0, 0)      # (tokens decoded, tokens wanted) once its batch runs
    shared: int = 1                         # sessions waiting on this computation
    notes: list = field(default_factory=list)   # what the backend has to tell its sessions (a lost worker)
    partial: list | None = None             # a decode's texts so far, one per row (in-process backend)
    abandoned: bool = False                 # every session waiting on it went away while it ran
    priority: object = None                 # None: interactive; a Priority: background while not promoted
    started: float | None = None            # when its batch began computing

    @property
    def background(self) -> bool:
        return self.priority is not None and self.priority.background

    def result(self, timeout: float | None = None):
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


class Batcher:
    """One kind of scheduled work: a row of :data:`KINDS`. The class names its ``request_type``, its
    ``kind`` (the name a Ray worker looks the row up by) and ``core``, the engine function that computes
    a list of such requests (``"module:function"``, imported when a batch runs, or the function itself);
    ``pool`` says which model's scheduler serves it (``"lm"``: a language model's, ``"encoder"``: the
    sentence encoder's) and ``door`` whether a page's requests of this kind go through it when the model
    is served (``latent.serving.scheduler.route_model_work``). ``fits(batch, request)`` says whether ``request`` may join the
    requests already taken; ``compute(model, requests, tickets)`` returns one result per request (a
    backend calls it)."""

    request_type: type = object
    kind: str = ""
    core: object = ""                      # "module:function" or a function(model, requests, **hooks) -> list
    pool: str = "lm"
    door: bool = True
    split: bool = False                    # a Ray backend splits the batch's rows over its workers (decode)
    step_hook: str | None = None           # the core function's per-step callback a worker counts progress with
    window_s: float = 0.0                  # wait this long after the oldest request for others to join

    def __init__(self, scheduler):           # the latent.serving.scheduler.Scheduler that serves this kind
        self.s = scheduler

    @classmethod
    def function(cls):
        """The engine function of this kind (imported on first use: torch stays out of this module)."""
        core = cls.core
        if isinstance(core, str):
            module, _, name = core.partition(":")
            return getattr(importlib.import_module(module), name)
        return core

    @classmethod
    def remote(cls, model, requests: list, tick=None) -> list:
        """What a worker runs: the engine function, with ``tick(step, texts)`` as its per-step callback."""
        hooks = {cls.step_hook: tick} if cls.step_hook and tick is not None else {}
        return cls.function()(model, requests, **hooks)

    @classmethod
    def size(cls, requests: list, results: list) -> int:
        """What one call computed, as a worker's history counts it (requests; decode: distinct rows)."""
        return len(requests)

    def cap(self) -> int | None:
        """The most rows one request may ask for (``None``: any)."""
        return None

    def fits(self, batch: list, request) -> bool:
        return True

    def full(self, queue: list) -> bool:
        return False

    def hooks(self, tickets: list) -> dict:
        """Keyword arguments for the engine function in this process (decode: progress and cancelling)."""
        return {}

    def compute(self, model, requests: list, tickets: list) -> list:
        out = self.function()(model, requests, **self.hooks(tickets))
        self.note(requests, out)
        return out

    def note(self, requests: list, results: list) -> None:
        """Count what one batch computed (for tests and the benchmarks); every backend calls it."""


KINDS: dict[str, type[Batcher]] = {}     # kind -> its Batcher class: the one table of scheduled kinds


def register(batcher: type[Batcher]) -> type[Batcher]:
    """Add a row to :data:`KINDS` (a class decorator). A kind's name and request type are its own.
    Schedulers made from now on serve it (``scheduler_for`` keeps the one it made first)."""
    taken = {b.request_type: k for k, b in KINDS.items()}
    if not batcher.kind or batcher.kind in KINDS or batcher.request_type in taken:
        raise ValueError(f"Kind {batcher.kind!r} of {batcher.request_type.__name__}: its name and request type "
                         f"must be new (taken: {', '.join(KINDS)}).")
    KINDS[batcher.kind] = batcher
    return batcher


def row_for(request_type: type) -> type[Batcher] | None:
    """The row of :data:`KINDS` for this request type, or ``None``."""
    return next((b for b in KINDS.values() if b.request_type is request_type), None)


def kinds(pool: str) -> tuple[type[Batcher], ...]:
    """The rows one model's scheduler serves (``"lm"`` or ``"encoder"``)."""
    return tuple(b for b in KINDS.values() if b.pool == pool)


@register
class DecodeBatcher(Batcher):
    request_type, kind, core = GenerateRequest, "decode", "latent.core.decode:decode_rows"
    # the pages' sweeps pass their runner explicitly (it shows the queue); a sweep without one (a lesson's
    # fact, in a reveal or the warm-up) comes through the door
    split, step_hook = True, "on_token"

    def __init__(self, scheduler):
        super().__init__(scheduler)
        self.window_s = scheduler.window_s   # a class presses Run within moments of each other

    @classmethod
    def size(cls, requests, results):
        return results[0].extra["batch_rows"]

    def cap(self):
        return self.s.max_rows

    def distinct_rows(self, requests) -> int:
        """Rows the batch decodes (equal rows once). A class's sweeps on one lesson prompt share their
        baselines and random directions, so most of its requested rows are the same few; the cap used to
        count requested rows, and 8 such sessions went out as 4 batches, one after the other."""
        from latent.core.decode import row_keys  # noqa: PLC0415 - torch: see the module docstring

        return len({k for k, _ in row_keys(list(requests), self.s.lm.d_model)})

    def fits(self, batch, request):
        return self.distinct_rows([t.request for t in batch] + [request]) <= self.s.max_rows

    def full(self, queue):
        return self.distinct_rows(t.request for t in queue) >= self.s.max_rows

    def hooks(self, tickets):
        def tick(step, per_request):
            if tickets and all(t.abandoned for t in tickets):
                raise CancelledError("Every session of this batch went away: the decode stopped.")
            for t, texts in zip(tickets, per_request):
                t.progress = (min(step + 1, t.request.max_new_tokens), t.request.max_new_tokens)
                t.partial = texts
            self.s.yield_to_interactive(tickets)      # a background decode pauses here while interactive work waits
        return {"on_rows": tick}

    def note(self, requests, results):
        self.s.batches.append(results[0].extra["batch_rows"])
        self.s.requested.append(sum(r.rows for r in requests))


@register
class StatesBatcher(Batcher):
    request_type, kind, core = StatesRequest, "states", "latent.core.hidden:forward_requests"

    def fits(self, batch, request):          # bounded by padded tokens
        rows = sum(t.request.rows for t in batch) + request.rows
        width = max([t.request.width for t in batch] + [request.width])
        return not batch or rows * width <= self.s.max_tokens

    def note(self, requests, results):
        self.s.state_batches.append(len(requests))


@register
class EncodeBatcher(Batcher):
    request_type, kind, core = EncodeRequest, "encode", "latent.core.models:embed_requests"
    pool = "encoder"

    def fits(self, batch, request):
        return not batch or sum(t.request.rows for t in batch) + request.rows <= MAX_TEXTS

    def note(self, requests, results):
        self.s.encode_batches.append((sum(r.rows for r in requests), len({t for r in requests for t in r.texts})))
