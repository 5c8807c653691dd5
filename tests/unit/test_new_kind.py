"""A new kind of scheduled work is one request type, one engine function and one row of the scheduler's
table of kinds (``latent.serving.kinds.KINDS``). The toy kind below is defined here and nowhere
else: registered, it is batched by the scheduler, a page's request of it goes through the door to a
served model's scheduler, and a Ray worker (the actor class itself, no Ray) computes it by its name."""
import contextvars
import hashlib
from dataclasses import dataclass

import pytest

from latent.core.requests import through_door
from latent.serving import backends, kinds
from latent.serving.scheduler import Batcher, Scheduler, register, route_model_work, row_for, scheduler_for, serve


# ---------------------------------------------------------------- the new kind: what "core" would hold
@dataclass(frozen=True)
class CountRequest:
    """Texts whose tokens the model's tokenizer counts; the result is one count per text."""

    texts: tuple[str, ...]

    @classmethod
    def make(cls, texts) -> "CountRequest":
        return cls(tuple(str(t) for t in texts))

    @property
    def rows(self) -> int:
        return len(self.texts)

    def key(self) -> str:
        return hashlib.sha256(repr(self.texts).encode()).hexdigest()

    def group(self) -> tuple:
        return ()


CALLS: list[tuple[int, int]] = []          # (requests, distinct texts) per call of the engine function


def count_requests(model, requests) -> list:
    """One call for several requests' texts, each distinct text tokenized once."""
    distinct = list(dict.fromkeys(t for r in requests for t in r.texts))
    CALLS.append((len(requests), len(distinct)))
    n = {t: len(model.tokenizer(t)["input_ids"]) for t in distinct}
    return [[n[t] for t in r.texts] for r in requests]


# ---------------------------------------------------------------- the new kind: its one row
class CountBatcher(Batcher):
    request_type, kind, core = CountRequest, "count", f"{__name__}:count_requests"

    def __init__(self, s):
        super().__init__(s)
        s.count_batches = []                # what each batch computed, kept on its scheduler (tests)

    def note(self, requests, results):
        self.s.count_batches.append(len(requests))


@pytest.fixture()
def toy_kind(monkeypatch):
    """The row registered for one test and taken out after it, so the other tests never see it."""
    CALLS.clear()
    yield register(CountBatcher)
    kinds.KINDS.pop(CountBatcher.kind, None)


def test_a_new_kind_is_one_row_and_the_scheduler_batches_it(tiny_lm, toy_kind):
    assert row_for(CountRequest) is CountBatcher and CountBatcher in kinds.kinds("lm")
    with pytest.raises(ValueError, match="must be new"):
        register(CountBatcher)                                  # a kind's name and request type are its own
    s = Scheduler(tiny_lm)
    a, b = CountRequest.make(["the queen bee", "a hive"]), CountRequest.make(["a hive", "honey and wax"])
    with s.hold():
        ta, tb, again = s.submit(a), s.submit(b), s.submit(CountRequest.make(["the queen bee", "a hive"]))
        assert s.queued(CountRequest) == 2 and again is ta and ta.shared == 2     # identical: computed once
    got = [ta.result(timeout=60), tb.result(timeout=60)]
    assert s.count_batches == [2] and CALLS == [(2, 3)]         # one call for both sessions, each text once
    assert got == [count_requests(tiny_lm, [r])[0] for r in (a, b)]
    assert got[0][0] > got[0][1] > 0                            # real counts: three words, then two
    big = s.run(CountRequest.make(["x"] * 500))                 # no row cap unless the row sets one
    assert len(big) == 500 > s.max_rows and big == count_requests(tiny_lm, [CountRequest.make(["x"])])[0] * 500
    assert s.count_batches == [2, 1]


def test_a_pages_request_of_the_new_kind_goes_through_the_door(toy_kind):
    """With the door set, a served model's request goes through its scheduler; a model the app does not
    serve computes it in the caller's thread (and never gets a scheduler)."""
    from latent.core.tiny import make_tiny_lm

    lm, other = make_tiny_lm(seed=7), make_tiny_lm(seed=8)     # new models: their schedulers have the row
    req = CountRequest.make(["the queen bee"])
    out = {}

    def session():
        route_model_work()
        serve(lm)
        out["served"] = through_door(lm, req, count_requests)
        out["other"] = through_door(other, req, count_requests)
    contextvars.copy_context().run(session)
    assert scheduler_for(lm).count_batches == [1] and "scheduler" not in other._derived
    assert out["served"] == out["other"] == count_requests(lm, [req])[0]


def test_a_ray_worker_computes_the_new_kind_by_its_name(tiny_lm, toy_kind, monkeypatch):
    """The worker is sent the kind's name and looks its engine function up in the same table."""
    import torch

    monkeypatch.setattr(backends, "load_spec", lambda spec, device: tiny_lm)
    threads = torch.get_num_threads()
    try:
        worker = backends.ModelWorker(1)
    finally:
        torch.set_num_threads(threads)      # the worker sets its process's threads; this is ours
    reqs = [CountRequest.make(["the queen bee", "a hive"]), CountRequest.make(["honey"])]
    assert worker.run({"kind": "tiny", "seed": 0}, "count", reqs) == count_requests(tiny_lm, reqs)
    assert worker.history() == [("count", 2)]
    with pytest.raises(backends.BackendError, match="No worker computes 'nothing'"):
        worker.run({"kind": "tiny", "seed": 0}, "nothing", reqs)
