"""First UMAP in a fresh process (plain umap-learn, cosine on 576-D, empty numba cache) against the
app's path in a fresh process: the start-up warm-up has run, then Projector (PCA-50 front, seeded)."""
import tempfile

from _common import fresh, save

CODE = """
import json, os, time
import numpy as np
N = int(os.environ["N"])
rng = np.random.default_rng(0)
centers = rng.normal(size=(40, 576)) * 3
X = (centers[rng.integers(0, 40, N)] + rng.normal(size=(N, 576))).astype(np.float32)
t = time.perf_counter()
w = 0.0
if os.environ.get("PLAIN"):
    import umap
    umap.UMAP(random_state=0, metric="cosine").fit_transform(X)
else:
    from latent.core.project import Projector, warm_up
    w = warm_up() if os.environ.get("WARM") else 0.0
    t = time.perf_counter()
    Projector("umap", seed=0).fit_transform(X)
print(json.dumps({"fit_s": round(time.perf_counter() - t, 2), "warm_up_s": round(w, 2)}))
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
                         "ours_warm_up_off_request_path_s": ours["warm_up_s"],
                         "ours_fit_after_warmup_s": ours["fit_s"], "ours_process_s": ours["process_wall_s"],
                         "ratio_plain_over_ours_fit": round(plain["fit_s"] / max(ours["fit_s"], 1e-3), 2)}
    save("umap_first", out)
