"""The massive-token numbers of docs/models.md ("Massive tokens"): per layer, the share of points flagged by
the rule (latent/core/massive.py) and of the squared norm they hold, the largest unflagged ratio, and the
Love − Hate preset's direction with and without them. Not a benchmark (run_all skips it)::

    python bench/measure_massive.py smollm2      # or gemma; about a minute on two CPU cores
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from latent.core.corpus import load_corpus  # noqa: E402
from latent.core.direction import Direction  # noqa: E402
from latent.core.hidden import hidden_states  # noqa: E402
from latent.core.massive import massive_rule  # noqa: E402
from latent.core.models import load_lm  # noqa: E402
from latent.walk.presets import load_presets  # noqa: E402

TEXTS = [
 "The queen of the hive laid her eggs.", "Hello, how are you today?", "Water boils at a hundred degrees.",
 "I think that you are right.", "My train leaves at seven.", "A recipe for bread needs flour, water and salt.",
 "The printer is out of paper again.", "She walked to the market in the rain.", "Why do cats sleep so much?",
 "In 1969 humans first walked on the Moon.", "Please send me the report by Friday.", "Dogs bark at strangers.",
 "Love fills my heart with warmth.", "I hate spending time with my family.", "It was a dark and stormy night.",
 "Quantum computers use qubits instead of bits.", "Turn left at the second traffic light.",
 "the river bank was muddy after the flood", "He deposited the cheque at the bank.", "Mice eat cheese.",
 "Computer mouse buttons wear out.", "Once upon a time there lived a king.", "Photosynthesis turns light into sugar.",
 "What time is it?", "Yesterday I bought three apples and a pear.", "Our meeting was moved to Tuesday.",
 "Good morning! The coffee is ready.", "Paris is the capital of France.", "x = 3 + 4 * y", "def f(x): return x + 1",
 "Thank you for your help.", "Mountains are covered in snow in winter.", "The stock market fell sharply.",
 "Can you recommend a good book?", "Birds migrate south for the winter.", "An apple a day keeps the doctor away.",
 "Music makes people happy.", "Football is popular in Brazil.", "Wash your hands before dinner.",
 "42 is the answer.", "\"Stop!\" she shouted.", "Sunlight streamed through the window.",
]
for d in load_corpus()[:3]:
    TEXTS += [t.text[:300] for t in d.turns[:3]]


def main(name: str) -> dict:
    lm = load_lm(name, device="cpu")
    rule = massive_rule(lm)
    res = hidden_states(lm, TEXTS)
    out = {"model": lm.name, "texts": len(TEXTS), "points_per_layer": sum(len(r.tokens) for r in res), "layers": {}}
    for li in range(lm.n_layers + 1):
        n = np.concatenate([np.linalg.norm(r.states[li], axis=1) for r in res])
        first = np.concatenate([np.arange(len(r.tokens)) == 0 for r in res])
        m = n > rule.threshold(li)
        out["layers"][li] = {"flagged": round(float(m.mean()), 4), "first_words": int((m & first).sum()),
                             "others": int((m & ~first).sum()), "share_sq": round(float((n[m] ** 2).sum() / (n ** 2).sum()), 3),
                             "max_unflagged_ratio": round(float((n[~m] / rule.layer_median[li]).max()), 2)}
    p = load_presets()["Love − Hate"]
    for L in range(1, min(lm.n_layers, 12) + 1):
        a = Direction.from_texts(lm, p["positive"], p["negative"], L, pooling="mean")
        b = Direction.from_texts(lm, p["positive"], p["negative"], L, pooling="mean", keep_massive=True)
        out["layers"][L]["love_hate"] = {"cosine_without_with": round(float(a.unit() @ b.unit()), 3),
                                         "left_out": a.recipe["massive"]["left_out"], "tokens": a.recipe["massive"]["tokens"]}
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "smollm2"), indent=1))
