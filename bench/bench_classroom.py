"""A class at once: K = 1, 4, 8 sessions each run a *distinct* steering sweep (the Latent walk page's
defaults: 40 tokens, 3 seeds, 5 random directions, strengths −s, 0, s) at the same moment.

Before: every session decodes its own rows in its own thread (what the app did). After: every
session's rows go through the one scheduler (what the app does now). Sessions are threads in one
process, each with its own context (as Streamlit runs them), driven at the library level rather than
through browsers, so that 8 headless browsers do not take the 2 cores the model needs. Reported:
p50/p95 of the per-session sweep time and the ratio to K = 1 in the same mode, all in one run.
"""
import contextvars
import statistics
import sys
import threading
import time

import numpy as np
from _common import save

PROMPTS = ["I think that you", "The queen of the hive", "My favourite place is", "Yesterday the weather was",
           "The meeting will start", "Our new neighbour is", "In the morning I", "The best way to learn is"]


DIRECTIONS = {}


def one_sweep(lm, enc, i, runner):
    """Session i: preset i mod 5 (its direction built beforehand, as the page caches it) on prompt i."""
    from latent.steering.presets import STRENGTH, build, load_presets
    from latent.steering.walk import sweep

    names = list(load_presets())
    name = names[i % len(names)]
    d = DIRECTIONS.setdefault(name, build(lm, name))
    s = STRENGTH[name]
    t = time.perf_counter()
    sweep(lm, enc, PROMPTS[i % len(PROMPTS)], d, [-s, 0.0, s], max_new_tokens=40, runner=runner)
    return time.perf_counter() - t


def session_times(lm, enc, k, runner):
    out = [None] * k
    barrier = threading.Barrier(k)

    def work(i):
        barrier.wait()
        out[i] = one_sweep(lm, enc, i, runner)
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, i)) for i in range(k)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def pct(xs, q):
    return float(np.percentile(xs, q))


if __name__ == "__main__":
    from latent.core.models import load_lm, load_encoder
    from latent.scheduler import scheduler_for

    lm, enc = load_lm(), load_encoder()
    for i in range(5):
        one_sweep(lm, enc, i, None)                  # warm-up, and every preset's direction built once
    sched = scheduler_for(lm)
    ks = [int(x) for x in sys.argv[1:]] or [1, 4, 8]
    rows = []
    for mode, runner in (("before: each session decodes alone", None), ("after: one scheduler", sched.run)):
        base = None
        for k in ks:
            times = session_times(lm, enc, k, runner)
            p50, p95 = pct(times, 50), pct(times, 95)
            base = base or p95
            rows.append({"mode": mode, "K": k, "action": "distinct steering sweep", "p50_s": round(p50, 2),
                         "p95_s": round(p95, 2), "p95_ratio_to_K1": round(p95 / base, 2)})
            print(rows[-1], flush=True)
    save("classroom", {"rows": rows, "batches_rows": sched.batches,
                       "note": "library-level sessions (threads), SmolLM2 fp32 on CPU"})
