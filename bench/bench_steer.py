"""Steering sweep: 9 strengths x 40 tokens in one batched call (ours) against 9 sequential
`model.generate` calls (the way repeng and the ActAdd code do it), measured side by side."""
import time

import numpy as np
from _common import save

from latent.core.generate import generate
from latent.core.hooks import use
from latent.core.models import load_lm
from latent.steering.presets import build
from latent.steering.steer import steering, steering_plan

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
    save("steer", {"sweep": "9 strengths x 40 tokens, greedy", "device": lm.device, "dtype": lm.dtype,
                   "sequential_generate_s": round(seq_s, 2), "batched_s": round(batch_s, 2),
                   "speedup": round(seq_s / batch_s, 2),
                   "sequential_tok_per_s": round(9 * 40 / seq_s, 1), "batched_tok_per_s": round(gen.new_tokens / batch_s, 1),
                   "rows_equal_to_sequential": f"{same}/9"})
