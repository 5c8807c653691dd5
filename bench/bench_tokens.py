"""Hidden-state explorer speed, each against a baseline measured in the same run:
hidden states for 32 prompts x 64 tokens (ours vs a plain HF forward with output_hidden_states),
and a layer-slider change (figure rebuilt from the cached map vs recomputing the map)."""
import time

import numpy as np
from _common import best, save

from latent.core.hidden import hidden_states
from latent.core.models import load_lm
from latent.states.figures import token_map_figure
from latent.states.map import token_map

if __name__ == "__main__":
    import torch

    lm = load_lm()
    rng = np.random.default_rng(0)
    ids = rng.integers(300, 40000, size=(32, 63))
    texts = [lm.tokenizer.decode(r) for r in ids]
    batch = torch.tensor(np.hstack([np.ones((32, 1), int), ids]))

    def plain():
        with torch.inference_mode():
            lm.model(batch, output_hidden_states=True)

    n_tok = sum(len(t.tokens) for t in hidden_states(lm, texts))
    base_s, ours_s = best(plain), best(lambda: hidden_states(lm, texts))
    ours_l12 = best(lambda: hidden_states(lm, texts, layers=[12]))
    prompts = texts[:16]
    t = time.perf_counter()
    tm = token_map(lm, prompts, range(31), method="pca")
    compute_s = time.perf_counter() - t
    slider_s = best(lambda: token_map_figure(tm.table, prompts, layer=20).to_json(), 3)
    save("tokens", {
        "hidden_states_32x64": {"tokens": n_tok, "plain_hf_all_layers_s": round(base_s, 2),
                                "ours_all_layers_s": round(ours_s, 2), "ours_tok_per_s": round(n_tok / ours_s),
                                "ratio_plain_over_ours": round(base_s / ours_s, 2),
                                "ours_layer12_only_s": round(ours_l12, 2),
                                "ratio_plain_over_ours_layer12": round(base_s / ours_l12, 2)},
        "slider_change": {"points": len(tm.table), "recompute_map_s": round(compute_s, 2),
                          "redraw_from_cache_s": round(slider_s, 3),
                          "ratio_recompute_over_redraw": round(compute_s / slider_s, 1)},
        "threads": torch.get_num_threads(), "dtype": lm.dtype})
