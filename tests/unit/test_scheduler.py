"""The scheduler: rows from several requests decode together with results identical to solo runs;
cancelled work is dropped; identical requests compute once; the queue position is reported."""
import numpy as np
import pytest

from latent.core.decode import rows_plan
from latent.core.generate import generate
from latent.core.hooks import use
from latent.serving.scheduler import DecodeBatcher, EncodeRequest, GenerateRequest, InProcess, Scheduler, StatesRequest


def solo(lm, req: GenerateRequest):
    d = lm.d_model
    if req.layer:
        with use(rows_plan(lm, req.layer, req.vectors(d))):
            return generate(lm, list(req.prompts), max_new_tokens=req.max_new_tokens, do_sample=req.do_sample,
                            seeds=list(req.seeds))
    return generate(lm, list(req.prompts), max_new_tokens=req.max_new_tokens, do_sample=req.do_sample,
                    seeds=list(req.seeds))


@pytest.fixture()
def sched(tiny_lm):
    return Scheduler(tiny_lm)


def requests(lm, do_sample=True):
    g = np.random.default_rng(0)
    d = lm.d_model
    return [GenerateRequest.make(["the queen bee", "a hive of"], [1, 2], layer=2, added=g.normal(size=(2, d)) * 3,
                                 max_new_tokens=12, do_sample=do_sample),
            GenerateRequest.make(["honey", "x y z w v u", "queen"], [3, 3, 4], layer=1, added=g.normal(size=(3, d)) * 3,
                                 max_new_tokens=7, do_sample=do_sample),
            GenerateRequest.make(["unsteered text"], [5], max_new_tokens=9, do_sample=do_sample)]


@pytest.mark.parametrize("do_sample", [True, False])
def test_a_shared_batch_gives_every_row_its_solo_result(tiny_lm, sched, do_sample):
    reqs = requests(tiny_lm, do_sample)
    with sched.hold():
        tickets = [sched.submit(r) for r in reqs]
    got = [t.result(timeout=300) for t in tickets]
    assert sched.batches == [sum(r.rows for r in reqs)]          # one decode for all three sessions
    for r, g in zip(reqs, got):
        ref = solo(tiny_lm, r)
        assert g.token_ids == ref.token_ids and g.texts == ref.texts
        np.testing.assert_allclose(g.first_logprobs, ref.first_logprobs, atol=1e-5)


def test_a_cancelled_session_is_dropped(tiny_lm, sched):
    a, b, c = requests(tiny_lm)
    with sched.hold():
        ta, tb, tc = sched.submit(a), sched.submit(b), sched.submit(c)
        assert sched.position(tc) == (2, a.rows + b.rows)
        assert sched.cancel(tb)
    assert ta.result(timeout=300) and tc.result(timeout=300)
    assert tb.future.cancelled() and sched.batches == [a.rows + c.rows]


def test_identical_requests_compute_once(tiny_lm, sched):
    a = requests(tiny_lm)[0]
    with sched.hold():
        t1, t2 = sched.submit(a), sched.submit(GenerateRequest.make(a.prompts, a.seeds, layer=a.layer,
                                                                    added=a.vectors(tiny_lm.d_model),
                                                                    max_new_tokens=a.max_new_tokens, do_sample=True))
    assert t1 is t2 and t1.shared == 2
    assert not sched.cancel(t2)                                   # one student leaves; the other still waits
    assert t1.result(timeout=300).texts and sched.batches == [a.rows]


def test_an_error_reaches_every_waiting_session(tiny_lm, sched):
    bad = GenerateRequest.make([""], [0], max_new_tokens=3)
    with pytest.raises(Exception, match="Empty text"):
        sched.run(bad)
    with pytest.raises(ValueError, match="rows"):
        sched.submit(GenerateRequest.make([], []))


def test_the_sweep_through_the_scheduler_equals_the_direct_sweep(tiny_lm, sched):
    from latent.core.direction import Direction
    from latent.walk.paths import sweep

    class Enc:  # a deterministic stand-in encoder: concept scores need only consistent vectors
        def encode(self, texts, normalize_embeddings=True, **kw):
            v = np.array([[len(t), t.count("e") + 1, t.count(" ") + 1] for t in texts], float)
            return v / np.linalg.norm(v, axis=1, keepdims=True)
    d = Direction(np.random.default_rng(2).normal(size=tiny_lm.d_model), layer=2, positive="a", negative="b")
    kw = dict(max_new_tokens=6, seeds=(0, 1), n_random=2)
    direct = sweep(tiny_lm, Enc(), "the queen", d, [-1.0, 0.0, 1.0], **kw)
    shared = sweep(tiny_lm, Enc(), "the queen", d, [-1.0, 0.0, 1.0], runner=sched.run, **kw)
    assert direct.rows["text"].tolist() == shared.rows["text"].tolist()
    np.testing.assert_allclose(direct.rows["typicality"], shared.rows["typicality"], atol=1e-5)   # scored in the batch


def test_identical_rows_of_different_requests_decode_once(tiny_lm, sched):
    """Two students on one prompt: their unsteered baselines and a shared (null) direction row are one
    computation each; every row still gets its solo result, and so does typicality."""
    d = tiny_lm.d_model
    g = np.random.default_rng(1)
    shared, own_a, own_b = (g.normal(size=d) * 3 for _ in range(3))
    a = GenerateRequest.make(["the queen", "the queen", "the queen"], [1, 1, 1], layer=2,
                             added=np.stack([np.zeros(d), own_a, shared]), max_new_tokens=8, do_sample=True,
                             typicality=True)
    b = GenerateRequest.make(["the queen", "the queen", "the queen"], [1, 1, 1], layer=2,
                             added=np.stack([np.zeros(d), own_b, shared]), max_new_tokens=6, do_sample=True,
                             typicality=True)
    c = GenerateRequest.make(["the queen"], [1], max_new_tokens=8, do_sample=True)   # unsteered = a zero vector
    with sched.hold():
        tickets = [sched.submit(r) for r in (a, b, c)]
    got = [t.result(timeout=300) for t in tickets]
    assert sched.requested == [7] and sched.batches == [4]          # baseline, own_a, own_b, shared
    for r, res in zip((a, b, c), got):
        ref = solo(tiny_lm, r)
        assert res.token_ids == ref.token_ids and res.texts == ref.texts
        np.testing.assert_allclose(res.first_logprobs, ref.first_logprobs, atol=1e-5)
    from latent.core.generate import continuation_logprobs

    for r, res in zip((a, b), got[:2]):
        want = continuation_logprobs(tiny_lm, res.prompt_ids, res.token_ids)
        np.testing.assert_allclose(res.extra["typicality"], want, atol=1e-5)
    assert got[2].token_ids[0] == got[0].token_ids[0]                 # the same computation


def test_hidden_state_passes_from_many_sessions_share_one_pass(tiny_lm, sched):
    """Three sessions' passes (different texts, lengths and layers) run as one padded forward pass and
    each gets what a pass of its own gives; an identical pass is computed once."""
    import torch

    from latent.core.hidden import direct_forward, encode
    from latent.serving.scheduler import StatesRequest

    texts = [["the queen bee", "a hive"], ["honey and wax and more honey"], ["the queen bee", "a hive"]]
    layers = [[1, 3], [2], [1, 3]]
    reqs = [StatesRequest.make([encode(tiny_lm, t)[0] for t in ts], ls) for ts, ls in zip(texts, layers)]
    with sched.hold():
        tickets = [sched.submit(r) for r in reqs]
    assert tickets[0] is tickets[2] and tickets[0].shared == 2
    got = [t.result(timeout=300) for t in tickets]
    assert sched.state_batches == [2]
    for r, g in zip(reqs, got):
        solo = direct_forward(tiny_lm, [list(x) for x in r.ids], list(r.layers))
        assert sorted(g) == list(r.layers)
        for k in r.layers:
            assert g[k].shape == solo[k].shape
            torch.testing.assert_close(g[k], solo[k], atol=1e-5, rtol=1e-5)


def test_pages_route_hidden_states_through_the_scheduler_only_for_served_models(tiny_lm):
    """With the door set, a served model's passes go through its scheduler and equal direct ones;
    a model not served, or a pass under a steering plan, computes in the caller's thread."""
    import contextvars

    import torch
    from conftest import make_tiny_lm

    from latent.core.hidden import hidden_states
    from latent.core.hooks import Plan, use
    from latent.serving.scheduler import route_model_work, scheduler_for, serve

    def run():
        direct = hidden_states(tiny_lm, ["the queen bee", "a hive of bees"], layers=[1, 2])
        route_model_work()
        other = make_tiny_lm(seed=5)
        hidden_states(other, ["not served"], layers=[1])
        assert "scheduler" not in other._derived            # never made a scheduler (or a thread) for it
        serve(tiny_lm)
        sched = scheduler_for(tiny_lm)
        before = len(sched.state_batches)
        routed = hidden_states(tiny_lm, ["the queen bee", "a hive of bees"], layers=[1, 2])
        assert len(sched.state_batches) > before
        for a, b in zip(direct, routed):
            np.testing.assert_allclose(a.states, b.states, atol=1e-5, rtol=1e-5)
        plan = Plan(edits={1: [lambda h: h + 1.0]})
        n = len(sched.state_batches)
        with use(plan):
            steered = hidden_states(tiny_lm, ["the queen bee"], layers=[1])[0]
        assert len(sched.state_batches) == n                 # under a plan: computed here, edits applied
        assert torch.tensor(steered.states - direct[0].states[:1]).abs().min() > 0.5
    contextvars.copy_context().run(run)                       # the door is set in a copy, as in a session


def test_a_shared_value_computed_through_the_scheduler_does_not_deadlock(tiny_lm):
    """A value kept on the model (``lm.derived``) whose computation runs hidden-state passes through the
    scheduler: the worker asks the model for other kept values meanwhile. With one lock for all keys
    this hung the app (the Hidden states page never returned)."""
    import contextvars
    import threading

    from latent.core.hidden import hidden_states
    from latent.serving.scheduler import route_model_work, scheduler_for, serve

    out = {}

    def run():
        route_model_work()
        serve(tiny_lm)
        before = len(scheduler_for(tiny_lm).state_batches)
        out["v"] = tiny_lm.derived(("deadlock-check", 1),
                                   lambda: hidden_states(tiny_lm, ["the queen bee"], layers=[1])[0].states.shape)
        out["routed"] = len(scheduler_for(tiny_lm).state_batches) - before
    th = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
    th.start()
    th.join(timeout=300)
    assert not th.is_alive(), "the kept value never finished: deadlock"
    assert out["v"][-1] == tiny_lm.d_model and out["routed"] == 1


def test_encoder_calls_from_many_sessions_share_one_call_and_equal_solo_calls():
    """Sessions' sentence-encoder texts go through one call, each distinct text once; each session gets
    what its own call gives. An encoder the app does not serve is called directly."""
    import contextvars
    import threading
    import time

    from latent.core.models import direct_embed, embed
    from latent.serving.scheduler import encoder_scheduler, route_model_work, serve_encoder

    class Enc:  # deterministic stand-in: counts the texts it is asked to encode
        def __init__(self):
            self.calls = []

        def encode(self, texts, normalize_embeddings=True, **kw):
            self.calls.append(len(texts))
            v = np.array([[len(t) + 1.0, t.count("e") + 1.0, t.count(" ") + 1.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)
    enc, other = Enc(), Enc()
    serve_encoder(enc)
    s = encoder_scheduler(enc)
    asks = [["the queen bee", "a hive", "honey"], ["a hive", "the crown"], ["the queen bee", "a hive", "honey"]]
    got = [None] * 3

    def session(i):
        route_model_work()
        got[i] = embed(enc, asks[i])
    with s.hold():
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(session, i)) for i in range(3)]
        for th in threads:
            th.start()
        deadline = time.time() + 10
        while s.queued(GenerateRequest) + s.queued(StatesRequest) < 2 and time.time() < deadline:
            time.sleep(0.01)
    for th in threads:
        th.join(timeout=30)
    assert s.encode_batches == [(5, 4)]                 # sessions 0 and 2 asked the same: one request, 4 texts
    for a, g in zip(asks, got):
        np.testing.assert_allclose(g, direct_embed(Enc(), a), atol=1e-12)

    def alone():
        route_model_work()
        embed(other, ["not served"])
    contextvars.copy_context().run(alone)
    assert other.calls == [1] and enc.calls == [4] and len(s.encode_batches) == 1


def test_a_session_whose_browser_went_away_drops_its_queued_passes():
    """While a hidden-state pass or an encoder call waits in the queue, the session's check runs; once
    its browser is gone the request is cancelled and never computed, and the others' work still runs."""
    import contextvars
    import threading
    import time
    from concurrent.futures import CancelledError

    from conftest import make_tiny_lm

    from app_pages.ui.queue import gone_away
    from latent.core.hidden import hidden_states
    from latent.core.models import embed
    from latent.serving.scheduler import encoder_scheduler, route_model_work, scheduler_for, serve, serve_encoder

    class Enc:
        def encode(self, texts, normalize_embeddings=True, **kw):
            v = np.array([[len(t) + 1.0, 1.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)
    lm, enc = make_tiny_lm(seed=11), Enc()
    serve(lm)
    serve_encoder(enc)
    s, es = scheduler_for(lm), encoder_scheduler(enc)
    connected = {"gone": True, "stays": True}
    out = {}

    def session(name, work):
        route_model_work(wait=gone_away(lambda: connected[name]))
        try:
            out[name] = work()
        except CancelledError as e:
            out[name] = e

    jobs = [("gone", lambda: hidden_states(lm, ["the queen bee"], layers=[1])),
            ("stays", lambda: hidden_states(lm, ["a hive of bees"], layers=[1]))]
    with s.hold(), es.hold():
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(session, *j)) for j in jobs]
        threads.append(threading.Thread(target=contextvars.copy_context().run,
                                        args=(session, "gone", lambda: embed(enc, ["never encoded"]))))
        for th in threads:
            th.start()
        deadline = time.time() + 10
        while (s.queued(StatesRequest) < 2 or es.queued(EncodeRequest) < 1) and time.time() < deadline:
            time.sleep(0.01)
        connected["gone"] = False                       # the tab closes while its work is queued
        deadline = time.time() + 10
        while (s.queued(StatesRequest) > 1 or es.queued(EncodeRequest)) and time.time() < deadline:
            time.sleep(0.01)
        assert s.queued(StatesRequest) == 1 and not es.queued(EncodeRequest)   # dropped before running
    for th in threads:
        th.join(timeout=30)
    assert isinstance(out["gone"], CancelledError) and "went away" in str(out["gone"])
    assert s.state_batches == [1] and es.encode_batches == []               # only the connected session's pass ran
    assert out["stays"][0].states.shape[0] >= 1


def test_a_waiting_session_is_told_what_it_waits_for(tiny_lm):
    """Behind a batch in progress a session is told so (not 'starting'); further back, its place in
    the queue; once its own batch runs, the decode's progress."""
    import threading

    from app_pages.ui.queue import queue_note

    gate, started = threading.Event(), threading.Event()

    class Slow(InProcess):              # a backend that holds each decode until the gate opens
        def run(self, batcher, model, requests, tickets):
            if isinstance(batcher, DecodeBatcher):
                for t in tickets:
                    t.progress = (3, 40)
                started.set()
                gate.wait(30)
            return super().run(batcher, model, requests, tickets)
    s = Scheduler(tiny_lm, window_s=0.0, backend=Slow())
    a, b, c = requests(tiny_lm)
    ta = s.submit(a)
    assert started.wait(30)
    tb = s.submit(b)
    tc = s.submit(GenerateRequest.make(["another"], [9], max_new_tokens=3, do_sample=True, top_k=5))  # another group
    try:
        assert queue_note(s, ta) == "Decoding in a shared batch… token 3 of 40"
        assert queue_note(s, tb).startswith(f"Waiting for the batch in progress ({a.rows} rows from other sessions, "
                                            "token 3 of 40)")
        assert queue_note(s, tc) == f"Queued: 1 request(s), {b.rows} rows from other sessions ahead of yours…"
    finally:
        gate.set()
    assert ta.result(timeout=300) and tb.result(timeout=300) and tc.result(timeout=300)


def test_the_apps_gone_away_check_stops_the_script_run_quietly():
    """In the app the check calls st.stop (the run ends without a traceback); a stop that returns still
    cancels with CancelledError, and a connected session is never stopped."""
    from concurrent.futures import CancelledError

    from app_pages.ui.queue import gone_away

    calls = []
    gone_away(lambda: True, stop=lambda: calls.append("stop"))(None)
    assert calls == []
    with pytest.raises(CancelledError, match="went away"):
        gone_away(lambda: False, stop=lambda: calls.append("stop"))(None)
    assert calls == ["stop"]


def test_a_batch_streams_each_requests_own_rows_up_to_its_own_length(tiny_lm):
    """What the Latent walk's cards show while a shared batch decodes: each request's rows, in its order,
    growing token by token, ending at exactly the texts the request gets back (a shorter request stops
    growing at its own length while the batch goes on)."""
    from latent.core.decode import decode_rows

    reqs = requests(tiny_lm)                                      # 12, 7 and 9 new tokens in one batch
    seen = []
    out = decode_rows(tiny_lm, reqs, on_rows=lambda step, per: seen.append((step, per)))
    assert len(seen) >= max(len(t) for g in out for t in g.token_ids)
    for i, (r, g) in enumerate(zip(reqs, out)):
        assert [len(per[i]) for _, per in seen] == [r.rows] * len(seen)
        assert seen[-1][1][i] == g.texts                          # the last frame is the answer
        assert seen[0][1][i] != g.texts or all(len(t) <= 1 for t in g.token_ids)   # and it grew


def test_the_sweep_streams_its_first_prompts_cards_through_the_scheduler(tiny_lm, sched):
    from latent.core.direction import Direction
    from latent.walk.paths import sweep

    class Enc:
        def encode(self, texts, normalize_embeddings=True, **kw):
            v = np.array([[len(t) + 1, t.count("e") + 1, 1.0] for t in texts], float)
            return v / np.linalg.norm(v, axis=1, keepdims=True)
    d = Direction(np.random.default_rng(2).normal(size=tiny_lm.d_model), layer=2, positive="a", negative="b")
    frames = []

    def runner(request, on_texts=None):                           # the app's runner, with the ticket's frames
        t = sched.submit(request)
        g = t.result(timeout=300)
        if on_texts is not None:                                  # the cards' request; the rest comes unstreamed
            on_texts(t.progress[0], t.partial)
        return g
    sw = sweep(tiny_lm, Enc(), ["the queen", "a hive"], d, [-1.0, 0.0, 1.0], max_new_tokens=6, seeds=(0, 1),
               n_random=2, runner=runner, on_token=lambda step, texts: frames.append(texts))
    assert frames and len(frames[-1]) == 3                        # unsteered, then −1 and +1
    first = sw.rows[(sw.rows.prompt == "the queen") & (sw.rows.seed == 0) & (sw.rows.kind != "random")]
    assert frames[-1] == [first[first.strength == s].text.iloc[0] for s in (0.0, -1.0, 1.0)]


def test_a_running_decode_whose_sessions_all_left_stops_early(tiny_lm, sched):
    """A Cancel click (or a closed tab) while the batch runs: with nobody else waiting, the decode stops
    at its next token instead of running to the end; a batch someone still waits on runs on."""
    import time
    from concurrent.futures import CancelledError

    r = GenerateRequest.make(["bee"] * 8, list(range(8)), max_new_tokens=200, do_sample=True)
    t = sched.submit(r)
    deadline = time.time() + 30
    while t.progress[0] < 2 and time.time() < deadline:
        time.sleep(0.005)
    sched.cancel(t)
    with pytest.raises(CancelledError):
        t.result(timeout=30)
    assert t.abandoned and t.progress[0] < 200
    other = GenerateRequest.make(["hive"] * 2, [1, 2], max_new_tokens=30, do_sample=True)
    a, b = sched.submit(other), sched.submit(other)            # two sessions share it; one leaves
    assert a is b
    sched.cancel(a)
    assert len(a.result(timeout=30).texts) == 2 and not a.abandoned


def test_a_ray_workers_concurrent_first_calls_load_its_model_once(monkeypatch):
    """A Ray worker runs up to 4 calls at once; two sessions' first calls both ask it for the model. It is
    loaded once, one load at a time (two threads building a seeded test model at once drew other weights
    than the app's, and the worker was refused). No Ray here: the worker class itself."""
    import threading
    import time

    import torch

    from latent.serving import backends

    inside, most, calls, lock = [0], [0], [], threading.Lock()

    def slow_load(spec, device):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        calls.append(spec)
        with lock:
            inside[0] -= 1
        return object()

    monkeypatch.setattr(backends, "load_spec", slow_load)
    threads_before = torch.get_num_threads()
    try:
        worker = backends.ModelWorker(1)
    finally:
        torch.set_num_threads(threads_before)       # the worker sets its process's threads; this is ours
    got = []
    ts = [threading.Thread(target=lambda: got.append(worker.model({"kind": "tiny", "seed": 0}))) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert most[0] == 1 and len(calls) == 1 and len(got) == 4 and all(g is got[0] for g in got)


def test_the_row_cap_counts_the_rows_a_batch_decodes_not_the_rows_asked_for(tiny_lm):
    """Three students' sweeps on one prompt share a baseline and two random directions (5 rows asked for
    each, 3 shared + 3 × 2 own = 9 to decode): under a cap of 9 rows they are one batch (two requests
    already ask for 10), every row its solo result. The control: three sweeps that share nothing (15
    distinct rows) are still split by the same cap."""
    d = tiny_lm.d_model
    g = np.random.default_rng(2)
    shared = [np.zeros(d), g.normal(size=d) * 3, g.normal(size=d) * 3]

    def sweep(prompt, own):
        return GenerateRequest.make([prompt] * 5, [1] * 5, layer=2, added=np.stack(shared + [own, -own]),
                                    max_new_tokens=5, do_sample=True)

    def run(reqs):
        s = Scheduler(tiny_lm, max_rows=9)
        with s.hold():
            tickets = [s.submit(r) for r in reqs]
        return s, [t.result(timeout=300) for t in tickets]

    shared_reqs = []
    for _ in range(3):
        own = g.normal(size=d) * 3
        shared_reqs.append(sweep("the queen", own))
    s, got = run(shared_reqs)
    assert s.requested == [15] and s.batches == [3 + 3 * 2]
    for r, res in zip(shared_reqs, got):
        ref = solo(tiny_lm, r)
        assert res.token_ids == ref.token_ids and res.texts == ref.texts
    apart, _ = run([sweep(p, g.normal(size=d) * 3) for p in ("the queen", "a hive of", "honey")])
    assert apart.batches == [5, 5, 5]
