"""Model start for each embedded model: GGUF dequantize (empty cache) against the cached safetensors
load, each in a fresh process, both in the same run."""
import sys
import tempfile

from _common import fresh, save

CODE = """
import json, time
t = time.perf_counter()
from latent.core.models import load_lm
lm = load_lm({name!r})
print(json.dumps({{"load_s": round(time.perf_counter() - t, 2), "card_load_s": round(lm.load_seconds, 2)}}))
"""

if __name__ == "__main__":
    out = {}
    for name in sys.argv[1:] or ["SmolLM2-135M-Instruct", "gemma-3-270m"]:
        with tempfile.TemporaryDirectory() as d:
            cold = fresh(CODE.format(name=name), {"LATENT_CACHE_DIR": d})
            warm = fresh(CODE.format(name=name), {"LATENT_CACHE_DIR": d})
        out[name] = {"gguf_dequantize": cold, "cached": warm,
                     "ratio_cold_over_cached": round(cold["process_wall_s"] / warm["process_wall_s"], 2)}
    save("model_start", out)
