"""What re-scoring typicality from the steering layer saves: the requests of the Latent walk's default
sweep (recorded as the page makes them), decoded with typicality re-scored by the whole unsteered model
(``partial=False``, the code before) and from the steering layer up (``partial=True``), and decoded with
no typicality at all (the decode's own cost). Same process, same model, runs interleaved, best of 3.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_rescoring.py [--model M]``
"""
import argparse
import dataclasses
import sys
import time

import numpy as np
import torch
from _common import save

import latent.walk.paths as walk
from latent.core.decode import decode_rows
from latent.core.models import load_encoder, load_lm
from latent.walk.spec import SweepSpec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    lm, enc = load_lm(args.model), load_encoder()
    seen = []

    def recording(lm_, requests, on_token=None, partial=True):
        seen.extend(requests)
        return decode_rows(lm_, requests, on_token=on_token, partial=partial)
    walk.decode_rows = recording
    try:
        SweepSpec.default(lm).run(lm, enc)
    finally:
        walk.decode_rows = decode_rows
    reqs = [r for r in seen if r.typicality]
    bare = [dataclasses.replace(r, typicality=False) for r in reqs]
    times = {"full": [], "partial": [], "no_typicality": []}
    diffs = []
    for _ in range(args.repeats):
        for name, rs, part in (("full", reqs, False), ("partial", reqs, True), ("no_typicality", bare, True)):
            t = time.perf_counter()
            out = [decode_rows(lm, [r], partial=part)[0] for r in rs]
            times[name].append(time.perf_counter() - t)
            if name == "full":
                full = out
            elif name == "partial":
                diffs += [float(np.nanmax(np.abs(a.extra["typicality"] - b.extra["typicality"])))
                          for a, b in zip(out, full)]
    best = {k: round(min(v), 2) for k, v in times.items()}
    score_full, score_part = best["full"] - best["no_typicality"], best["partial"] - best["no_typicality"]
    save(f"rescoring_{lm.name}", {
        "model": lm.name, "requests": len(reqs), "rows": sum(r.rows for r in reqs),
        "layers": sorted({r.layer for r in reqs}), "n_layers": lm.n_layers, "best_of": args.repeats,
        "seconds": best, "rescoring_seconds_full": round(score_full, 2),
        "rescoring_seconds_partial": round(score_part, 2),
        "rescoring_ratio": round(score_part / score_full, 2) if score_full > 0 else None,
        "sweep_ratio": round(best["partial"] / best["full"], 2),
        "max_abs_typicality_difference": max(diffs)})


if __name__ == "__main__":
    sys.exit(main())
