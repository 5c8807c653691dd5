"""What the matched controls cost: the Latent walk's default sweep now against the default sweep of an
old commit, each in a fresh process on the same machine in the same run (the old code is checked out
in a git worktree). Reports rows, decode seconds and wall seconds of the sweep call, and the ratio.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_sweep_cost.py [--base f3c1a64] [--model M]``
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, fresh, save

OLD = """
import json, sys, time
sys.path.insert(0, {root!r})
from latent.core.models import load_encoder, load_lm
from latent.walk.presets import STRENGTH, build, load_presets
from latent.walk.paths import sweep
lm, enc = load_lm({model!r}), load_encoder()
name = "Love − Hate"
p, s = load_presets()[name], STRENGTH[name]
d = build(lm, name)
sweep(lm, enc, p["prompt"], d, [-s, 0.0, s], max_new_tokens=4)          # warm-up (norms, encoder)
t = time.perf_counter()
sw = sweep(lm, enc, p["prompt"], d, [-s, 0.0, s], max_new_tokens=40)   # the page's default before
print(json.dumps({{"rows": len(sw.rows), "decode_s": round(sw.seconds, 2), "sweep_s": round(time.perf_counter() - t, 2),
                  "units": sw.n_units, "random_directions": int(sw.recipe["n_random"])}}))
"""

NEW = """
import json, sys, time
sys.path.insert(0, {root!r})
from latent.core.models import load_encoder, load_lm
from latent.walk.spec import SweepSpec
lm, enc = load_lm({model!r}), load_encoder()
ds = SweepSpec.default(lm)
d = ds.direction(lm)
from latent.walk.paths import sweep
sweep(lm, enc, ds.prompts[0], d, ds.strengths, max_new_tokens=4)        # warm-up (norms, encoder)
t = time.perf_counter()
sw = ds.run(lm, enc, direction=d)                                         # the page's default now
print(json.dumps({{"rows": len(sw.rows), "decode_s": round(sw.seconds, 2), "sweep_s": round(time.perf_counter() - t, 2),
                  "units": sw.n_units, "random_directions": int(sw.recipe["n_random"]), "verdict": sw.band_verdict()}}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="f3c1a64", help="the commit whose default sweep is the baseline")
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wt = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            old = fresh(OLD.format(root=str(wt), model=args.model), timeout=900)
            new = fresh(NEW.format(root=str(ROOT), model=args.model), timeout=900)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT, capture_output=True)
    save("sweep_cost", {"base_commit": args.base, "old_default_sweep": old, "new_default_sweep": new,
                        "rows_ratio": round(new["rows"] / old["rows"], 2),
                        "sweep_seconds_ratio": round(new["sweep_s"] / old["sweep_s"], 2)})


if __name__ == "__main__":
    sys.exit(main())
