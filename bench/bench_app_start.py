"""App cold start until the dialogue map is drawn (Playwright, Debian chromium): first and second start."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

from _common import ROOT, save

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402


def one_start() -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        health = time.perf_counter() - t0
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"http://127.0.0.1:{port}/Dialogues")
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
