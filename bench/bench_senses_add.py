"""A student adds one context word on the Senses page: before, every change re-ran the whole analysis
(200 shuffles, nested layer choice, the baselines, every step and 24 word orders); now the per-set fit
comes from the store and only the new step is scored, then the word-order control fills in. Same
process, same model, the queen set and the seed thread's steps plus one word ("nectar"), best of 2.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_senses_add.py [--model M]``
"""
import argparse
import sys

from _common import best, save

from latent.core.models import load_encoder, load_lm
from latent.senses.sets import get_builtin
from latent.senses.study import QUEEN_STEPS, analyze, fit_senses, score_steps, word_orders


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    lm, enc = load_lm(args.model), load_encoder()
    sset = get_builtin("queen")
    steps = QUEEN_STEPS + ["nectar " + QUEEN_STEPS[-1]]
    analyze(lm, sset, QUEEN_STEPS[:2], encoder=enc)                       # warm-up
    before = round(best(lambda: analyze(lm, sset, steps, encoder=enc), 2), 2)          # what every change cost before
    fit_s = round(best(lambda: fit_senses(lm, sset, encoder=enc), 2), 2)                # once per set (then from the store)
    f = fit_senses(lm, sset, encoder=enc)
    step_s = round(best(lambda: score_steps(lm, f, steps[-1:]), 2), 2)                 # the new word's step: the meter
    orders_s = round(best(lambda: word_orders(lm, f, steps), 2), 2)                     # then the word-order control
    save(f"senses_add_{lm.name}", {"model": lm.name, "steps": len(steps), "before_whole_analysis_s": before,
                                   "fit_once_per_set_s": fit_s, "new_step_s": step_s,
                                   "word_order_control_s": orders_s,
                                   "after_meter_s": step_s, "after_with_controls_s": round(step_s + orders_s, 2)})


if __name__ == "__main__":
    sys.exit(main())
