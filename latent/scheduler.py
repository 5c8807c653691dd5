"""One door to the shared model's generation work, batched across browser sessions.

Every session's steering sweep becomes a :class:`GenerateRequest`: plain values and arrays in,
a :class:`~latent.core.generate.Generation` slice out, so a remote engine could later stand behind
the same interface. One worker thread per model takes the oldest request, adds every queued
request it can decode together (up to ``MAX_ROWS`` rows), and runs them as one batched decode:
each row keeps its own prompt, seed and steering vector through the per-row plan (rows of other
requests add an exact zero). Identical requests share one computation; a cancelled ticket's rows
are dropped before they run; torch's threads are capped once.

Example::

    >>> s = scheduler_for(lm)                                                 # doctest: +SKIP
    >>> t = s.submit(GenerateRequest(("I think",), (0,), max_new_tokens=5))   # doctest: +SKIP
    >>> t.result().texts                                                      # doctest: +SKIP
    [' that the best way']
"""
from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field

import numpy as np

MAX_ROWS = 160


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
    """The queue and worker for one model (see the module docstring)."""

    def __init__(self, lm, max_rows: int = MAX_ROWS, threads: int | None = None, window_s: float = 0.25):
        self.lm, self.max_rows, self.window_s = lm, int(max_rows), float(window_s)
        self._queue: list[Ticket] = []
        self._by_key: dict[str, Ticket] = {}
        self._cv = threading.Condition()
        self._paused = False
        self.batches: list[int] = []        # distinct rows decoded per batch (for tests and the benchmark)
        self.requested: list[int] = []      # rows the batch's requests asked for
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        threading.Thread(target=self._work, daemon=True, name=f"scheduler-{lm.name}").start()

    # ---------------------------------------------------------------- the interface
    def submit(self, request: GenerateRequest) -> Ticket:
        if request.rows == 0 or request.rows > self.max_rows:
            raise ValueError(f"{request.rows} rows: a request needs 1-{self.max_rows}.")
        with self._cv:
            same = self._by_key.get(request.key())
            if same is not None and not same.future.cancelled():
                same.shared += 1              # identical request: compute once
                return same
            t = Ticket(request)
            self._queue.append(t)
            self._by_key[request.key()] = t
            self._cv.notify()
            return t

    def cancel(self, ticket: Ticket) -> bool:
        """Drop a queued ticket (a closed tab); a shared one stays while others wait on it."""
        with self._cv:
            ticket.shared -= 1
            if ticket.shared > 0 or ticket not in self._queue:
                return False
            self._queue.remove(ticket)
            self._by_key.pop(ticket.request.key(), None)
            return ticket.future.cancel()

    def position(self, ticket: Ticket) -> tuple[int, int]:
        """(requests, rows) queued ahead of this ticket; (0, 0) once its batch is running."""
        with self._cv:
            if ticket not in self._queue:
                return 0, 0
            ahead = self._queue[: self._queue.index(ticket)]
            return len(ahead), sum(t.request.rows for t in ahead)

    def run(self, request: GenerateRequest, wait=None):
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
    def _take(self) -> list[Ticket]:
        with self._cv:
            while not self._queue or self._paused:
                self._cv.wait()
            # a class presses Run within moments of each other: wait a little for their rows to join
            deadline = self._queue[0].submitted + self.window_s
            while time.perf_counter() < deadline and sum(t.request.rows for t in self._queue) < self.max_rows:
                self._cv.wait(timeout=max(0.0, deadline - time.perf_counter()))
                while self._paused:
                    self._cv.wait()
            first = self._queue[0]
            batch, rows = [], 0
            for t in list(self._queue):
                if t.request.group() == first.request.group() and rows + t.request.rows <= self.max_rows:
                    batch.append(t)
                    rows += t.request.rows
            for t in batch:
                self._queue.remove(t)
                t.future.set_running_or_notify_cancel()
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take()
            try:
                results = self._decode([t.request for t in batch], batch)
                for t, r in zip(batch, results):
                    t.future.set_result(r)
            except BaseException as e:  # noqa: BLE001 - every waiting session gets the error
                for t in batch:
                    if not t.future.done():
                        t.future.set_exception(e)
            finally:
                with self._cv:
                    for t in batch:
                        self._by_key.pop(t.request.key(), None)

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


def scheduler_for(lm, threads: int | None = None) -> Scheduler:
    """The one scheduler of a model (made on first use, kept on the model object)."""
    return lm.derived("scheduler", lambda: Scheduler(lm, threads=threads))


__all__ = ["CancelledError", "GenerateRequest", "MAX_ROWS", "Scheduler", "Ticket", "scheduler_for"]
