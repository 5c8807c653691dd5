"""A class at once: K = 1, 4, 8 sessions start the same action at the same moment.

Actions (each session's work differs from every other session's):

* **distinct sweep, distinct prompts**: session i runs steering preset i mod 5 on its own prompt (the
  Latent walk page's defaults: 40 tokens, 3 seeds, 5 random directions, strengths −s, 0, s). Nothing
  is shared between sessions: the work grows K-fold.
* **distinct sweep, one lesson prompt**: every session walks its *own* direction (built from its own
  word pair, e.g. love − hate, hot − cold) on the lesson's prompt, at the lesson's layer and strength.
  The unsteered baselines and the random-direction null rows are the same computation for everyone.
* **lesson answers**: every session is a student of one class on the queen-and-hive lesson, and asks
  for every step's answer at once, cold (nothing kept yet): the K students share one computation per
  answer, so the p95 at K = 8 should stay within 2× one student's.
* **Senses page**: session i analyses "queen" in its own three context steps (the Senses page's
  work: hidden states of the 24 sense sentences, the steps and the sense-free nulls, calibration, the
  next-token change, the word-order check, the encoder control).

Floor (sweeps only): the K sessions' decode rows run as one batch in one thread, no queue, no window, no
other work: what any scheduler must at least spend on this machine, so its ratio to K = 1 is the best
ratio a scheduler could reach here.

Before: every session computes in its own thread (what the app did). After: every session's model
work goes through the one scheduler (what the app does now: sweeps as decode requests, hidden-state
passes packed into shared forward passes, sentence-encoder texts in shared calls, identical work
computed once). Sessions are threads in
one process, each with its own context (as Streamlit runs them), driven at the library level rather
than through browsers, so that 8 headless browsers do not take the 2 cores the model needs. Reported:
p50/p95 of the per-session time and the p95 ratio to K = 1 in the same mode and action, in one run.
"""
import contextvars
import sys
import threading
import time

import numpy as np
from _common import save

PROMPTS = ["I think that you", "The queen of the hive", "My favourite place is", "Yesterday the weather was",
           "The meeting will start", "Our new neighbour is", "In the morning I", "The best way to learn is"]
LESSON_PROMPT = "I think that you"
PAIRS = [("love", "hate"), ("hot", "cold"), ("happy", "sad"), ("day", "night"), ("war", "peace"),
         ("rich", "poor"), ("ocean", "desert"), ("music", "silence")]
CONTEXT_WORDS = ["honey", "worker", "hive", "palace", "crown", "chess", "wax", "royal"]

DIRECTIONS = {}


def preset_sweep(lm, enc, i, runner):
    """Session i: preset i mod 5 (its direction built beforehand, as the page caches it) on prompt i."""
    from latent.walk.paths import sweep
    from latent.walk.presets import STRENGTH, build, load_presets

    names = list(load_presets())
    name = names[i % len(names)]
    if name not in DIRECTIONS:                       # (setdefault would build it on every call)
        DIRECTIONS[name] = build(lm, name)
    d = DIRECTIONS[name]
    s = STRENGTH[name]
    t = time.perf_counter()
    sweep(lm, enc, PROMPTS[i % len(PROMPTS)], d, [-s, 0.0, s], max_new_tokens=40, runner=runner)
    return time.perf_counter() - t


def pair_direction(lm, i):
    from latent.core.direction import Direction

    pos, neg = PAIRS[i % len(PAIRS)]
    key = ("pair", pos, neg)
    if key not in DIRECTIONS:
        d = Direction.from_texts(lm, [f"I feel {pos}.", f"It is all about {pos}."],
                                 [f"I feel {neg}.", f"It is all about {neg}."], lm.depth(0.3), pooling="mean")
        d.positive, d.negative = pos, neg
        DIRECTIONS[key] = d
    return DIRECTIONS[key]


def lesson_sweep(lm, enc, i, runner):
    """Session i: its own word-pair direction on the lesson's prompt (layer and strength as the lesson sets)."""
    from latent.walk.paths import sweep

    d = pair_direction(lm, i)
    t = time.perf_counter()
    sweep(lm, enc, LESSON_PROMPT, d, [-0.3, 0.0, 0.3], max_new_tokens=40, runner=runner)
    return time.perf_counter() - t


def senses_load(lm, enc, i, runner):
    """Session i: the Senses page's analysis of "queen" in its own context steps."""
    from latent.senses.sets import get_builtin
    from latent.senses.study import analyze

    w = CONTEXT_WORDS[i % len(CONTEXT_WORDS)]
    t = time.perf_counter()
    analyze(lm, get_builtin("queen"), ["queen", f"{w} queen", f"the {w} and the queen"], encoder=enc)
    return time.perf_counter() - t


def lesson_answers(lm, enc, i, runner):
    """Session i: a student on the queen-and-hive lesson at the moment the class reveals: every step's
    answer, in step order (what the reveals compute). Cold: the answers kept on the model are dropped
    before each K (``reset``), and the result store is off, so K students ask for answers nobody has."""
    from latent.lessons import compute_fact, load_lessons

    t = time.perf_counter()
    for step in load_lessons()["queen-hive"].steps:
        if step.fact:
            compute_fact(lm, step.fact, encoder=enc)
    return time.perf_counter() - t


def _forget_lesson_answers(lm):
    with lm._lock:
        for k in [k for k in lm._derived if isinstance(k, tuple) and k and k[0] == "lesson"]:
            del lm._derived[k]


lesson_answers.reset = _forget_lesson_answers

ACTIONS = {"distinct sweep, distinct prompts": preset_sweep, "distinct sweep, one lesson prompt": lesson_sweep,
           "Senses page load": senses_load, "lesson answers, one lesson (cold)": lesson_answers}


def session_times(lm, enc, k, action, routed, sched):
    from latent.serving.scheduler import route_model_work

    out = [None] * k
    barrier = threading.Barrier(k)

    def work(i):
        if routed:
            route_model_work()               # this session's hidden-state passes and encoder calls go through the scheduler
        barrier.wait()
        out[i] = action(lm, enc, i, sched.run if routed else None)
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, i)) for i in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


class _Captured(Exception):
    pass


def captured_requests(lm, enc, k, action):
    """The decode requests K sessions of ``action`` send (each sweep stops at its request)."""
    reqs = []

    def grab(request):
        reqs.append(request)
        raise _Captured

    for i in range(k):
        try:
            action(lm, enc, i, grab)
        except _Captured:
            pass
    return reqs


def floor_time(lm, enc, k, action, sched):
    """The arithmetic floor: the K sessions' rows decoded and re-scored as one batch in this thread,
    with no queue, no window and no other work: what any scheduler on this machine must at least spend."""
    from latent.core.decode import decode_rows

    reqs = captured_requests(lm, enc, k, action)
    t = time.perf_counter()
    decode_rows(lm, reqs)
    return time.perf_counter() - t


def pct(xs, q):
    return float(np.percentile(xs, q))


if __name__ == "__main__":
    import os

    os.environ["LATENT_STORE"] = "off"               # every figure is computed, none read back
    from latent.core.models import load_encoder, load_lm
    from latent.serving.scheduler import encoder_scheduler, scheduler_for, serve, serve_encoder

    lm, enc = load_lm(), load_encoder()
    serve(lm)
    serve_encoder(enc)
    sched, esched = scheduler_for(lm), encoder_scheduler(enc)
    for i in range(8):                               # warm-up; every direction built once (the pages cache them)
        pair_direction(lm, i)
        if i < 5:
            preset_sweep(lm, enc, i, None)
    senses_load(lm, enc, 0, None)
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    only = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")]
    ks = [int(x) for x in args] or [1, 4, 8]
    rows = []
    for action_name, action in ACTIONS.items():
        if only and not any(o in action_name for o in only):
            continue
        for mode, routed in (("before: each session computes alone", False), ("after: one scheduler", True)):
            base = None
            n_batches, n_states, n_enc = len(sched.batches), len(sched.state_batches), len(esched.encode_batches)
            for k in ks:
                if hasattr(action, "reset"):
                    action.reset(lm)
                times = session_times(lm, enc, k, action, routed, sched)
                p50, p95 = pct(times, 50), pct(times, 95)
                base = base or p95
                rows.append({"action": action_name, "mode": mode, "K": k, "p50_s": round(p50, 2),
                             "p95_s": round(p95, 2), "p95_ratio_to_K1": round(p95 / base, 2)})
                print(rows[-1], flush=True)
            if routed:
                print("  decode batches (distinct rows):", sched.batches[n_batches:],
                      "requested rows:", sched.requested[n_batches:],
                      "hidden-state passes (requests packed):", sched.state_batches[n_states:],
                      "encoder calls (texts asked, distinct):", esched.encode_batches[n_enc:], flush=True)
            if routed and action in (preset_sweep, lesson_sweep):
                base = None
                for k in ks:
                    f = floor_time(lm, enc, k, action, sched)
                    base = base or f
                    rows.append({"action": action_name, "mode": "floor: the K sessions' rows as one batch, no scheduler",
                                 "K": k, "p50_s": round(f, 2), "p95_s": round(f, 2), "p95_ratio_to_K1": round(f / base, 2)})
                    print(rows[-1], flush=True)
    save("classroom", {"rows": rows, "decode_batches_distinct_rows": sched.batches,
                       "decode_batches_requested_rows": sched.requested, "state_passes_requests": sched.state_batches,
                       "encoder_calls_texts_asked_distinct": esched.encode_batches,
                       "note": "library-level sessions (threads), SmolLM2 fp32 on CPU, 2 cores"})
