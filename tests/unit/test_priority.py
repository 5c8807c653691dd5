"""Interactive work first: a background warm-up's model work yields to a click or a reveal, and no lock is
held across a computation kept on the model (``lm.derived``)."""
import os
import sys
import threading
import time
from types import SimpleNamespace as NS

import numpy as np
import pytest

from latent.core.requests import background, is_background
from latent.serving.scheduler import GenerateRequest, Scheduler, StatesRequest


def _long(lm, rows=8, tokens=48):
    g = np.random.default_rng(1)
    return GenerateRequest.make(["the queen bee"] * rows, list(range(rows)), layer=1,
                                added=g.normal(size=(rows, lm.d_model)), max_new_tokens=tokens, do_sample=True)


def _finished_in_order(*tickets):
    order, lock = [], threading.Lock()
    for name, t in tickets:
        t.future.add_done_callback(lambda _f, name=name: (lock.acquire(), order.append(name), lock.release()))
    return order


def test_an_interactive_request_queued_with_a_background_warm_up_finishes_first(tiny_lm):
    s = Scheduler(tiny_lm, window_s=0.0)
    with s.hold():                                   # both queued together; the warm-up's came first
        with background():
            warm = s.submit(_long(tiny_lm))
        click = s.submit(GenerateRequest.make(["a hive of"], [3], max_new_tokens=6, do_sample=True))
        page = s.submit(StatesRequest.make([[1, 5, 7, 9]], [1]))       # another kind: a new student's page
        assert warm.background and not click.background and not page.background
        assert s.position(warm) == (1, 1) and s.position(click) == (0, 0)   # the interactive request is ahead
    order = _finished_in_order(("warm", warm), ("click", click), ("page", page))
    assert click.result(timeout=60).texts and page.result(timeout=60) and warm.result(timeout=60).texts
    assert sorted(order[:2]) == ["click", "page"] and order[2] == "warm"


def test_a_running_background_decode_pauses_while_an_interactive_one_decodes(tiny_lm):
    s = Scheduler(tiny_lm, window_s=0.0)
    with background():
        warm = s.submit(_long(tiny_lm, tokens=120))
    deadline = time.time() + 30
    while warm.progress[0] < 2 and time.time() < deadline:    # the warm-up's decode is under way
        time.sleep(0.005)
    assert 2 <= warm.progress[0] < 120
    click = s.submit(GenerateRequest.make(["a hive of"], [3], max_new_tokens=6, do_sample=True))
    order = _finished_in_order(("warm", warm), ("click", click))
    assert click.result(timeout=60).texts and warm.result(timeout=60).texts
    assert order == ["click", "warm"]
    assert sorted(s.batches) == [1, 8]            # two batches: the click did not wait for the warm-up's


def test_an_interactive_caller_of_the_same_request_promotes_the_warm_ups(tiny_lm):
    s = Scheduler(tiny_lm, window_s=0.0)
    req = _long(tiny_lm, rows=2, tokens=4)
    with s.hold():
        with background():
            warm = s.submit(req)
        assert warm.background
        same = s.submit(req)
        assert same is warm and not warm.background and warm.shared == 2
    assert warm.result(timeout=60).texts


def test_derived_computes_two_keys_at_once_and_one_key_once(tiny_lm):
    """Two different keys compute concurrently (each waits for the other to start: with a lock held
    across the computation this hangs); callers of one key share one computation."""
    a_in, b_in = threading.Event(), threading.Event()

    def a():
        a_in.set()
        assert b_in.wait(10), "key b never started while key a computed: a lock is held across compute"
        return "a"

    def b():
        b_in.set()
        assert a_in.wait(10), "key a never started while key b computed: a lock is held across compute"
        return "b"
    out, calls = {}, []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return len(calls)
    threads = [threading.Thread(target=lambda k=k, f=f: out.__setitem__(k, tiny_lm.derived(("prio-test", k), f)))
               for k, f in (("a", a), ("b", b))]
    threads += [threading.Thread(target=lambda i=i: out.__setitem__(("same", i), tiny_lm.derived(("prio-test", "same"), slow)))
                for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not any(th.is_alive() for th in threads)
    assert out["a"] == "a" and out["b"] == "b"
    assert calls == [1] and {out[("same", i)] for i in range(4)} == {1}     # computed once, shared by all four


def test_derived_after_a_failed_computation_the_waiter_computes_it(tiny_lm):
    started, release = threading.Event(), threading.Event()

    def fails():
        started.set()
        release.wait(10)
        raise RuntimeError("boom")
    errors = []
    th = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, tiny_lm.derived, ("prio-fail",), fails)))
    th.start()
    assert started.wait(10)
    waiter = threading.Thread(target=lambda: errors.append(tiny_lm.derived(("prio-fail",), lambda: "second")))
    waiter.start()
    time.sleep(0.1)
    release.set()
    th.join(10)
    waiter.join(10)
    assert "second" in errors and tiny_lm.peek(("prio-fail",)) == "second"


def test_an_interactive_caller_of_a_derived_key_promotes_the_background_computation(tiny_lm):
    """The warm-up computes a lesson's answer as background work; a reveal asks for the same answer: the
    warm-up's queued model work becomes interactive (it goes first), and the reveal gets the one result."""
    s = Scheduler(tiny_lm, window_s=0.0)
    req = _long(tiny_lm, rows=2, tokens=4)
    key, out = ("prio-promote",), {}
    with s.hold():
        def warm_up():
            with background():
                assert is_background()
                out["warm"] = tiny_lm.derived(key, lambda: s.run(req).texts)
        w = threading.Thread(target=warm_up)
        w.start()
        deadline = time.time() + 10
        while not s.queued(GenerateRequest) and time.time() < deadline:
            time.sleep(0.005)
        ticket = s._by_key[req.key()]
        assert ticket.background
        r = threading.Thread(target=lambda: out.__setitem__("reveal", tiny_lm.derived(key, lambda: "computed twice")))
        r.start()
        deadline = time.time() + 10
        while ticket.background and time.time() < deadline:
            time.sleep(0.005)
        assert not ticket.background                  # promoted by the reveal that waits for it
    w.join(60)
    r.join(60)
    assert out["reveal"] == out["warm"] and out["warm"] != "computed twice"


def test_the_warm_up_is_background_work_and_says_how_many_answers_are_ready(tiny_lm, monkeypatch):
    from latent.lessons import warm

    seen = []
    lesson = NS(id="prio-lesson", steps=[NS(fact={"name": "a"}), NS(fact=None), NS(fact={"name": "b"}),
                                         NS(fact={"name": "c"})])

    def compute(lm, fact, encoder=None):
        seen.append((fact["name"], is_background(), warm.warm_status(lm, lesson).note()))
        if fact["name"] == "c":
            raise ValueError("no")
        return {"answer": "x"}
    monkeypatch.setattr(warm, "compute_fact", compute)
    assert warm.warm_status(tiny_lm, lesson) is None
    assert warm.warm_answers(tiny_lm, lesson) == 2
    assert seen == [("a", True, "answers ready: 0 of 3 (computing a…)"), ("b", True, "answers ready: 1 of 3 (computing b…)"),
                    ("c", True, "answers ready: 2 of 3 (computing c…)")]
    status = warm.warm_status(tiny_lm, lesson)
    assert not status.running and status.note() == "answers ready: 2 of 3, 1 failed (its reveal computes it again)"
    assert not is_background()                        # only the warm-up's own work was background


def test_a_reveal_is_told_its_progress_and_the_time_left():
    from app_pages.ui.queue import answer_note

    decode = NS(progress=(10, 40), started=0.0, request=NS(rows=96))
    assert answer_note("Computing the answer on the model…", 30.0, [decode], now=20.0) == (
        0.25, "Computing the answer on the model… 30 s · decoding 96 rows: token 10 of 40 · about 60 s left")
    assert answer_note("Computing", 3.0, [NS(progress=(0, 0), started=1.0, request=NS(rows=1))]) == (
        0.0, "Computing… 3 s · model passes running")
    assert answer_note("Computing", 3.0, []) == (0.0, "Computing… 3 s")


def _nice(thread) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread.native_id)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_background_workers_run_at_lower_cpu_priority_and_the_interactive_ones_do_not(tiny_lm, monkeypatch):
    from latent.serving import scheduler

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base >= 19:
        pytest.skip(f"this test process already runs at nice {base}")
    want = scheduler.BACKGROUND_NICE if base < scheduler.BACKGROUND_NICE else base + 1   # e.g. under `nice -n 10`
    monkeypatch.setenv("LATENT_BACKGROUND_NICE", str(want))
    before = set(threading.enumerate())
    s = Scheduler(tiny_lm, window_s=0.0)
    with background():                               # a background batch ran: its worker lowered itself first
        assert s.submit(GenerateRequest.make(["a hive of"], [3], max_new_tokens=2)).result(timeout=60).texts
    time.sleep(0.2)                                  # the other background worker has started too
    workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("scheduler-")]
    back = [t for t in workers if "-background-" in t.name]
    front = [t for t in workers if t not in back]
    assert len(back) == len(front) == 2
    assert {_nice(t) for t in back} == {want}
    assert {_nice(t) for t in front} == {base}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_lower_priority_changes_only_the_calling_thread_and_can_be_turned_off(monkeypatch):
    from latent.serving.scheduler import lower_priority

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base >= 19:
        pytest.skip(f"this test process already runs at nice {base}")
    lower = max(15, base + 1)
    got = {}

    def worker(key, nice):
        got[key] = (lower_priority(nice), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        got[key + " again"] = lower_priority(nice)    # already as nice: nothing to do
    monkeypatch.setenv("LATENT_BACKGROUND_NICE", "0")
    for key, nice in (("lower", lower), ("off", None)):
        t = threading.Thread(target=worker, args=(key, nice))
        t.start()
        t.join()
    assert got == {"lower": (True, lower), "lower again": False, "off": (False, base), "off again": False}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base      # the caller's thread is untouched


def test_the_app_server_does_not_collect_all_garbage_after_every_script_run():
    """Streamlit's default full collection after each run held the GIL ~0.3 s with a model loaded: a class
    reruns its pages every 2 s, and the health check waited behind it (docs/measurements.md, 2026-12-07)."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
