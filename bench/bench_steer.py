"""Steering sweeps, measured side by side in one process:
1. 9 strengths x 40 tokens in one batched call (ours) against 9 sequential `model.generate` calls
   (the way repeng and the ActAdd code do it);
2. the evidence sweep (5 strengths x 3 seeds + baseline per seed + 5 random directions of the same
   norm, one batched decode, with meters) against the old single-sample greedy sweep (5 rows)."""
import time

import numpy as np
from _common import save

from latent.core.generate import generate
from latent.core.hooks import use
from latent.core.models import load_lm
from latent.walk.presets import build
from latent.walk.steer import steering, steering_plan

if __name__ == "__main__":
    import torch

    lm = load_lm()
    d = build(lm, "Love − Hate")
    strengths = list(np.round(np.linspace(-0.4, 0.4, 9), 2))
    prompt = "I think that you"
    ids = torch.tensor([[1] + lm.tokenizer(prompt).input_ids])
    t = time.perf_counter()
    seq = []
    for s in strengths:
        with steering(lm, d, s):
            seq.append(lm.model.generate(ids, max_new_tokens=40, min_new_tokens=40, do_sample=False)[0, ids.shape[1]:])
    seq_s = time.perf_counter() - t
    t = time.perf_counter()
    with use(steering_plan(lm, d, strengths)):
        gen = generate(lm, [prompt] * 9, max_new_tokens=40)
    batch_s = time.perf_counter() - t
    same = sum(a.tolist()[: len(b)] == b for a, b in zip(seq, gen.token_ids))
    from latent.core.models import load_encoder
    from latent.walk.paths import sweep

    enc = load_encoder()
    five = [-0.4, -0.2, 0.0, 0.2, 0.4]
    sweep(lm, enc, prompt, d, five, max_new_tokens=8, do_sample=False, n_random=0)  # warm-up (norms, encoder)
    t = time.perf_counter()
    old = sweep(lm, enc, prompt, d, five, max_new_tokens=40, do_sample=False, n_random=0)
    old_s = time.perf_counter() - t
    t = time.perf_counter()
    new = sweep(lm, enc, prompt, d, five, max_new_tokens=40)
    new_s = time.perf_counter() - t
    save("steer_evidence", {"old_single_sample_sweep": {"rows": len(old.rows), "seconds": round(old_s, 2)},
                            "evidence_sweep": {"rows": len(new.rows), "seconds": round(new_s, 2),
                                               "decode_seconds": round(new.seconds, 2)},
                            "ratio_new_over_old": round(new_s / old_s, 2),
                            "rows_ratio": round(len(new.rows) / len(old.rows), 2),
                            "love_hate_finding": new.finding()})
    save("steer", {"sweep": "9 strengths x 40 tokens, greedy", "device": lm.device, "dtype": lm.dtype,
                   "sequential_generate_s": round(seq_s, 2), "batched_s": round(batch_s, 2),
                   "speedup": round(seq_s / batch_s, 2),
                   "sequential_tok_per_s": round(9 * 40 / seq_s, 1), "batched_tok_per_s": round(gen.new_tokens / batch_s, 1),
                   "rows_equal_to_sequential": f"{same}/9"})
