"""One door to the shared models' work, batched across browser sessions.

Requests are the plain values of :mod:`latent.core.requests`. The scheduler keeps one queue and one
worker per kind of request. :data:`KINDS` is the one table of scheduled kinds: a :class:`Batcher`
class per kind carries its request type, its kind's name, the engine function that computes a list of
such requests, which model's scheduler serves it and how many requests one batch may hold. The
scheduler's door (:func:`route_model_work`) and the Ray workers (:mod:`latent.serving.backends`) look
the kind up there; a backend (:class:`InProcess`, the default, or a Ray pool when configured) runs
the batch. Three kinds today:

* :class:`DecodeBatcher` for :class:`GenerateRequest` (a session's steering sweep): waits a moment
  for a class's requests to join, then one :func:`latent.core.decode.decode_rows` call (rows equal
  in prompt, seed and vector decode once);
* :class:`StatesBatcher` for :class:`StatesRequest`: passes from many sessions packed into one
  padded forward (:func:`latent.core.hidden.forward_requests`), bounded by padded tokens;
* :class:`EncodeBatcher` for :class:`EncodeRequest`: one encoder call, each distinct text once.

**Interactive first.** A request submitted from a thread running :func:`latent.core.requests.background`
(the lessons' warm-up) is background work. Each kind has two workers: the interactive one takes only
interactive requests; the background one takes a batch only while no interactive request is queued or
running (any kind), and a background decode pauses between tokens while there is. A background
computation that an interactive caller needs (an identical request, or the same ``lm.derived`` key)
is promoted and goes first from then on. The background workers (and the app's warm-up thread) also
ask the operating system to run them after everything else (:func:`lower_priority`, Linux's nice per
thread): torch's threads that such a worker starts inherit it, so the page scripts and the server's
event loop (the health check, a new student's page) get the CPU first on a loaded machine.

A new kind of scheduled work is a request type and its compute function in core plus one row here
(a ``@register``-ed :class:`Batcher` subclass naming them). Identical requests share one computation;
a cancelled ticket (a closed tab: see ``wait`` in :meth:`Scheduler.run` and :func:`route_model_work`)
is dropped before it runs; torch's threads are capped once. The engine's model code (torch) is
imported by the batch that runs it, not with this module: every page's frame routes its work here
before Home draws its first map.

Example::

    >>> s = scheduler_for(lm)                                                 # doctest: +SKIP
    >>> t = s.submit(GenerateRequest.make(["I think"], [0], max_new_tokens=5))  # doctest: +SKIP
    >>> t.result().texts                                                      # doctest: +SKIP
    [' that the best way']
"""
from __future__ import annotations

import functools
import os
import threading
import time
from concurrent.futures import CancelledError

import numpy as np

from latent.core.requests import EncodeRequest, GenerateRequest, StatesRequest, current_priority, set_door
from latent.serving.backends import InProcess, current_backend
from latent.serving.kinds import (  # noqa: F401 - the table's names, re-exported for the scheduler's callers
    KINDS,
    MAX_ROWS,
    MAX_STATE_TOKENS,
    MAX_TEXTS,
    Batcher,
    DecodeBatcher,
    EncodeBatcher,
    StatesBatcher,
    Ticket,
    kinds,
    register,
    row_for,
)


class Scheduler:
    """The queues and workers (one per kind of request) for one model (see the module docstring)."""

    def __init__(self, lm, max_rows: int = MAX_ROWS, threads: int | None = None, window_s: float = 0.25,
                 max_tokens: int = MAX_STATE_TOKENS, batchers=None, backend=None):
        self.lm, self.max_rows, self.window_s, self.max_tokens = lm, int(max_rows), float(window_s), int(max_tokens)
        self.backend = backend or current_backend()
        self._batchers = {b.request_type: b(self) for b in (kinds("lm") if batchers is None else batchers)}
        self._queues: dict[type, list[Ticket]] = {k: [] for k in self._batchers}
        self._running: dict[type, list[Ticket]] = {k: [] for k in self._batchers}  # the batch each worker computes
        self._background: dict[type, list[Ticket]] = {k: [] for k in self._batchers}  # ... each background worker
        self._by_key: dict[str, Ticket] = {}
        self._cv = threading.Condition()
        self._paused = False
        self.batches: list[int] = []        # distinct rows decoded per batch (for tests and the benchmark)
        self.requested: list[int] = []      # rows the batch's requests asked for
        self.state_batches: list[int] = []  # requests packed per hidden-state pass
        self.encode_batches: list[tuple[int, int]] = []  # (texts asked for, distinct texts encoded) per call
        if threads:
            import torch  # noqa: PLC0415 - see the module docstring

            torch.set_num_threads(int(threads))
        # one worker per kind: a page's short hidden-state pass does not wait behind a class's long decode
        name = getattr(lm, "name", type(lm).__name__)
        # and one background worker per kind, which takes work only while no interactive work waits
        for kind in self._queues:
            threading.Thread(target=self._work, args=(kind,), daemon=True,
                             name=f"scheduler-{kind.__name__}-{name}").start()
            threading.Thread(target=self._work, args=(kind, True), daemon=True,
                             name=f"scheduler-{kind.__name__}-background-{name}").start()

    def serves(self, request) -> bool:
        return type(request) in self._batchers

    # ---------------------------------------------------------------- the interface
    def submit(self, request) -> Ticket:
        kind = type(request)
        if kind not in self._queues:
            raise ValueError(f"Unknown request type {kind.__name__}. Must be one of: "
                             f"{', '.join(k.__name__ for k in self._queues)}")
        cap = self._batchers[kind].cap()
        if request.rows == 0 or (cap is not None and request.rows > cap):
            raise ValueError(f"{request.rows} rows: a request needs 1-{self.max_rows}.")
        priority = current_priority()
        with self._cv:
            same = self._by_key.get(request.key())
            if same is not None and not same.future.cancelled():
                same.shared += 1              # identical request: compute once
                if same.background and not (priority is not None and priority.background):
                    same.priority = None      # an interactive session waits on it now: it goes first
                    self._cv.notify_all()
                return same
            t = Ticket(request, priority=priority)
            self._queues[kind].append(t)
            self._by_key[request.key()] = t
            self._cv.notify_all()       # several workers wait on this condition: wake them all
            return t

    def cancel(self, ticket: Ticket) -> bool:
        """Drop a queued ticket (a closed tab, a Cancel click); a shared one stays while others wait on it.
        A running decode stops at its next token once every ticket of its batch is abandoned."""
        with self._cv:
            ticket.shared -= 1
            queue = self._queues[type(ticket.request)]
            kind = type(ticket.request)
            if ticket.shared <= 0 and (ticket in self._running[kind] or ticket in self._background[kind]):
                ticket.abandoned = True       # running: a decode whose sessions all left stops at its next token
            if ticket.shared > 0 or ticket not in queue:
                return False
            queue.remove(ticket)
            self._by_key.pop(ticket.request.key(), None)
            return ticket.future.cancel()

    def position(self, ticket: Ticket) -> tuple[int, int]:
        """(requests, rows) queued ahead of this ticket (interactive ones go before background ones);
        (0, 0) once its batch is running."""
        with self._cv:
            queue = self._queues[type(ticket.request)]
            if ticket not in queue:
                return 0, 0
            i = queue.index(ticket)
            ahead = ([t for t in queue if not t.background] + queue[:i] if ticket.background
                     else [t for t in queue[:i] if not t.background])
            ahead = list(dict.fromkeys(a for a in ahead if a is not ticket))
            return len(ahead), sum(t.request.rows for t in ahead)

    def queued(self, request_type: type) -> int:
        """Requests of this type waiting (not yet in a running batch)."""
        with self._cv:
            return len(self._queues.get(request_type, []))

    def busy(self, ticket: Ticket) -> tuple[int, tuple[int, int]]:
        """For a queued ticket: (rows, progress) of the batch its worker is computing now, which it
        waits behind; (0, (0, 0)) when that worker is idle or the ticket's own batch is the one running."""
        with self._cv:
            batch = (self._background if ticket.background else self._running)[type(ticket.request)]
            if not batch or ticket in batch:
                return 0, (0, 0)
            return sum(t.request.rows for t in batch), batch[0].progress

    def interactive_work(self) -> bool:
        """Whether an interactive request is queued or computing (background work waits meanwhile)."""
        with self._cv:
            return self._interactive()

    def _interactive(self) -> bool:
        return (any(not t.background for q in self._queues.values() for t in q)
                or any(not t.background for b in (*self._running.values(), *self._background.values()) for t in b))

    def running(self) -> list[Ticket]:
        """The tickets of every batch computing now (interactive and background), for progress notes."""
        with self._cv:
            return [t for b in (*self._running.values(), *self._background.values()) for t in b]

    def yield_to_interactive(self, batch: list[Ticket]) -> None:
        """Called by a running batch between its steps: a background batch waits here while interactive
        work is queued or computing (it goes on once promoted, or once its sessions all left)."""
        with self._cv:
            while (batch and all(t.background and not t.abandoned for t in batch) and
                   self._interactive_besides(batch)):
                self._cv.wait(timeout=0.5)

    def _interactive_besides(self, batch) -> bool:
        mine = set(map(id, batch))
        return (any(not t.background for q in self._queues.values() for t in q)
                or any(not t.background and id(t) not in mine
                       for b in (*self._running.values(), *self._background.values()) for t in b))

    def run(self, request, wait=None):
        """Submit and wait; ``wait(ticket)`` is called every 0.2 s (a page shows the queue there; if it
        raises, e.g. because the browser went away, the ticket is cancelled)."""
        t = self.submit(request)
        try:
            while not t.done():
                if wait is not None:
                    wait(t)
                try:
                    return t.result(timeout=0.2)
                except TimeoutError:
                    continue
            return t.result()
        except BaseException:
            if not t.done():
                self.cancel(t)
            raise

    def hold(self):
        """Pause the workers (tests: let requests pile up so they share a batch)."""
        return _Hold(self)

    def states(self, id_lists, layers, wait=None) -> dict:
        """A hidden-state pass through the queue: ``{layer: tensor (rows, T, d)}``."""
        return self.run(StatesRequest.make(id_lists, layers), wait=wait)

    def encode(self, texts, wait=None) -> np.ndarray:
        """Sentence embeddings through the queue: (n, d), unit length."""
        return self.run(EncodeRequest.make(texts), wait=wait)

    # ---------------------------------------------------------------- the workers
    def _eligible(self, kind: type, background: bool) -> list[Ticket]:
        """The queued tickets this kind's worker may take now: the interactive worker takes interactive
        ones; the background worker background ones, and only while no interactive work waits or runs."""
        if self._paused:
            return []
        mine = [t for t in self._queues[kind] if t.background == background]
        return [] if background and mine and self._interactive() else mine

    def _take(self, kind: type, background: bool = False) -> list[Ticket]:
        queue, batcher = self._queues[kind], self._batchers[kind]
        with self._cv:
            while not (ready := self._eligible(kind, background)):
                self._cv.wait(timeout=0.5 if queue else None)    # a queued ticket may be promoted meanwhile
            deadline = ready[0].submitted + batcher.window_s
            while time.perf_counter() < deadline and not batcher.full(ready):
                self._cv.wait(timeout=max(0.0, deadline - time.perf_counter()))
                while not (ready := self._eligible(kind, background)):
                    self._cv.wait(timeout=0.5)
            first = ready[0]
            batch = []
            for t in ready:
                if t.request.group() == first.request.group() and batcher.fits(batch, t.request):
                    batch.append(t)
            now = time.perf_counter()
            for t in batch:
                queue.remove(t)
                t.started = now
                t.future.set_running_or_notify_cancel()
            (self._background if background else self._running)[kind] = batch
            return batch

    def _work(self, kind: type, background: bool = False) -> None:
        if background:
            lower_priority()            # before its first batch: the torch threads it starts inherit it
        batcher = self._batchers[kind]
        running = self._background if background else self._running
        while True:
            batch = self._take(kind, background)
            try:
                results = self.backend.run(batcher, self.lm, [t.request for t in batch], batch)
                for t, r in zip(batch, results):
                    t.future.set_result(r)
            except BaseException as e:  # noqa: BLE001 - every waiting session gets the error
                for t in batch:
                    if not t.future.done():
                        t.future.set_exception(e)
            finally:
                with self._cv:
                    running[kind] = []
                    for t in batch:
                        self._by_key.pop(t.request.key(), None)
                    self._cv.notify_all()     # background work may go on now


BACKGROUND_NICE = 10       # the nice value of background threads; ``LATENT_BACKGROUND_NICE`` (0: off)


def lower_priority(nice: int | None = None) -> bool:
    """Run the calling thread (and the threads it starts from now on, e.g. torch's) at lower CPU priority:
    Linux's nice value ``nice`` (default ``LATENT_BACKGROUND_NICE``, else :data:`BACKGROUND_NICE`) for this
    thread only. For threads that only do background work: it cannot be undone without privileges. A no-op
    (False) elsewhere, when off (0), or when the thread is already as nice."""
    if nice is None:
        nice = int(os.environ.get("LATENT_BACKGROUND_NICE", BACKGROUND_NICE))
    if nice <= 0 or not hasattr(os, "setpriority") or not os.uname().sysname == "Linux":
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) >= nice:
            return False
        os.setpriority(os.PRIO_PROCESS, tid, nice)      # on Linux, a thread id: this thread alone
        return True
    except OSError:
        return False


class _Hold:
    def __init__(self, s: Scheduler):
        self.s = s

    def __enter__(self):
        with self.s._cv:
            self.s._paused = True
        return self.s

    def __exit__(self, *exc):
        with self.s._cv:
            self.s._paused = False
            self.s._cv.notify_all()


_encoders: dict[int, Scheduler] = {}
_encoders_lock = threading.Lock()


def scheduler_for(lm, threads: int | None = None) -> Scheduler:
    """The one scheduler of a model (made on first use, kept on the model object)."""
    return lm.derived("scheduler", lambda: Scheduler(lm, threads=threads))


def encoder_scheduler(encoder) -> Scheduler:
    """The one scheduler of a sentence encoder (made on first use)."""
    with _encoders_lock:
        if id(encoder) not in _encoders:
            _encoders[id(encoder)] = Scheduler(encoder, batchers=kinds("encoder"))
        return _encoders[id(encoder)]


_served_encoders: dict[int, object] = {}     # id -> the encoder (kept, so its id is never reused)


def serve(lm) -> None:
    """Mark ``lm`` as one the app serves to every session: its model work goes through its scheduler
    (only served models: a model made for one experiment, e.g. a random-init copy, computes directly)."""
    lm.derived("served", lambda: True)


def serve_encoder(encoder) -> None:
    """The same for the shared sentence encoder."""
    with _encoders_lock:
        _served_encoders[id(encoder)] = encoder


def _door(model, request, wait=None):
    """What :func:`latent.core.requests.door_for` asks: the scheduler's entry for this request (its kind's
    row in :data:`KINDS` says whether pages' requests of it go through the door, and which model's
    scheduler serves it), or None (compute in the caller's thread) for a model the app does not serve."""
    row = row_for(type(request))
    if row is None or not row.door:
        return None
    if row.pool == "lm" and getattr(model, "_derived", {}).get("served", False):
        return functools.partial(scheduler_for(model).run, wait=wait)
    if row.pool == "encoder" and id(model) in _served_encoders:
        return functools.partial(encoder_scheduler(model).run, wait=wait)
    return None


def route_model_work(wait=None) -> None:
    """From now on in this thread (a session's script run), hidden-state passes of served models go
    through their scheduler, and so do sentence-encoder calls of the served encoder; called by every page.
    ``wait(ticket)`` is called every 0.2 s while such a request waits; if it raises (the session's
    browser went away), the queued request is dropped."""
    set_door(functools.partial(_door, wait=wait))


__all__ = ["CancelledError", "EncodeRequest", "GenerateRequest", "MAX_ROWS", "Scheduler", "StatesRequest", "Ticket",
           "Batcher", "DecodeBatcher", "StatesBatcher", "EncodeBatcher", "KINDS", "register", "row_for", "kinds",
           "InProcess", "route_model_work", "lower_priority",
           "encoder_scheduler", "scheduler_for", "serve", "serve_encoder"]
