"""UMAP's compile in a second fresh process, with umap-learn's functions in numba's on-disk cache
(``import_umap``, today) against a plain ``import umap`` (pynndescent cached, umap-learn not: before),
in the same run. Each side gets its own empty cache folder; a first process fills it, and the figure is
the second process's warm-up (one small and one large fit), in CPU seconds and wall seconds."""
import tempfile

from _common import fresh, save

CODE = """
import json, os, time
import latent.core.project as project
if os.environ.get("PLAIN"):                       # before: umap-learn imported as it is
    def plain():
        project.configure_numba()
        import umap
        return umap
    project.import_umap = plain
t, c = time.perf_counter(), time.process_time()
project.warm_up()
print(json.dumps({"warm_up_s": round(time.perf_counter() - t, 2), "warm_up_cpu_s": round(time.process_time() - c, 2)}))
"""

if __name__ == "__main__":
    out = {}
    for side, env in (("plain import (before)", {"PLAIN": "1"}), ("import_umap (cached)", {})):
        with tempfile.TemporaryDirectory() as d:
            first = fresh(CODE, {**env, "NUMBA_CACHE_DIR": d})
            second = fresh(CODE, {**env, "NUMBA_CACHE_DIR": d})
        out[side] = {"first_process": first, "second_process": second}
    b, a = out["plain import (before)"]["second_process"], out["import_umap (cached)"]["second_process"]
    out["second_process_cpu_ratio_before_over_after"] = round(b["warm_up_cpu_s"] / max(a["warm_up_cpu_s"], 1e-3), 2)
    save("umap_cache", out)
