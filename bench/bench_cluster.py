"""What a Ray cluster costs and gives on this machine, in one run (each setting in a fresh process).

Work: K students each submit a *distinct* steering sweep at the same moment (their own seeds; 16 rows
× 20 new tokens of the real SmolLM2 with typicality, the Latent walk's kind of request), or all K submit
*one lesson prompt's* identical sweep. Each K students' requests reach the scheduler together (held,
then released), so they share one batch; reported is the time until the last is answered (with K
in one batch every student waits that long: p95 = max).

1. Overhead: in-process with 1 torch thread against ``ray-local:1`` (one 1-CPU worker), K = 1.
2. Throughput: in-process with 2 threads against ``ray-local:2`` (two 1-CPU workers), K = 1, 4, 8:
   rows per second.
3. Capacity: one 1-CPU worker's batch time for 1, 2, 3, 4, 6, 8 students' rows; students per worker is the
   largest n whose batch time stays within 2× one student's. For one lesson prompt the K identical
   requests are one computation, so the time at K = 8 against K = 1 is reported instead.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_cluster.py`` (needs ``make cluster``).
"""
import argparse
import json
import sys

from _common import fresh, save

ROWS, TOKENS = 16, 20

CODE = """
import json, os, sys, time
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["LATENT_STORE"] = "off"
sys.path.insert(0, {root!r})
import numpy as np, torch
from latent.core.models import load_lm
from latent.serving.backends import make_backend
from latent.serving.scheduler import GenerateRequest, Scheduler
torch.set_num_threads({threads})
lm = load_lm()
backend = make_backend({backend!r})
s = Scheduler(lm, backend=backend, window_s=0.0)
d = lm.d_model
rng = np.random.default_rng(0)
vec = (rng.normal(size=(1, d)) * 4).astype(np.float32)

def student(i, same=False):
    k = 0 if same else i
    return GenerateRequest.make(["I think that you"] * {rows}, [1000 * k + j for j in range({rows})], layer=9,
                                added=np.repeat(vec, {rows}, 0), max_new_tokens={tokens}, do_sample=True,
                                typicality=True)

def batch(k, same=False):
    reqs = [student(i, same) for i in range(k)]
    with s.hold():
        tickets = [s.submit(r) for r in reqs]
    t = time.perf_counter()
    for x in tickets:
        x.result(timeout=900)
    return time.perf_counter() - t

if hasattr(backend, "prepare"):
    backend.prepare(lm)
batch(1, same=True)                                  # warm-up: first calls, caches, the workers' first batch
out = {{}}
for k in {ks}:
    out[str(k)] = round(min(batch(k) for _ in range({repeats})), 3)
out["same8"] = round(batch(8, same=True), 3)
out["same1"] = round(batch(1, same=True), 3)
print(json.dumps(out))
"""


def run(backend: str, threads: int, ks, repeats: int = 1) -> dict:
    from _common import ROOT
    return fresh(CODE.format(root=str(ROOT), backend=backend, threads=threads, ks=list(ks), repeats=repeats,
                             rows=ROWS, tokens=TOKENS), timeout=1800)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    one_thread = run("inprocess", 1, [1, 2, 3, 4, 6, 8], args.repeats)
    ray1 = run("ray-local:1", 1, [1, 2, 3, 4, 6, 8], args.repeats)
    two_threads = run("inprocess", 2, [1, 4, 8], args.repeats)
    ray2 = run("ray-local:2", 1, [1, 4, 8], args.repeats)
    rps = {k: {"inprocess_2_threads": round(int(k) * ROWS / two_threads[k], 2),
               "ray_local_2": round(int(k) * ROWS / ray2[k], 2)} for k in ("1", "4", "8")}
    single = ray1["1"]
    per_worker = max([n for n in (1, 2, 3, 4, 6, 8) if ray1[str(n)] <= 2 * single], default=0)
    table = {"work": f"{ROWS} rows × {TOKENS} tokens per student, SmolLM2 fp32, typicality on",
             "overhead_ratio_ray1_vs_inprocess_1_thread": round(ray1["1"] / one_thread["1"], 3),
             "seconds": {"inprocess_1_thread": one_thread, "ray_local_1": ray1, "inprocess_2_threads": two_threads,
                         "ray_local_2": ray2},
             "rows_per_second": rps,
             "worker_seconds_per_row": {n: round(ray1[n] / (int(n) * ROWS), 4) for n in ("1", "2", "3", "4", "6", "8")},
             "capacity": {"distinct_sweeps_students_per_worker_within_2x": per_worker,
                          "one_lesson_prompt_8_vs_1": round(ray1["same8"] / ray1["same1"], 2)}}
    save("cluster", table)
    print(json.dumps(table["capacity"]))


if __name__ == "__main__":
    sys.exit(main())
