"""Byte-compile the modules the app and its tests import, once, right after an install.

`make setup` installs with ``pip --no-compile`` (pip would compile all of torch's thousands of files). Python
then compiles a module the first time a process imports it, but a test run starts many processes at
once (two test processes, an app server, CLI subprocesses, Ray workers), and each one that imports a
module before a ``.pyc`` exists compiles it again. This imports what they use in two processes side by
side (one per core), so every later process finds the files compiled. A package that is not installed
(the cluster extra, before ``make cluster``) is skipped.

It writes the ``.pyc`` files even where the shell sets ``PYTHONDONTWRITEBYTECODE`` (our CI machines do): that
variable only stops a process *writing* them, and every later process still reads them. Without this, each
process of a test run compiled everything it imported again (a clean-clone ``.ci/run``: pytest 685 s, against
537 s with the files compiled). Ray's own processes (raylet workers, the cluster tests' nodes) and Streamlit's
server import far more than ``import ray`` or ``import streamlit`` reach, so those two packages, and this
repository's own code, are compiled whole (``compileall``: about 5 s of a core for Ray's 2,579 files).

A third process fills numba's disk cache (the app's cache folder) with UMAP's small-map code, one small
fit: every later process (an app start, a test process, a CLI) then loads it in a fraction of a second
instead of compiling it for ~16 s of a core (measured on the 2-core machine: 15.8 s cold, 0.2 s cached).

    python tools/compile_imports.py            # what the app and the tests import
    python tools/compile_imports.py ray        # only these (after `make cluster` installs Ray)
"""
from __future__ import annotations

import os
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


# packages whose other processes (Ray's workers and nodes, Streamlit's server) import much more than the package's
# top module, compiled whole; and this repository's own code, which every test process, app server and CLI imports
WHOLE = ("ray", "streamlit")
OWN = ("latent", "app_pages", "tests", "bench", "tools", "app.py")

COMPILE = """
import compileall, importlib.util, sys
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.submodule_search_locations:
        compileall.compile_dir(list(spec.submodule_search_locations)[0], quiet=1, workers=1)
"""

# UMAP's small-map path (exact neighbours) into numba's disk cache, as the app's warm-up would compile it
FIT = "from latent.core.project import warm_up; warm_up(large=False)"


def main(names: list[str]) -> int:
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}     # this step's job is to write them

    def start(*args):
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)

    procs = [start("-c", IMPORT, *half) for half in ([names] if names else HALVES)]
    whole = [w for w in WHOLE if not names or w in names]
    if whole:
        procs.append(start("-c", COMPILE, *whole))
    if not names:
        procs.append(start("-m", "compileall", "-q", *[str(ROOT / o) for o in OWN]))
        procs.append(start("-c", FIT))
    rcs = [p.wait() for p in procs]
    what = "the imported modules" + ("" if names else " and UMAP's small-map code")
    print(f"compiled {what} in {time.perf_counter() - t0:.0f} s")
    return max(rcs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
