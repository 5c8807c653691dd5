"""One door to the shared models' work, batched across browser sessions.

Requests are plain values and arrays in, results out, so a remote engine could later stand behind
the same interface. Three kinds, each with its own queue and worker thread:

* :class:`GenerateRequest`: a session's steering sweep. The worker takes the oldest request, adds
  every queued request it can decode together (up to ``MAX_ROWS`` rows) and runs one batched
  decode: each row keeps its own prompt, seed and steering vector through the per-row plan (rows of
  other requests add an exact zero); rows equal in prompt, seed and vector decode once.
* :class:`StatesRequest`: a hidden-state pass (pages route :func:`core.hidden.forward_batch` here);
  passes from many sessions are packed into one padded forward pass.
* :class:`EncodeRequest`: sentence-encoder texts (pages route :func:`core.models.embed` here); one
  encoder call for all queued texts, each distinct text once.

Identical requests share one computation; a cancelled ticket (a closed tab: see ``wait`` in
:meth:`Scheduler.run` and :func:`route_model_work`) is dropped before it runs; torch's
threads are capped once.

Example::

    >>> s = scheduler_for(lm)                                                 # doctest: +SKIP
    >>> t = s.submit(GenerateRequest(("I think",), (0,), max_new_tokens=5))   # doctest: +SKIP
    >>> t.result().texts                                                      # doctest: +SKIP
    [' that the best way']
"""
from __future__ import annotations

import functools
import hashlib
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

import numpy as np

MAX_ROWS = 160
MAX_STATE_TOKENS = 8192      # padded tokens per shared hidden-state pass (each request is at most 4096)
MAX_TEXTS = 1024             # texts per shared encoder call
LM_KINDS, ENCODER_KINDS = ("generate", "states"), ("encode",)


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
    fluency: bool = False                # also score each row's text under the unsteered model
    kind = "generate"

    @classmethod
    def make(cls, prompts, seeds, *, layer: int = 0, added: np.ndarray | None = None, **kw) -> "GenerateRequest":
        vec = b"" if added is None else np.ascontiguousarray(added, dtype=np.float32).tobytes()
        return cls(tuple(prompts), tuple(int(s) for s in seeds), int(layer), vec, **kw)

    @property
    def rows(self) -> int:
        return len(self.prompts)

    def vectors(self, d: int) -> np.ndarray:
        if not self.added:
            return np.zeros((self.rows, d), np.float32)
        return np.frombuffer(self.added, dtype=np.float32).reshape(self.rows, d).copy()

    def key(self) -> str:
        return hashlib.sha256(repr((self.prompts, self.seeds, self.layer, self.max_new_tokens, self.do_sample,
                                    self.temperature, self.top_k, self.positions)).encode() + self.added).hexdigest()

    def group(self) -> tuple:
        """Requests that can share one decode (``positions="first"`` needs equal prompt lengths: alone)."""
        return (self.do_sample, self.temperature, self.top_k, self.positions) if self.positions == "all" else (id(self),)


@dataclass(frozen=True)
class StatesRequest:
    """One hidden-state pass: token ids per row (start token included) and the layers to keep.
    The result is ``{layer: tensor (rows, T, d)}``, right-padded, as :func:`core.hidden.forward_batch`
    returns it."""

    ids: tuple[tuple[int, ...], ...]
    layers: tuple[int, ...]
    kind = "states"

    @classmethod
    def make(cls, id_lists, layers) -> "StatesRequest":
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
        return ("states",)


@dataclass(frozen=True)
class EncodeRequest:
    """Texts for the sentence encoder; the result is their unit-length embeddings, (n, d)."""

    texts: tuple[str, ...]
    kind = "encode"

    @classmethod
    def make(cls, texts) -> "EncodeRequest":
        return cls(tuple(str(t) for t in texts))

    @property
    def rows(self) -> int:
        return len(self.texts)

    def key(self) -> str:
        return hashlib.sha256(repr(self.texts).encode()).hexdigest()

    def group(self) -> tuple:
        return ("encode",)


@dataclass(eq=False)
class Ticket:
    """A submitted request: its future, its place in the queue and the decode's progress."""

    request: GenerateRequest
    future: Future = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    progress: tuple[int, int] = (0, 0)      # (tokens decoded, tokens wanted) once its batch runs
    shared: int = 1                         # sessions waiting on this computation

    def result(self, timeout: float | None = None):
        return self.future.result(timeout)

    def done(self) -> bool:
        return self.future.done()


class Scheduler:
    """The queues and workers (one per kind of request) for one model (see the module docstring)."""

    def __init__(self, lm, max_rows: int = MAX_ROWS, threads: int | None = None, window_s: float = 0.25,
                 max_tokens: int = MAX_STATE_TOKENS, kinds=LM_KINDS):
        self.lm, self.max_rows, self.window_s, self.max_tokens = lm, int(max_rows), float(window_s), int(max_tokens)
        self._queues: dict[str, list[Ticket]] = {k: [] for k in kinds}
        self._running: dict[str, list[Ticket]] = {k: [] for k in kinds}   # the batch each worker is computing
        self._by_key: dict[str, Ticket] = {}
        self._cv = threading.Condition()
        self._paused = False
        self.batches: list[int] = []        # distinct rows decoded per batch (for tests and the benchmark)
        self.requested: list[int] = []      # rows the batch's requests asked for
        self.state_batches: list[int] = []  # requests packed per hidden-state pass
        self.encode_batches: list[tuple[int, int]] = []  # (texts asked for, distinct texts encoded) per call
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        # one worker per kind: a page's short hidden-state pass does not wait behind a class's long decode
        name = getattr(lm, "name", type(lm).__name__)
        for kind in self._queues:
            threading.Thread(target=self._work, args=(kind,), daemon=True, name=f"scheduler-{kind}-{name}").start()

    # ---------------------------------------------------------------- the interface
    def submit(self, request: "GenerateRequest | StatesRequest | EncodeRequest") -> Ticket:
        if request.kind not in self._queues:
            raise ValueError(f"Unknown request kind {request.kind!r}. Must be one of: {', '.join(self._queues)}")
        if request.rows == 0 or (request.kind == "generate" and request.rows > self.max_rows):
            raise ValueError(f"{request.rows} rows: a request needs 1-{self.max_rows}.")
        with self._cv:
            same = self._by_key.get(request.key())
            if same is not None and not same.future.cancelled():
                same.shared += 1              # identical request: compute once
                return same
            t = Ticket(request)
            self._queues[request.kind].append(t)
            self._by_key[request.key()] = t
            self._cv.notify_all()       # two workers wait on this condition: wake both
            return t

    def cancel(self, ticket: Ticket) -> bool:
        """Drop a queued ticket (a closed tab); a shared one stays while others wait on it."""
        with self._cv:
            ticket.shared -= 1
            queue = self._queues[ticket.request.kind]
            if ticket.shared > 0 or ticket not in queue:
                return False
            queue.remove(ticket)
            self._by_key.pop(ticket.request.key(), None)
            return ticket.future.cancel()

    def position(self, ticket: Ticket) -> tuple[int, int]:
        """(requests, rows) queued ahead of this ticket; (0, 0) once its batch is running."""
        with self._cv:
            queue = self._queues[ticket.request.kind]
            if ticket not in queue:
                return 0, 0
            ahead = queue[: queue.index(ticket)]
            return len(ahead), sum(t.request.rows for t in ahead)

    def busy(self, ticket: Ticket) -> tuple[int, tuple[int, int]]:
        """For a queued ticket: (rows, progress) of the batch its worker is computing now, which it
        waits behind; (0, (0, 0)) when that worker is idle or the ticket's own batch is the one running."""
        with self._cv:
            batch = self._running[ticket.request.kind]
            if not batch or ticket in batch:
                return 0, (0, 0)
            return sum(t.request.rows for t in batch), batch[0].progress

    def run(self, request: "GenerateRequest | StatesRequest | EncodeRequest", wait=None):
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
        """Pause the worker (tests: let requests pile up so they share a batch)."""
        return _Hold(self)

    # ---------------------------------------------------------------- the worker
    def states(self, id_lists, layers, wait=None) -> dict:
        """A hidden-state pass through the queue (what :func:`core.hidden.forward_batch` calls when
        the app routes model work here): ``{layer: tensor (rows, T, d)}``. ``wait`` as in :meth:`run`."""
        return self.run(StatesRequest.make(id_lists, layers), wait=wait)

    def encode(self, texts, wait=None) -> np.ndarray:
        """Sentence embeddings through the queue (what :func:`core.models.embed` calls when the app
        routes model work here): (n, d), unit length. ``wait`` as in :meth:`run`."""
        return self.run(EncodeRequest.make(texts), wait=wait)

    def _take(self, kind: str) -> list[Ticket]:
        queue = self._queues[kind]
        with self._cv:
            while not queue or self._paused:
                self._cv.wait()
            if kind == "generate":
                # a class presses Run within moments of each other: wait a little for their rows to join
                deadline = queue[0].submitted + self.window_s
                while time.perf_counter() < deadline and sum(t.request.rows for t in queue) < self.max_rows:
                    self._cv.wait(timeout=max(0.0, deadline - time.perf_counter()))
                    while self._paused:
                        self._cv.wait()
            first = queue[0]
            batch, rows, width = [], 0, 0
            for t in list(queue):
                r = t.request
                if r.group() != first.request.group():
                    continue
                if kind == "generate":
                    if rows + r.rows > self.max_rows:
                        continue
                elif kind == "encode":
                    if batch and rows + r.rows > MAX_TEXTS:
                        continue
                elif batch and (rows + r.rows) * max(width, r.width) > self.max_tokens:
                    continue                   # hidden-state passes: bounded by padded tokens
                batch.append(t)
                rows += r.rows
                width = max(width, r.width) if kind == "states" else 0
            for t in batch:
                queue.remove(t)
                t.future.set_running_or_notify_cancel()
            self._running[kind] = batch
            return batch

    def _work(self, kind: str) -> None:
        run = {"generate": self._decode, "states": self._forward, "encode": self._embed}[kind]
        while True:
            batch = self._take(kind)
            try:
                results = run([t.request for t in batch], batch)
                for t, r in zip(batch, results):
                    t.future.set_result(r)
            except BaseException as e:  # noqa: BLE001 - every waiting session gets the error
                for t in batch:
                    if not t.future.done():
                        t.future.set_exception(e)
            finally:
                with self._cv:
                    self._running[kind] = []
                    for t in batch:
                        self._by_key.pop(t.request.key(), None)

    def _forward(self, requests: list[StatesRequest], tickets: list[Ticket]):
        """One right-padded forward pass for several sessions' hidden-state requests (the union of
        their layers, stopping after the deepest); each gets its own rows, width and layers back."""
        from latent.core.hidden import direct_forward

        self.state_batches.append(len(requests))
        ids = [list(x) for r in requests for x in r.ids]
        hs = direct_forward(self.lm, ids, sorted({k for r in requests for k in r.layers}))
        out, o = [], 0
        for r in requests:
            out.append({k: hs[k][o:o + r.rows, :r.width].clone() for k in r.layers})
            o += r.rows
        return out

    def _embed(self, requests: list[EncodeRequest], tickets: list[Ticket]):
        """One encoder call for several sessions' texts, each distinct text once (a class's unsteered
        baselines and random-direction rows often write the same texts)."""
        from latent.core.models import direct_embed

        distinct = list(dict.fromkeys(t for r in requests for t in r.texts))
        self.encode_batches.append((sum(r.rows for r in requests), len(distinct)))
        E = direct_embed(self.lm, distinct)
        where = {t: i for i, t in enumerate(distinct)}
        return [E[[where[t] for t in r.texts]] for r in requests]

    def _decode(self, requests: list[GenerateRequest], tickets: list[Ticket]):
        """One batched decode of the requests' distinct rows. Two rows are the same computation when
        prompt, seed, layer and added vector match (a zero vector is no steering): a class on one
        lesson prompt shares its unsteered baselines and its random-direction null rows."""
        from latent.core.generate import Generation, continuation_logprobs, generate
        from latent.core.hooks import Plan, use
        from latent.steering.steer import rows_plan

        lm = self.lm
        d = lm.d_model
        rows, vecs = [], {}                    # per requested row: its distinct row; distinct row -> vector
        for r in requests:
            V = r.vectors(d)
            for p, sd, v in zip(r.prompts, r.seeds, V):
                steered = r.layer > 0 and bool(v.any())
                key = (p, sd, r.layer if steered else 0, v.tobytes() if steered else b"")
                vecs.setdefault(key, v)
                rows.append(key)
        distinct = list(vecs)
        where = {k: i for i, k in enumerate(distinct)}
        index = [where[k] for k in rows]      # requested row -> distinct row
        n_new = max(r.max_new_tokens for r in requests)
        plan = Plan()
        for layer in sorted({k[2] for k in distinct if k[2] > 0}):
            added = np.stack([vecs[k] if k[2] == layer else np.zeros(d, np.float32) for k in distinct])
            plan = plan.merged(rows_plan(lm, layer, added, requests[0].positions))
        self.batches.append(len(distinct))
        self.requested.append(len(rows))

        def tick(step, _texts):
            for t in tickets:
                t.progress = (min(step + 1, t.request.max_new_tokens), t.request.max_new_tokens)
        first = requests[0]
        with use(plan):
            g = generate(lm, [k[0] for k in distinct], max_new_tokens=n_new, do_sample=first.do_sample,
                         temperature=first.temperature, top_k=first.top_k, seeds=[k[1] for k in distinct],
                         on_token=tick)
        eos = lm.tokenizer.eos_token_id
        offsets = np.cumsum([0] + [r.rows for r in requests])
        toks = []                              # per requested row, cut to its request's length
        for r, o in zip(requests, offsets):
            toks += [g.token_ids[index[j]][: r.max_new_tokens] for j in range(o, o + r.rows)]
        # unsteered scoring of the texts, batched too (no plan here); a (row, length) pair is scored once
        want = sorted({(index[j], len(toks[j])) for r, o in zip(requests, offsets) if r.fluency
                       for j in range(o, o + r.rows)})
        score = {}
        for s in range(0, len(want), 32):
            part = want[s:s + 32]
            lp = continuation_logprobs(lm, [g.prompt_ids[i] for i, _ in part], [g.token_ids[i][:n] for i, n in part])
            score.update(zip(part, lp))
        out = []
        for r, o in zip(requests, offsets):
            js = range(o, o + r.rows)
            mine = [toks[j] for j in js]
            texts = [lm.tokenizer.decode([x for x in t if x != eos], skip_special_tokens=True) for t in mine]
            fluency = np.array([score.get((index[j], len(toks[j])), np.nan) for j in js], dtype=float)
            out.append(Generation(texts, mine, [g.prompt_ids[index[j]] for j in js],
                                  g.first_logprobs[[index[j] for j in js]], g.seconds, sum(map(len, mine)),
                                  {"batch_rows": len(distinct), "fluency": fluency}))
        return out


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
            _encoders[id(encoder)] = Scheduler(encoder, kinds=ENCODER_KINDS)
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


def _door(kind: str, model, wait=None):
    """What :func:`core.models.door_for` asks: the scheduler's entry for this work, or None (compute
    in the caller's thread) for a model the app does not serve."""
    if kind == "states" and getattr(model, "_derived", {}).get("served", False):
        return functools.partial(scheduler_for(model).states, wait=wait)
    if kind == "encode" and id(model) in _served_encoders:
        return functools.partial(encoder_scheduler(model).encode, wait=wait)
    return None


def route_model_work(wait=None) -> None:
    """From now on in this thread (a session's script run), hidden-state passes of served models go
    through their scheduler, and so do sentence-encoder calls of the served encoder; called by every page.
    ``wait(ticket)`` is called every 0.2 s while such a request waits; if it raises (the session's
    browser went away), the queued request is dropped."""
    from latent.core.models import set_door

    set_door(functools.partial(_door, wait=wait) if wait is not None else _door)


__all__ = ["CancelledError", "EncodeRequest", "GenerateRequest", "MAX_ROWS", "Scheduler", "StatesRequest", "Ticket", "route_model_work",
           "encoder_scheduler", "scheduler_for", "serve", "serve_encoder"]
