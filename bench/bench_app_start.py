"""App cold start until the dialogue map is drawn (Playwright, Debian chromium): first and second start."""
import sys
import time

from _common import ROOT, save, serve

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def one_start() -> dict:
    t0 = time.perf_counter()
    proc, url = serve()
    try:
        health = time.perf_counter() - t0
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"{url}/Dialogues")
            page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=300_000)
            drawn = time.perf_counter() - t0
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {"server_health_s": round(health, 2), "map_drawn_s": round(drawn, 2)}


if __name__ == "__main__":
    first, second = one_start(), one_start()
    save("app_start", {"first_start": first, "second_start": second})
