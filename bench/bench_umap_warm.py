"""What UMAP's warm-up costs each new process once numba's disk cache is filled: the reason it now runs
when a page that offers UMAP is visited rather than at every start (``app_pages/ui/models.warm_umap``).

Three fresh processes on one empty numba cache: the first fills it, the next two are timed (wall and
CPU seconds of ``latent.core.project.warm_up``).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_umap_warm.py``
"""
import tempfile

from _common import fresh, save

CODE = """
import json, resource, time
from latent.core.project import warm_up, warm_seconds
c = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
warm_up()
e = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(e.ru_utime + e.ru_stime - c.ru_utime - c.ru_stime, 2),
                  "import_s": round(warm_seconds["import"], 2), "small_maps_ready_s": round(warm_seconds["small"], 2)}))
"""

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        runs = [fresh(CODE, {"NUMBA_CACHE_DIR": d}, timeout=900) for _ in range(3)]
    save("umap_warm", {"empty_cache": runs[0], "filled_cache": runs[1:]})
