"""Model start for each embedded model, today's code against an older commit (a worktree) in the same run.

Per side and model, each in a fresh process: the *first* start (an empty cache: join the GGUF parts,
parse, dequantise, write the safetensors copy) and the *cached* start (the copy that first start wrote),
wall seconds including imports. And the *in-app* start: Gemma 3 from the cache in a process that has
loaded SmolLM2 already (the app loads the default model at start; a click on Gemma pays this).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_model_start.py [--before COMMIT] [MODEL ...]``
"""
import argparse
import tempfile

from _common import ROOT, drop_worktree, fresh_at, save, worktree

CODE = """
import json, time
t = time.perf_counter()
from latent.core.models import load_lm
for name in {names!r}[:-1]:
    load_lm(name)
t = time.perf_counter() if {names!r}[:-1] else t
lm = load_lm({names!r}[-1])
print(json.dumps({{"load_s": round(time.perf_counter() - t, 2), "card_load_s": round(lm.load_seconds, 2)}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="3f1898a", help="the baseline commit (default: before the one-parse build)")
    ap.add_argument("models", nargs="*", default=["SmolLM2-135M-Instruct", "gemma-3-270m"])
    a = ap.parse_args()
    tree = worktree(a.before)
    out = {"before_commit": a.before}
    try:
        for side, root in (("before", tree), ("after", ROOT)):
            for name in a.models:
                with tempfile.TemporaryDirectory() as d:
                    env = {"LATENT_CACHE_DIR": d}
                    first = fresh_at(root, CODE.format(names=[name]), env)
                    cached = fresh_at(root, CODE.format(names=[name]), env)
                    row = {"first_start_wall_s": first["process_wall_s"], "cached_start_wall_s": cached["process_wall_s"],
                           "cached_card_load_s": cached["card_load_s"]}
                    if name != "SmolLM2-135M-Instruct":
                        fresh_at(root, CODE.format(names=["SmolLM2-135M-Instruct"]), env)      # its cache, not timed
                        row["in_app_after_smollm2_s"] = fresh_at(root, CODE.format(
                            names=["SmolLM2-135M-Instruct", name]), env)["load_s"]
                out[f"{side} {name}"] = row
                print(side, name, row, flush=True)
    finally:
        drop_worktree(tree)
    save("model_start", out)


if __name__ == "__main__":
    main()
