"""The result store: a stored result equals a fresh computation, a changed parameter, model or code
version misses, eviction keeps the size cap, and two threads compute a key once."""
import threading
from types import SimpleNamespace as NS

import numpy as np
import pytest

from latent.core import store as store_mod
from latent.core.store import ResultStore, code_version


@pytest.fixture
def rs(tmp_path):
    return ResultStore(tmp_path / "store", size_mb=4)


def test_a_stored_result_equals_a_fresh_computation(rs, tiny_lm):
    from latent.senses.sets import get_builtin
    from latent.senses.study import analyze

    fresh = analyze(tiny_lm, get_builtin("queen"), ["honey hive queen"])
    stored = rs.cached("senses.analyze", {"c": "honey hive queen"}, tiny_lm,
                       lambda: analyze(tiny_lm, get_builtin("queen"), ["honey hive queen"]))
    again = rs.cached("senses.analyze", {"c": "honey hive queen"}, tiny_lm, lambda: pytest.fail("computed twice"))
    assert rs.misses == 1 and rs.hits == 1
    for r in (stored, again):
        assert r.layer == fresh.layer and r.steps[0].predicted_sense == fresh.steps[0].predicted_sense
        np.testing.assert_array_equal(r.accuracy, fresh.accuracy)
        np.testing.assert_array_equal(r.steps[0].probs, fresh.steps[0].probs)


def test_a_changed_parameter_model_or_code_misses(rs, monkeypatch):
    a, b = NS(fingerprint="aaaa"), NS(fingerprint="bbbb")
    calls = []

    def compute(v):
        return lambda: calls.append(v) or v

    assert rs.cached("f", {"x": 1}, a, compute(1)) == 1
    assert rs.cached("f", {"x": 2}, a, compute(2)) == 2          # another parameter
    assert rs.cached("f", {"x": 1}, b, compute(3)) == 3          # another model (weights)
    assert rs.cached("g", {"x": 1}, a, compute(4)) == 4          # another function
    assert rs.cached("f", {"x": 1}, a, compute(5)) == 1          # the same: stored
    monkeypatch.setattr(store_mod, "code_version", lambda: "changed")
    assert rs.cached("f", {"x": 1}, a, compute(6)) == 6          # another code version
    assert calls == [1, 2, 3, 4, 6]
    assert len(code_version()) == 16


def test_eviction_keeps_the_cap_and_drops_the_least_recently_used(tmp_path):
    rs = ResultStore(tmp_path / "small", size_mb=1)
    blob = lambda i: np.full(60_000, i, dtype=np.float32)     # noqa: E731 - 240 kB each
    for i in range(12):
        rs.cached("blob", {"i": i}, None, lambda i=i: blob(i))
        rs.cached("blob", {"i": 0}, None, lambda: pytest.fail("the most recently used result was evicted"))
    assert rs.volume() <= rs.size_limit * 1.1                 # diskcache culls on write, to the cap
    assert rs.get(rs.key("blob", {"i": 1})) is None            # an old, unused one is gone


def test_two_threads_compute_a_key_once(rs):
    calls, barrier = [], threading.Barrier(4)

    def slow():
        calls.append(1)
        threading.Event().wait(0.2)
        return "v"

    def ask():
        barrier.wait()
        assert rs.cached("slow", {}, None, slow) == "v"

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]


def test_a_value_that_cannot_be_stored_is_still_returned(rs):
    assert rs.cached("lam", {}, None, lambda: (lambda: 1))() == 1
    assert rs.get(rs.key("lam", {})) is None


def test_the_store_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("LATENT_STORE", "off")
    calls = []
    s = store_mod.store()
    s.cached("f", {}, None, lambda: calls.append(1))
    s.cached("f", {}, None, lambda: calls.append(1))
    assert calls == [1, 1]


def test_the_layer_norms_every_steering_page_needs_are_stored(tmp_path, monkeypatch):
    """typical_norms (4 s per new process on SmolLM2) is kept in the store: a new process's model object
    reads it instead of measuring, and what it reads equals a fresh measurement."""
    from latent.core.tiny import make_tiny_lm
    from latent.walk import steer

    monkeypatch.setenv("LATENT_STORE", "on")
    monkeypatch.setenv("LATENT_STORE_DIR", str(tmp_path / "store"))
    fresh = steer.typical_norms(make_tiny_lm())           # measured, and stored
    s = store_mod.store()
    hits = s.hits
    again = steer.typical_norms(make_tiny_lm())           # another model object, as in a new process
    assert s.hits == hits + 1
    np.testing.assert_array_equal(again, fresh)
    monkeypatch.setenv("LATENT_STORE", "off")             # the control: without the store it is measured
    np.testing.assert_allclose(steer.typical_norms(make_tiny_lm()), fresh, rtol=1e-6)


def test_the_memo_computes_a_key_once_across_threads_and_keeps_a_cap_per_name():
    """Two sessions asking at once for one result compute it once; one name's small cap never evicts
    another name's results (a token map's cap of 8 used to trim every kind of result)."""
    import time

    from latent.core.store import Memo

    m, calls, out = Memo(), [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return 7

    threads = [threading.Thread(target=lambda: out.append(m("fit", "queen", slow))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and out == [7, 7, 7, 7]
    for i in range(5):
        m("map", i, lambda i=i: i, max_entries=2)
    assert m("fit", "queen", lambda: "recomputed") == 7
    assert m("map", 4, lambda: "recomputed") == 4 and m("map", 0, lambda: "recomputed") == "recomputed"
