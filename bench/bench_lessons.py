"""Click-to-reveal per lesson step: every predict-then-reveal step of every lesson, on each model.

Three modes, each in a fresh process with the model already loaded (the load is not counted):

* **before**: the code of an older commit (default: the session's starting commit), checked out by
  this script in a git worktree: what a reveal cost there (every reveal recomputed per process);
* **cold**: today's code with an empty result store: the first reveal on a new server;
* **warm**: today's code, a new process, the store filled by the cold run: any later reveal, by any
  student, after a restart.

A reveal in the app is this computation plus the page's redraw. Figures are ratios within one run.

Usage: ``python bench/bench_lessons.py [--models SmolLM2-135M-Instruct,gemma-3-270m] [--before COMMIT]``
"""
import argparse
import tempfile

from _common import drop_worktree, fresh, fresh_at, save, worktree

SNIPPET = """
import json, time
from latent.core.models import load_encoder, load_lm
from latent.lessons import compute_fact, load_lessons
enc, lm = load_encoder(), load_lm({model!r})
out = {{}}
for lid, lesson in load_lessons().items():
    for i, s in enumerate(lesson.steps, start=1):
        if s.fact:
            t = time.perf_counter()
            f = compute_fact(lm, s.fact, encoder=enc)
            out[f"{{lid}} {{i}}"] = {{"s": round(time.perf_counter() - t, 3), "answer": str(f["answer"])}}
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="SmolLM2-135M-Instruct,gemma-3-270m")
    ap.add_argument("--before", default="8d8fe2b", help="the baseline commit (checked out in a worktree)")
    args = ap.parse_args()
    before = worktree(args.before)
    store = tempfile.mkdtemp(prefix="bench-store-")
    rows = {}
    try:
        for model in args.models.split(","):
            code = SNIPPET.format(model=model)
            old = fresh_at(before, code, env={"LATENT_STORE": "off"}, timeout=1800)
            cold = fresh(code, env={"LATENT_STORE_DIR": store}, timeout=1800)
            warm = fresh(code, env={"LATENT_STORE_DIR": store}, timeout=1800)
            for step in cold:
                if step == "process_wall_s":
                    continue
                rows[f"{model} · {step}"] = {"before_s": old.get(step, {}).get("s"), "cold_s": cold[step]["s"],
                                            "warm_s": warm[step]["s"], "answer": cold[step]["answer"]}
    finally:
        drop_worktree(before)
    print(f"{'step':55} {'before':>8} {'cold':>8} {'warm':>8}  answer")
    for k, r in rows.items():
        print(f"{k:55} {r['before_s'] or float('nan'):8.2f} {r['cold_s']:8.2f} {r['warm_s']:8.2f}  {r['answer']}")
    save("bench_lessons", {"baseline_commit": args.before, "steps": rows})


if __name__ == "__main__":
    main()
