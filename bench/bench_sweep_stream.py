"""A sweep's first card and last meter, before and after a change, in one run.

The Latent walk's default sweep goes through the app's scheduler; the times are from the click to the
first card showing text (the cards fill in as the batch decodes) and to the result with its meters.
Each side runs in a fresh process (model loaded and warmed up first, not counted), best of 2:

* **before**: an older commit (``--before``), checked out by this script in a git worktree;
* **after**: today's code.

Since the prompt pass is shared (each distinct prompt's layers below the steering layer run once per
batch, and only the last column reaches the LM head), the first card waits for less arithmetic; since
the cards' rows decode first, in a request of their own, it waits only for theirs (the last meter
then pays for that small decode).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_sweep_stream.py [--model M] [--before COMMIT]``
"""
import argparse
import sys

from _common import drop_worktree, fresh, fresh_at, save, worktree

SNIPPET = """
import json, time
from latent.core.models import load_encoder, load_lm
from latent.serving.scheduler import Scheduler
from latent.walk.spec import SweepSpec
from latent.walk.paths import sweep
lm, enc = load_lm({model!r}), load_encoder()
ds = SweepSpec.default(lm)
d = ds.direction(lm)
sched = Scheduler(lm, threads=2)
sweep(lm, enc, ds.prompts[0], d, ds.strengths, max_new_tokens=4, seeds=(0,), n_random=1)      # warm-up
runs = []
for _ in range(2):
    first = []
    t0 = time.perf_counter()

    def runner(request, on_texts=None):
        def wait(t):
            if on_texts is not None and t.partial is not None:
                on_texts(t.progress[0], t.partial)
        return sched.run(request, wait=wait)

    def on_token(step, texts):
        if not first and any(x.strip() for x in texts):
            first.append(time.perf_counter() - t0)
    sw = ds.run(lm, enc, direction=d, runner=runner, on_token=on_token)
    runs.append([round(first[0], 2) if first else None, round(time.perf_counter() - t0, 2), len(sw.rows),
                 list(sw.rows["text"])])
print(json.dumps({{"runs": runs}}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="SmolLM2-135M-Instruct")
    ap.add_argument("--before", default="ea8c2fb", help="the baseline commit (checked out in a worktree)")
    args = ap.parse_args(argv)
    tree = worktree(args.before)
    try:
        out = {}
        code, env = SNIPPET.format(model=args.model), {"LATENT_STORE": "off"}
        out["before"] = fresh_at(tree, code, env=env, timeout=1800)["runs"]
        out["after"] = fresh(code, env=env, timeout=1800)["runs"]
    finally:
        drop_worktree(tree)
    res = {}
    for side, runs in out.items():
        b = min(runs, key=lambda r: r[1])
        res[side] = {"first_card_s": b[0], "last_meter_s": b[1], "rows": b[2], "runs": [r[:3] for r in runs]}
    same = [a == b for a, b in zip(out["before"][0][3], out["after"][0][3])]
    save(f"sweep_stream_{args.model}", {"model": args.model, "baseline_commit": args.before, **res,
                                       "first_card_ratio": round(res["after"]["first_card_s"] / res["before"]["first_card_s"], 2),
                                       "last_meter_ratio": round(res["after"]["last_meter_s"] / res["before"]["last_meter_s"], 2),
                                       "same_texts": f"{sum(same)}/{len(same)}"})


if __name__ == "__main__":
    sys.exit(main())
