"""Model start: GGUF dequantize (empty cache) against the cached safetensors load, fresh processes."""
import tempfile

from _common import fresh, save

CODE = """
import json, time
t = time.perf_counter()
from latent.models import load_lm
lm = load_lm()
print(json.dumps({"load_s": round(time.perf_counter() - t, 2), "card_load_s": round(lm.load_seconds, 2)}))
"""

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        cold = fresh(CODE, {"LATENT_CACHE_DIR": d})
        warm = fresh(CODE, {"LATENT_CACHE_DIR": d})
    save("model_start", {"gguf_dequantize": cold, "cached": warm,
                         "ratio_cold_over_cached": round(cold["process_wall_s"] / warm["process_wall_s"], 2)})
