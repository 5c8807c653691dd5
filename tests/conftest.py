"""Shared fixtures: a tiny random Llama built from a config (no files), and the real model."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import APP_MODEL, ARTIFACTS, ROOT  # noqa: E402 - after sys.path is set

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# the result store stays off in tests (a stored result would skip the code a test runs); its own tests turn it on
os.environ.setdefault("LATENT_STORE", "off")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # a test's Ray stays on 127.0.0.1 (RECIPES)
os.environ.setdefault("LATENT_WARM", "off")          # lessons' background answers: on in their own test
os.environ.setdefault("LATENT_UMAP_WARM", "off")     # UMAP's background compile: "small" in the app servers, on in its own test
# `make test` splits the suite over 2 processes (pytest-xdist). Each test process computes with one torch
# thread; the app servers and CLIs a test starts keep the default (they mostly run while the browser
# test that started them waits). The class tests run in one process on one app server, the other browser
# tests in one process on another (or the same, when one process gets both groups); the Ray tests share
# one process (see pytest_xdist_make_scheduler).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _group(nodeid: str) -> str | None:
    """The tests that must share one process under xdist: every Ray test (two local clusters started at once
    would compete for the same cores and session folders), and the browser tests in two groups, each with
    one app server and one chromium: the class tests (a projector and students polling every 2 s, and a
    server restart) and the others, so the class's waits overlap the other browser tests instead of
    following them. The tests that fit UMAP in the test process share one too, so one process pays its compile."""
    path = nodeid.replace("\\", "/")
    if "tests/cluster/" in path:
        return "ray"
    if "tests/browser/test_class" in path:
        return "class"          # its own app server (it restarts it) beside the other browser tests' one
    if "tests/browser/" in path:
        return "browser"
    if "tests/unit/test_project.py" in path or "[umap]" in path:
        return "umap"           # UMAP's numba code costs ~20 s of a core in each process that first fits one
    return None


@pytest.hookimpl(optionalhook=True)      # `pytest -p no:xdist` still runs (xdist's hook is then unknown)
def pytest_xdist_make_scheduler(config, log):
    """`make test` (``-n 2 --dist loadgroup``): xdist's own loadgroup reads ``xdist_group`` markers by
    rewriting the node id, which pytest 9.2 no longer lets it do (both groups were split over both
    processes). So the groups are made here, from the path: a scope per group, every other test its own
    scope; the biggest scopes go out first (the browser and Ray groups start at once, on different
    processes) and the single tests fill in behind them."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class Groups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid) or nodeid

    return Groups(config, log)


def pytest_collection_modifyitems(items):
    """Every test is marked by its folder (``tests/<kind>/``): unit, real, app, browser or cluster
    (``pyproject.toml`` registers them), so ``-m unit`` or ``-m "not browser"`` picks by kind."""
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(ROOT).parts
        if len(parts) > 2 and parts[0] == "tests":
            item.add_marker(parts[1])


from latent.core.tiny import FAMILIES, byte_tokenizer, make_tiny_lm, tiny_config  # noqa: E402,F401 - the tests' names

if WORKER:
    import torch  # noqa: E402

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_lm():
    return make_tiny_lm()


@pytest.fixture(scope="session")
def real_lm():
    from latent.core.models import load_lm

    return load_lm()


@pytest.fixture(scope="session")
def gemma_lm():
    from latent.core.models import load_lm

    return load_lm("gemma-3-270m")


@pytest.fixture(scope="session")
def encoder():
    from latent.core.models import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------- real browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync", "--disable-quic"]


def _need_browser():
    """Skip locally when chromium/playwright is missing; under CI=true that is a failure."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} not installed (apt-get install chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "playwright not installed"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)


class Server:
    """`streamlit run app.py` on a free port of 127.0.0.1, with its own data folder (class state), the
    result store on in ``store`` and UMAP's background compile on (as the app runs for its users; off in
    the other tests). Browser tests
    share one store folder per test session: a result one test computed (the queen set's fit, the default
    sweep) is read back by the next test's server, as it would be for the next student."""

    def __init__(self, data_dir: Path, store: Path, log_name: str):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ, "LATENT_DATA_DIR": str(data_dir), "LATENT_STORE": "on", "LATENT_STORE_DIR": str(store),
                    "LATENT_UMAP_WARM": "small", "LATENT_MODEL": APP_MODEL}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_name = log_name
        self.proc = None

    def start(self):
        import subprocess
        import time
        import urllib.request

        ARTIFACTS.mkdir(exist_ok=True)
        self.log = open(ARTIFACTS / self.log_name, "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                      "--server.address", "127.0.0.1", "--server.port", str(self.port),
                                      "--server.fileWatcherType", "none"], cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 60:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        pytest.fail("streamlit did not answer /_stcore/health within 60 s")

    def stop(self):
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def browser_store(tmp_path_factory):
    """The result store folder every browser test's app server shares in one test session."""
    return tmp_path_factory.mktemp("browser-store")


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory, browser_store):
    """Start the app (see :class:`Server`) once for the browser tests; stop it at the end. The class test
    restarts this server in place (same port, data folder and store), as a teacher's machine would be."""
    _need_browser()
    server = Server(tmp_path_factory.mktemp("app-data"), browser_store, f"streamlit{WORKER and '-' + WORKER}.log")
    (ARTIFACTS / server.log_name).unlink(missing_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_server(shared_server):
    """The shared app server's URL."""
    return shared_server.url


@pytest.fixture(scope="session")
def browser():
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    # Playwright's expect() waits 5 s by default: a page on a loaded 2-core machine can take longer to draw
    expect.set_options(timeout=120_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_server, artifacts):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)
    pg.app_url = app_server
    yield pg
    ctx.close()
