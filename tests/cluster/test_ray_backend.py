"""The Ray backend (a local 2-worker cluster, tiny models): the scheduler's own identity tests run
against it unchanged, rows are split evenly and identical rows decode once cluster-wide, a worker
killed mid-batch is retried with every request answered once, a closed tab's queued rows never reach
the cluster, a wrong model is refused, and an unreachable address falls back with a note."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"          # loopback only (RECIPES): before Ray is imported
ray = pytest.importorskip("ray", reason="the cluster extra is not installed (make cluster)")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit"))

from test_scheduler import (  # noqa: E402,F401 - the scheduler's own tests, run here against Ray
    requests,
    solo,
    test_a_cancelled_session_is_dropped,
    test_a_shared_batch_gives_every_row_its_solo_result,
    test_an_error_reaches_every_waiting_session,
    test_hidden_state_passes_from_many_sessions_share_one_pass,
    test_identical_requests_compute_once,
    test_identical_rows_of_different_requests_decode_once,
    test_the_sweep_through_the_scheduler_equals_the_direct_sweep,
)

from latent.core.tiny import make_tiny_lm  # noqa: E402
from latent.serving import backends  # noqa: E402
from latent.serving.backends import LOST_NOTE, BackendError, RayBackend, make_backend  # noqa: E402
from latent.serving.scheduler import GenerateRequest, InProcess, Scheduler  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def ray_backend():
    if ray.is_initialized():
        ray.shutdown()
    b = make_backend("ray-local:2")
    yield b
    ray.shutdown()


@pytest.fixture()
def sched(tiny_lm, ray_backend):
    """The imported scheduler tests get a scheduler whose backend is the 2-worker Ray pool."""
    return Scheduler(tiny_lm, backend=ray_backend)


def test_workers_use_their_one_cpu_and_the_apps_weights(tiny_lm, ray_backend):
    info = ray_backend.describe(tiny_lm)
    assert info["name"] == "ray-local:2" and info["workers"] == 2
    assert {w["fingerprint"] for w in info["per_worker"]} == {tiny_lm.fingerprint}
    assert [w["threads"] for w in info["per_worker"]] == [1, 1]     # torch threads = the CPUs Ray gave
    assert len({p for p in ray.get([w.pid.remote() for w in ray_backend.workers])}) == 2


def test_distinct_rows_split_evenly_and_equal_rows_decode_once_cluster_wide(tiny_lm, ray_backend):
    d = tiny_lm.d_model
    g = np.random.default_rng(3)
    vec = g.normal(size=(1, d)) * 3
    # 6 rows, 2 of them equal to earlier ones (same prompt, seed, vector): 4 distinct rows, 2 per worker
    a = GenerateRequest.make(["the queen", "a hive", "the queen"], [1, 2, 1], layer=2, added=np.repeat(vec, 3, 0),
                             max_new_tokens=6, do_sample=True, typicality=True)
    b = GenerateRequest.make(["the queen", "honey", "wax"], [1, 3, 4], layer=2, added=np.repeat(vec, 3, 0),
                             max_new_tokens=6, do_sample=True, typicality=True)
    s = Scheduler(tiny_lm, backend=ray_backend)
    before = [len(h) for h in ray_backend.history()]
    with s.hold():
        ta, tb = s.submit(a), s.submit(b)
    ga, gb = ta.result(timeout=120), tb.result(timeout=120)
    new = [h[n:] for h, n in zip(ray_backend.history(), before)]
    assert [sum(r for k, r in h if k == "decode") for h in new] == [2, 2]
    assert s.batches == [4] and s.requested == [6]
    assert ga.texts[0] == ga.texts[2] == gb.texts[0]
    inproc = Scheduler(tiny_lm, backend=InProcess())
    for r, got in ((a, ga), (b, gb)):
        ref = inproc.run(r)
        assert got.token_ids == ref.token_ids
        np.testing.assert_allclose(got.extra["typicality"], ref.extra["typicality"], atol=1e-5)


def test_a_worker_killed_mid_batch_is_retried_and_every_request_answered_once(tiny_lm, ray_backend):
    d = tiny_lm.d_model
    g = np.random.default_rng(4)
    reqs = [GenerateRequest.make([f"bee {i}"] * 4, [i, i + 10, i + 20, i + 30], layer=1,
                                 added=g.normal(size=(4, d)) * 2, max_new_tokens=200, do_sample=True)
            for i in range(4)]
    s = Scheduler(tiny_lm, backend=ray_backend)
    ray_backend.prepare(tiny_lm)
    victim = ray_backend.workers[0]
    with s.hold():
        tickets = [s.submit(r) for r in reqs]
    deadline = time.time() + 60                      # wait until the victim is decoding, then kill it
    while ray.get(victim.progress.remote())[0] < 2 and time.time() < deadline:
        time.sleep(0.02)
    lost = ray_backend.lost
    ray.kill(victim, no_restart=False)               # Ray restarts the actor; its rows go to the other
    answers = [t.result(timeout=300) for t in tickets]
    assert ray_backend.lost == lost + 1
    for t, r, got in zip(tickets, reqs, answers):
        assert t.future.done() and not t.future.cancelled()
        assert got.token_ids == solo(tiny_lm, r).token_ids        # the retried rows equal in-process ones
        assert got.extra["notes"] == [LOST_NOTE] and LOST_NOTE in t.notes
    assert s.batches == [16]                         # one batch, answered once
    deadline = time.time() + 60                      # the restarted worker serves again
    while time.time() < deadline:
        try:
            ray.get(victim.pid.remote(), timeout=5)
            break
        except Exception:  # noqa: BLE001 - still restarting
            time.sleep(0.5)
    ray_backend.loaded.clear()
    assert ray_backend.describe(tiny_lm)["per_worker"][0]["fingerprint"] == tiny_lm.fingerprint


def test_a_closed_tabs_queued_rows_never_reach_the_cluster(tiny_lm, ray_backend):
    a, b, c = requests(tiny_lm)
    s = Scheduler(tiny_lm, backend=ray_backend)
    before = [len(h) for h in ray_backend.history()]
    with s.hold():
        ta, tb, tc = s.submit(a), s.submit(b), s.submit(c)
        assert s.cancel(tb)
    ta.result(timeout=120), tc.result(timeout=120)
    assert tb.future.cancelled() and s.requested == [a.rows + c.rows]
    new = [x for h, n in zip(ray_backend.history(), before) for x in h[n:]]
    assert sum(r for k, r in new if k == "decode") == a.rows + c.rows     # b's 3 rows never sent


def test_a_worker_with_other_weights_is_refused(ray_backend):
    other = make_tiny_lm(seed=1)
    other._derived["load_spec"] = {"kind": "tiny", "family": "llama", "seed": 0, "n_layers": 3}  # says seed 0
    with pytest.raises(BackendError, match="refused"):
        ray_backend.prepare(other)


def test_threads_of_the_scheduler_share_the_pool(tiny_lm, ray_backend):
    """Decode and hidden-state workers call the pool at once; both are answered."""
    from latent.core.hidden import encode
    s = Scheduler(tiny_lm, backend=ray_backend)
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("gen", s.run(requests(tiny_lm)[0])))
    th.start()
    st = s.states([encode(tiny_lm, "the queen bee")[0]], [1, 2])
    th.join(timeout=120)
    assert sorted(st) == [1, 2] and out["gen"].texts


def test_an_unreachable_cluster_falls_back_in_process_with_a_note(monkeypatch):
    monkeypatch.setenv("LATENT_BACKEND", "ray://127.0.0.1:9")
    monkeypatch.setattr(backends, "_BACKEND", None)
    monkeypatch.setattr(backends, "_NOTE", None)
    b = backends.current_backend()
    assert isinstance(b, InProcess)
    assert "Cannot reach the Ray cluster at 127.0.0.1:9" in backends.backend_note()
    assert "in this process" in backends.backend_note()
    # given explicitly on the command line: one line and a non-zero exit
    r = subprocess.run([sys.executable, "-m", "latent", "info", "--backend", "ray://127.0.0.1:9", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == "error: Cannot reach the Ray cluster at 127.0.0.1:9."
    assert r.stdout == ""


def test_bad_backend_values_say_what_is_allowed():
    for bad in ("ray-local:0", "ray-local:x", "ray://nohost", "gpu-farm"):
        with pytest.raises(BackendError):
            backends.parse(bad)
    assert backends.parse("ray-local:3") == ("ray-local", 3)
    assert backends.parse("ray://10.0.0.5:6379") == ("ray", "10.0.0.5:6379")
    assert isinstance(RayBackend, type)


def test_a_workers_error_reaches_the_session_as_the_apps_own_error(tiny_lm, ray_backend):
    from latent.core.errors import InputError
    s = Scheduler(tiny_lm, backend=ray_backend)
    with pytest.raises(InputError, match="Empty text"):
        s.run(GenerateRequest.make([""], [0], max_new_tokens=3))


def test_the_local_cluster_stays_on_loopback(ray_backend):
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}


def test_a_remote_decode_reports_its_tokens_while_it_runs(tiny_lm, ray_backend):
    """What the waiting page shows for a decode on the cluster: the tokens decoded so far."""
    s = Scheduler(tiny_lm, backend=ray_backend)
    ray_backend.prepare(tiny_lm)
    t = s.submit(GenerateRequest.make(["bee"] * 48, list(range(48)), max_new_tokens=200, do_sample=True))
    seen = set()
    while not t.done():
        seen.add(t.progress)
        time.sleep(0.05)
    assert any(0 < step < 200 and n == 200 for step, n in seen), seen
    assert len(t.result().texts) == 48
