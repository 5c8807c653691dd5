"""A sweep's prompt pass with and without running the blocks above the steering layer once per group of
equal rows (one prompt, one vector: a sweep's seeds), in one process, best of 3 each, and whether the
first tokens' log-probabilities agree.

Two sweeps of the default preset at its measured layer and strength: the page's default (8 prompts, one
seed each: every row is distinct, so there is nothing to share) and a 3-seed sweep of 2 prompts.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_prompt_pass.py [--model M]``
"""
import argparse
import sys
import time

import numpy as np
from _common import save

from latent.core import generate as gen
from latent.core.models import load_encoder, load_lm
from latent.walk.paths import sweep
from latent.walk.spec import SweepSpec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="SmolLM2-135M-Instruct")
    args = ap.parse_args(argv)
    lm, enc = load_lm(args.model), load_encoder()
    ds = SweepSpec.default(lm)
    d = ds.direction(lm)
    real_prefill, real_rows = gen.prefill, gen._distinct_rows
    seen = {}

    def timed(*a, **k):
        t = time.perf_counter()
        out = real_prefill(*a, **k)
        seen["s"], seen["rows"], seen["logits"] = time.perf_counter() - t, len(a[1]), out[1].numpy().copy()
        return out

    def distinct(h, *rest):
        u, inv = real_rows(h, *rest)
        seen["distinct"] = len(h) if u is None else len(u)
        return u, inv

    gen.prefill = timed
    sweeps = {"default (8 prompts, 1 seed)": (list(ds.prompts), ds.seeds),
              "3 seeds (2 prompts)": (list(ds.prompts)[:2], (0, 1, 2))}
    sweep(lm, enc, ds.prompts[0], d, ds.strengths, max_new_tokens=1, seeds=(0,), n_random=1)     # warm-up
    out = {}
    try:
        for name, (prompts, seeds) in sweeps.items():
            res = {}
            for mode in ("each row", "once per equal rows"):
                gen._distinct_rows = (lambda *a: (None, None)) if mode == "each row" else distinct
                ts = []
                for _ in range(3):
                    sweep(lm, enc, prompts, d, ds.strengths, max_new_tokens=1, seeds=seeds)
                    ts.append(seen["s"])
                res[mode] = (round(min(ts), 3), seen["logits"])
            out[name] = {"rows": seen["rows"], "distinct_above": seen.get("distinct", seen["rows"]),
                         "each_row_s": res["each row"][0], "shared_s": res["once per equal rows"][0],
                         "ratio": round(res["once per equal rows"][0] / res["each row"][0], 2),
                         "max_abs_logit_diff": float(np.abs(res["each row"][1] - res["once per equal rows"][1]).max())}
            seen.pop("distinct", None)
    finally:
        gen.prefill, gen._distinct_rows = real_prefill, real_rows
    for k, r in out.items():
        print(f"{k:30} {r['rows']:4} rows, {r['distinct_above']:4} distinct above layer {ds.layer}: "
              f"{r['each_row_s']:.2f} -> {r['shared_s']:.2f} s ({r['ratio']}x), logits differ by {r['max_abs_logit_diff']:.1e}")
    save(f"prompt_pass_{lm.name}", {"model": lm.name, "layer": ds.layer, "sweeps": out})


if __name__ == "__main__":
    sys.exit(main())
