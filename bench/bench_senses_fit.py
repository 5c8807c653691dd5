"""The Senses page's per-set fit (the queen set, with the sentence-encoder baseline): an older commit against
today's code, each in a fresh process with the model loaded (the load is not counted), best of 2, and
whether the two fits give the same numbers (per-layer accuracy, the shuffled-label null, the fitted
temperatures, the nested accuracy, the abstention threshold).

The fit is the wait on a Senses page's first chart, and on a lesson's first "queen" reveal.

Usage: ``python bench/bench_senses_fit.py [--models SmolLM2-135M-Instruct,gemma-3-270m] [--before COMMIT]``
"""
import argparse

import numpy as np
from _common import drop_worktree, fresh, fresh_at, save, worktree

SNIPPET = """
import json, time
from latent.core.models import load_encoder, load_lm
from latent.senses.sets import get_builtin
from latent.senses.study import fit_senses
enc, lm = load_encoder(), load_lm({model!r})
s = get_builtin("queen")
ts = []
for _ in range(2):
    t = time.perf_counter()
    f = fit_senses(lm, s, encoder=enc)
    ts.append(time.perf_counter() - t)
print(json.dumps({{"s": round(min(ts), 2), "accuracy": f.accuracy.tolist(), "shuffled": f.shuffled.tolist(),
                  "temps": f.temps.tolist(), "nested": f.nested, "threshold": float(f.rule.threshold)}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="SmolLM2-135M-Instruct,gemma-3-270m")
    ap.add_argument("--before", default="fa57137", help="the baseline commit (checked out in a worktree)")
    args = ap.parse_args()
    before = worktree(args.before)
    rows = {}
    try:
        for model in args.models.split(","):
            code = SNIPPET.format(model=model)
            old = fresh_at(before, code, env={"LATENT_STORE": "off"}, timeout=1800)
            new = fresh(code, env={"LATENT_STORE": "off"}, timeout=1800)
            same = all(np.allclose(old[k], new[k], rtol=1e-9, atol=1e-12)
                       for k in ("accuracy", "shuffled", "temps", "nested", "threshold"))
            rows[model] = {"before_s": old["s"], "after_s": new["s"], "ratio": round(new["s"] / old["s"], 2),
                           "same_numbers": bool(same)}
    finally:
        drop_worktree(before)
    for m, r in rows.items():
        print(f"{m:28} before {r['before_s']:6.2f} s   after {r['after_s']:6.2f} s   ({r['ratio']}x)   "
              f"same numbers: {r['same_numbers']}")
    save("bench_senses_fit", {"baseline_commit": args.before, "models": rows})


if __name__ == "__main__":
    main()
