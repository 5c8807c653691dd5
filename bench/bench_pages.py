"""Compute time of the Senses page (queen: 6 senses x 8 sentences + 5 steps, every layer) and of each
seed-claim experiment's default run, each also as a multiple of a machine-speed baseline measured in
the same run: one plain forward pass over 1,000 tokens (so the figures compare across machines)."""
import time

import numpy as np
from _common import save

from latent.claims import registry, run
from latent.core.models import load_lm
from latent.senses.sets import get_builtin
from latent.senses.study import QUEEN_STEPS, analyze

if __name__ == "__main__":
    import torch

    lm = load_lm()
    x = torch.tensor(np.random.default_rng(0).integers(300, 40000, size=(10, 100)))
    with torch.inference_mode():
        lm.model.base_model(x)
        t = time.perf_counter()
        lm.model.base_model(x)
        base = time.perf_counter() - t
    out = {"baseline_forward_1000_tokens_s": round(base, 3)}
    for readout in ("echo", "word"):
        t = time.perf_counter()
        analyze(lm, get_builtin("queen"), QUEEN_STEPS, readout=readout)
        s = time.perf_counter() - t
        out[f"senses_queen_{readout}_s"] = round(s, 2)
        out[f"senses_queen_{readout}_x_baseline"] = round(s / base, 1)
    for name in registry():
        t = time.perf_counter()
        r = run(name, lm)
        s = time.perf_counter() - t
        out[f"{name}_s"] = round(s, 2)
        out[f"{name}_x_baseline"] = round(s / base, 1)
        out[f"{name}_verdict"] = r.verdict
    save("pages", out)
