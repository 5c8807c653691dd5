"""First UMAP in a fresh process (empty numba cache) against our path (numba cache + warm-up)."""
import tempfile

from _common import fresh, save

CODE = """
import json, os, time
import numpy as np
N = int(os.environ["N"])
X = np.random.default_rng(0).normal(size=(N, 576)).astype(np.float32)
t = time.perf_counter()
if os.environ.get("PLAIN"):
    import umap
    umap.UMAP(random_state=0).fit_transform(X)
else:
    from latent.project import Projector, warm_up
    w = warm_up() if os.environ.get("WARM") else 0.0
    t = time.perf_counter()
    Projector("umap", seed=0, metric="euclidean").fit_transform(X)
print(json.dumps({"fit_s": round(time.perf_counter() - t, 2)}))
"""

if __name__ == "__main__":
    out = {}
    for n in (2000, 10000):
        with tempfile.TemporaryDirectory() as d:
            plain = fresh(CODE, {"N": str(n), "PLAIN": "1", "NUMBA_CACHE_DIR": d})
        with tempfile.TemporaryDirectory() as d:
            fresh(CODE, {"N": "300", "NUMBA_CACHE_DIR": d, "WARM": "1"})       # fills the numba cache
            ours = fresh(CODE, {"N": str(n), "NUMBA_CACHE_DIR": d, "WARM": "1"})  # as the app: warm-up first
        out[f"N={n}"] = {"plain_first_call_s": plain["fit_s"], "plain_process_s": plain["process_wall_s"],
                         "ours_fit_after_warmup_s": ours["fit_s"], "ours_process_s": ours["process_wall_s"],
                         "ratio_plain_over_ours_fit": round(plain["fit_s"] / max(ours["fit_s"], 1e-3), 2)}
    save("umap_first", out)
