"""Each page's first result, cold and after a warm start, in a real browser (Debian chromium).

One run, two server starts on the same data:

* **cold**: a new server on an empty result store (models already in the disk cache, as after the
  first launch): each page opened in turn, Home first (it pays the model load);
* **warm**: the server restarted on the store the cold pass filled (any later start of the app):
  the same pages again.

Per page: from ``goto`` to the first chart drawn (where the page draws one on arrival) and to the
page's script finishing (everything on it drawn). Server bound to 127.0.0.1; one viewport 1400×1000.
Today's code and an older commit (``--before``, checked out in a worktree) each run both passes, on
their own stores, in the same run.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_pages_warm.py [--before COMMIT]``
"""
import argparse
import sys
import tempfile
import time

from _common import ROOT, drop_worktree, save, serve, worktree

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, wait_idle  # noqa: E402

PAGES = ["", "Dialogues", "Hidden_states", "Senses", "Latent_walk", "Seed_claims", "Lessons"]
CHARTS = {"Home", "Dialogues", "Hidden_states", "Senses"}


def visit(browser, url: str) -> dict:
    out = {}
    for path in PAGES:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(600_000)
        t0 = time.perf_counter()
        page.goto(f"{url}/{path}")
        chart = done = None
        if (path or "Home") in CHARTS:             # a page that draws a chart on arrival (maybe on a rerun)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=300_000)
            chart = round(time.perf_counter() - t0, 2)
        wait_idle(page, timeout=600_000)      # the script run is over (tests/conftest.py)
        done = round(time.perf_counter() - t0, 2)
        out[path or "Home"] = {"first_chart_s": chart, "done_s": done}
        ctx.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="3f1898a", help="the baseline commit (default: before the lazy imports)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tree = worktree(a.before)
    res = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for code, root in (("before", tree), ("after", ROOT)):
                store = tempfile.mkdtemp(prefix=f"bench-pages-store-{code}-")
                for side in ("cold", "warm"):
                    proc, url = serve({"LATENT_STORE_DIR": store, "LATENT_STORE": "on"},
                                      ("--server.fileWatcherType", "none"), root=root)
                    try:
                        res[f"{code} {side}"] = visit(b, url)
                    finally:
                        proc.terminate()
                        proc.wait(10)
            b.close()
    finally:
        drop_worktree(tree)
    cols = list(res)
    print(f"{'page (chart / done, s)':24}" + "".join(f"{c:>16}" for c in cols))
    nan = float("nan")
    for k in res[cols[0]]:
        print(f"{k:24}" + "".join(f"{res[c][k]['first_chart_s'] or nan:8.2f}{res[c][k]['done_s']:8.2f}" for c in cols))
    save("pages_warm", {"before_commit": a.before, **res})


if __name__ == "__main__":
    sys.exit(main())
