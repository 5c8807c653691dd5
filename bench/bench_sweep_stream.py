"""A sweep's first card and last meter: the Latent walk's default sweep through the app's scheduler,
from the click to the first card showing text (the cards now fill in as the batch decodes) and to the
result with its meters. Before this change the cards appeared only with the result, so in the same run
"first card before" is the time to the result. Same process, best of 2.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_sweep_stream.py [--model M]``
"""
import argparse
import sys
import time

from _common import save

from latent.core.models import load_encoder, load_lm
from latent.serving.scheduler import Scheduler
from latent.steering.presets import build, default_sweep
from latent.steering.walk import sweep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    lm, enc = load_lm(args.model), load_encoder()
    ds = default_sweep(lm)
    d = build(lm, ds.preset, layer=ds.layer)
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
        sw = sweep(lm, enc, list(ds.prompts), d, ds.strengths, max_new_tokens=ds.max_new_tokens, seeds=ds.seeds,
                   runner=runner, on_token=on_token)
        runs.append((first[0] if first else None, time.perf_counter() - t0, len(sw.rows)))
    best = min(runs, key=lambda r: r[1])
    save(f"sweep_stream_{lm.name}", {"model": lm.name, "rows": best[2], "tokens": ds.max_new_tokens,
                                     "first_card_s": round(best[0], 2), "last_meter_s": round(best[1], 2),
                                     "first_card_before_s": round(best[1], 2),
                                     "runs": [[round(a, 2) if a else None, round(b, 2), n] for a, b, n in runs]})


if __name__ == "__main__":
    sys.exit(main())
