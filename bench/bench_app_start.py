"""App start until the first map is drawn, today's code against an older commit in the same run.

Each start: a new ``streamlit run`` on 127.0.0.1 (models already in the disk cache), then Debian
chromium opens Home: seconds from launching the server to Home's dialogue map drawn
(the first screen), and to Home's script finishing (its model card needs the loaded model). Then the
Dialogues page in a new tab: seconds from opening it to its map drawn. Starts alternate between the two
checkouts. Per side, the first start has an empty result store (*cold*: the first launch after an
install) and every later one the store its earlier starts filled (*warm*: any later launch).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_app_start.py [--before COMMIT] [--starts 2]``
"""
import argparse
import sys
import tempfile
import time

from _common import ROOT, drop_worktree, save, serve, worktree

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, wait_idle  # noqa: E402

MAP = ".js-plotly-plot .scatterlayer .trace"


def one_start(browser, root, store: str) -> dict:
    t0 = time.perf_counter()
    proc, url = serve({"LATENT_STORE_DIR": store, "LATENT_STORE": "on"},
                      ("--server.fileWatcherType", "none"), root=root)
    try:
        health = time.perf_counter() - t0
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_selector(MAP)
        home_map = time.perf_counter() - t0
        wait_idle(page, timeout=300_000)      # the script run is over (tests/conftest.py)
        home_done = time.perf_counter() - t0
        t1 = time.perf_counter()
        page2 = ctx.new_page()
        page2.goto(f"{url}/Dialogues")
        page2.wait_for_selector(MAP)
        dialogues = time.perf_counter() - t1
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {"server_health_s": round(health, 2), "home_map_s": round(home_map, 2),
            "home_done_s": round(home_done, 2), "dialogues_map_s": round(dialogues, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="3f1898a", help="the baseline commit (default: before the lazy imports)")
    ap.add_argument("--starts", type=int, default=3)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tree = worktree(a.before)
    runs = {"before": [], "after": []}
    stores = {side: tempfile.mkdtemp(prefix=f"bench-start-store-{side}-") for side in runs}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(a.starts):
                for side, root in (("before", tree), ("after", ROOT)):
                    runs[side].append(one_start(b, root, stores[side]))
                    print(side, runs[side][-1], flush=True)
            b.close()
    finally:
        drop_worktree(tree)
    warm = {side: {k: min(r[k] for r in rs[1:]) for k in rs[0]} for side, rs in runs.items() if len(rs) > 1}
    save("app_start", {"before_commit": a.before, "starts": runs, "cold": {s: rs[0] for s, rs in runs.items()},
                       "warm_best": warm})


if __name__ == "__main__":
    main()
