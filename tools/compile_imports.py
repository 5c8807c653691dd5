"""Byte-compile the modules the app and its tests import, once, right after an install.

`make setup` installs with ``pip --no-compile`` (pip would compile all of torch's thousands of files). Python
then compiles a module the first time a process imports it, but a test run starts many processes at
once (two test processes, an app server, CLI subprocesses, Ray workers), and each one that imports a
module before a ``.pyc`` exists compiles it again. This imports what they use in two processes side by
side (one per core), so every later process finds the files compiled. A package that is not installed
(the cluster extra, before ``make cluster``) is skipped.

A third process fills numba's disk cache (the app's cache folder) with UMAP's small-map code, one small
fit: every later process (an app start, a test process, a CLI) then loads it in a fraction of a second
instead of compiling it for ~16 s of a core (measured on the 2-core machine: 15.8 s cold, 0.2 s cached).

    python tools/compile_imports.py            # what the app and the tests import
    python tools/compile_imports.py ray        # only these (after `make cluster` installs Ray)
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# two halves of about equal compile time; a module both halves reach is compiled by whichever gets there first
HALVES = (
    ["torch", "transformers", "transformers.models.llama.modeling_llama", "transformers.models.gemma3.modeling_gemma3",
     "sentence_transformers", "gguf", "accelerate", "safetensors", "latent.cli", "latent.core.models",
     "latent.serving.backends", "latent.concepts.sae", "ray"],
    ["streamlit", "streamlit.testing.v1", "plotly.graph_objects", "plotly.express", "kaleido", "umap", "pynndescent",
     "sklearn.decomposition", "sklearn.linear_model", "pandas", "scipy.stats", "segno", "fpdf", "diskcache",
     "playwright.sync_api", "pytest", "xdist", "app_pages.ui.frame"],
)

IMPORT = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ImportError:
        pass        # not installed here (the cluster extra before `make cluster`)
"""


# UMAP's small-map path (exact neighbours) into numba's disk cache, as the app's warm-up would compile it
FIT = "from latent.core.project import warm_up; warm_up(large=False)"


def main(names: list[str]) -> int:
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", IMPORT, *half], cwd=ROOT) for half in ([names] if names else HALVES)]
    if not names:
        procs.append(subprocess.Popen([sys.executable, "-c", FIT], cwd=ROOT))
    rcs = [p.wait() for p in procs]
    what = "the imported modules" + ("" if names else " and UMAP's small-map code")
    print(f"compiled {what} in {time.perf_counter() - t0:.0f} s")
    return max(rcs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
