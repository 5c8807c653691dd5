"""Abstention coverage per shipped sense set and model (issue 37, item 7): through the library's own fit
(:func:`latent.senses.study.fit_senses`), per model and word, the layer used, coverage, selective accuracy
and the sense-free named rate with their 95 % intervals and n (the set's own sentences, each left out of its
centroid; sense-free contexts cross-fitted), and the held-out check behind a printed p
(``assets/senses_heldout.json``: coverage and accuracy on sentences in no fit). The goal: coverage ≥ 0.8 at
selective accuracy ≥ 0.95 with ≤ 0.1 sense-free named.

Usage: ``python bench/bench_senses_coverage.py [--models SmolLM2-135M-Instruct,gemma-3-270m] [--words bank,mouse]
[--name bench_senses_coverage]``. One model at a time, in this process; writes ``bench/results/<name>.json``.
"""
import argparse
import time

from _common import save

from latent.core.models import load_lm
from latent.core.stats import clopper_pearson
from latent.senses.sets import builtin_sets
from latent.senses.study import fit_senses

GOAL = {"coverage": 0.8, "selective_accuracy": 0.95, "null_named_rate": 0.1}


def row(lm, sset) -> dict:
    t = time.perf_counter()
    f = fit_senses(lm, sset)
    a, s = f.rule, f.support
    r = lambda x: None if x is None else round(float(x), 4)  # noqa: E731
    out = {"layer": f.use, "n": a.n, "coverage": r(a.coverage), "coverage_ci": [r(x) for x in a.coverage_ci],
           "selective_accuracy": r(a.selective_accuracy), "selective_ci": [r(x) for x in a.selective_ci],
           "null_named_rate": r(a.null_named_rate), "null_ci": [r(x) for x in a.null_ci], "n_null": a.n_null,
           "threshold": r(a.threshold), "separable": a.separable, "fit_s": round(time.perf_counter() - t, 1)}
    named = s.n - s.n_null_named                                # held-out sentences named (the rest of s.n is sense-free)
    if "held-out sentences" in s.domain:
        out["heldout"] = {"n": s.n_sentences, "named": named, "right": s.right,
                          "coverage": r(named / s.n_sentences), "coverage_ci": [r(x) for x in clopper_pearson(named, s.n_sentences)],
                          "selective_accuracy": r(s.right / named) if named else None,
                          "selective_ci": [r(x) for x in clopper_pearson(s.right, named)] if named else None,
                          "p_ceiling": r(s.ceiling)}
    out["meets_goal"] = bool(a.coverage >= GOAL["coverage"] and a.selective_accuracy >= GOAL["selective_accuracy"]
                             and a.null_named_rate <= GOAL["null_named_rate"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="SmolLM2-135M-Instruct,gemma-3-270m")
    ap.add_argument("--words", default="", help="comma-separated; all shipped sets when empty")
    ap.add_argument("--name", default="bench_senses_coverage")
    args = ap.parse_args()
    sets = builtin_sets()
    words = [w for w in (args.words.split(",") if args.words else sets)]
    res = {"goal": GOAL, "models": {}}
    for model in args.models.split(","):
        lm = load_lm(model)
        res["models"][model] = rows = {}
        for w in words:
            rows[w] = x = row(lm, sets[w])
            h = x.get("heldout") or {}
            print(f"{model:24} {w:8} L{x['layer']:<2} n={x['n']:3} cov {x['coverage']:.2f} "
                  f"[{x['coverage_ci'][0]:.2f}, {x['coverage_ci'][1]:.2f}]  sel {x['selective_accuracy']:.2f} "
                  f"[{x['selective_ci'][0]:.2f}, {x['selective_ci'][1]:.2f}]  null {x['null_named_rate']:.2f} "
                  f"[{x['null_ci'][0]:.2f}, {x['null_ci'][1]:.2f}]  held-out "
                  + (f"{h['named']}/{h['n']} named, {h['right']} right" if h else "none")
                  + ("  GOAL" if x["meets_goal"] else ""), flush=True)
        del lm
    save(args.name, res)


if __name__ == "__main__":
    main()
