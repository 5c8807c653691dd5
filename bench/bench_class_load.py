"""A class on a loaded machine: does the server stay responsive while the heaviest lesson's answers
compute in the background?

For each of before (the code at ``--before``, in a temporary git worktree) and after (this checkout):
start the app (``LATENT_WARM=on``, the result store off so the answers really compute), open the
lesson's link once (that starts its warm-up), wait until the model has loaded, start ``--burners`` CPU burners (``while True: pass``) beside
it, and for ``--seconds`` measure:

* ``/_stcore/health`` latency every 0.5 s (p50, p95, max);
* a new student's page (a fresh browser context on the lesson's link): seconds until its lesson panel
  shows, one after another;
* the projector (a class on the lesson, started from the Lessons page, its projector link at 1280×720):
  every third new page, it steps between steps 1 and 2 with the keyboard; seconds until its panel says
  "step k of N";
* whether the warm-up finished (the lesson's reveal then reads its answer), by asking the Lessons page.

Run: ``python bench/bench_class_load.py [--model tiny-llama|SmolLM2] [--seconds 90] [--rounds 2]``; results in
``bench/results/class_load.json``. A benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import ROOT, drop_worktree, save, serve, worktree

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def health_poller(url: str, stop: threading.Event, out: list) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=30).read()
            out.append(time.perf_counter() - t)
        except OSError:
            out.append(30.0)
        stop.wait(max(0.0, 0.5 - (time.perf_counter() - t)))


def panel_seconds(browser, url: str, timeout_s: float) -> float | None:
    """A new student's page: seconds until the lesson panel shows (None: not within ``timeout_s``)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    t = time.perf_counter()
    try:
        page.goto(url, timeout=timeout_s * 1000)
        page.wait_for_selector(".st-key-lesson_panel", state="visible", timeout=timeout_s * 1000)
        return round(time.perf_counter() - t, 2)
    except Exception:  # noqa: BLE001 - a timeout is the measurement
        return None
    finally:
        ctx.close()


def warm_line(browser, url: str, timeout_s: float = 20) -> str:
    """What the Lessons page says of the lesson's warm-up ("answers ready: …"), if it says anything within
    ``timeout_s`` (it says nothing while the model loads: the page is opened again every 15 s)."""
    ctx = browser.new_context()
    page = ctx.new_page()
    end = time.perf_counter() + timeout_s
    try:
        while True:
            try:
                page.goto(url + "/Lessons", timeout=60_000)
                page.get_by_text("answers ready").first.wait_for(timeout=min(15, max(1, end - time.perf_counter())) * 1000)
                return page.get_by_text("answers ready").first.inner_text()
            except Exception:  # noqa: BLE001 - not yet (or never: then "")
                if time.perf_counter() > end:
                    return ""
    finally:
        ctx.close()


def open_projector(browser, url: str, lesson: str):
    """Start a class on ``lesson`` from the Lessons page and open its projector link; (context, page)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(url + "/Lessons")
    page.locator(f".st-key-do_class_start_{lesson}").get_by_role("button").first.click()
    links = page.locator('.st-key-class_links [data-testid="stCode"] code')
    links.nth(1).wait_for()
    projector = links.nth(0).inner_text().strip()
    page.goto(projector)
    page.locator(".st-key-lesson_panel").get_by_text("step 1 of").wait_for()
    page.wait_for_function("() => window.__lessonKeys === true")
    return ctx, page


def step_seconds(page, to: int, timeout_s: float = 60) -> float | None:
    """The projector steps (→ to step 2, ← back to step 1): seconds until its panel says "step ``to`` of"."""
    try:
        page.locator(".st-key-lesson_panel").get_by_text("Lesson:").first.click(timeout=timeout_s * 1000)
        t = time.perf_counter()
        page.keyboard.press("ArrowRight" if to == 2 else "ArrowLeft")
        page.locator(".st-key-lesson_panel").get_by_text(f"step {to} of").wait_for(timeout=timeout_s * 1000)
        return round(time.perf_counter() - t, 2)
    except Exception:  # noqa: BLE001 - a timeout is the measurement
        return None


def run(root: Path, label: str, a) -> dict:
    from playwright.sync_api import sync_playwright

    data = tempfile.mkdtemp(prefix="class-load-")
    env = {"LATENT_WARM": "on", "LATENT_STORE": "off", "LATENT_UMAP_WARM": "off", "LATENT_DATA_DIR": data,
           "LATENT_MODEL": "" if a.model == "SmolLM2" else a.model}
    proc, url = serve(env, args=("--server.fileWatcherType", "none"), root=root)
    link = f"{url}/?lesson={a.lesson}&step=1"
    burners, health, stop = [], [], threading.Event()
    out = {"code": label}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            t = time.perf_counter()
            out["first_panel_unloaded_s"] = panel_seconds(browser, link, 180)   # loads the model, starts the warm-up
            out["warm_line_at_start"] = warm_line(browser, url, 300)      # the model loaded, the warm-up under way
            out["model_ready_s"] = round(time.perf_counter() - t, 1)
            pctx, projector = open_projector(browser, url, a.lesson)
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.burners)]
            poll = threading.Thread(target=health_poller, args=(url, stop, health), daemon=True)
            poll.start()
            end = time.perf_counter() + a.seconds
            panels, steps = [], []
            while time.perf_counter() < end:
                panels.append(panel_seconds(browser, link, 60))     # the last one may end after the period
                if len(panels) % 3 == 0:
                    steps.append(step_seconds(projector, 2 if len(steps) % 2 == 0 else 1))
            stop.set()
            poll.join(35)
            out["new_page_panel_s"], out["projector_step_s"] = panels, steps
            pctx.close()
            out["warm_line_after_period"] = warm_line(browser, url)
            browser.close()
    finally:
        stop.set()
        for b in burners:
            b.kill()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    done = [x for x in out["new_page_panel_s"] if x is not None]
    out["new_page_panel_p50_s"] = round(statistics.median(done), 2) if done else None
    out["new_page_panel_max_s"] = max(done) if done else None
    out["new_page_panel_timeouts"] = out["new_page_panel_s"].count(None)
    moved = [x for x in out["projector_step_s"] if x is not None]
    out["projector_step_max_s"] = max(moved) if moved else None
    out["projector_step_timeouts"] = out["projector_step_s"].count(None)
    hs = sorted(health)
    out["health_n"] = len(hs)
    out["health_p50_s"] = round(statistics.median(hs), 3) if hs else None
    out["health_p95_s"] = round(hs[int(0.95 * (len(hs) - 1))], 3) if hs else None
    out["health_max_s"] = round(max(hs), 3) if hs else None
    print(label, out, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-llama", help="tiny-llama (fast) or SmolLM2 (the app's default)")
    ap.add_argument("--lesson", default="walking-direction", help="the heaviest lesson: its answer is a full sweep")
    ap.add_argument("--seconds", type=float, default=75.0, help="the measured period, per side")
    ap.add_argument("--burners", type=int, default=2)
    ap.add_argument("--before", default="2eb0135", help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=1, help="before, after, before, after, …: interleaved rounds")
    a = ap.parse_args()
    tree = worktree(a.before)
    befores, afters = [], []
    try:
        for _ in range(a.rounds):
            befores.append(run(tree, f"before ({a.before})", a))
            afters.append(run(ROOT, "after (this checkout)", a))
    finally:
        drop_worktree(tree)
    before, after = befores[-1], afters[-1]

    def ratio(k):
        b, x = before.get(k), after.get(k)
        return round(b / x, 1) if b and x else None
    save("class_load", {"model": a.model, "lesson": a.lesson, "seconds": a.seconds, "burners": a.burners,
                        "cpus": os.cpu_count(), "before": before, "after": after, "rounds": {"before": befores, "after": afters},
                        "before_over_after": {k: ratio(k) for k in ("health_p50_s", "health_p95_s", "health_max_s",
                                                                     "new_page_panel_p50_s", "new_page_panel_max_s",
                                                                     "projector_step_max_s")}})

if __name__ == "__main__":
    main()
