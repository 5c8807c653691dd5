"""Plain helpers the tests import (fixtures live in ``conftest.py``, which no test imports)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

# The model of the UI-flow tests: the browser tests' app server serves it (``LATENT_MODEL``) and the AppTest
# sessions pick it by name (``session_state["model_name"]``, tests/app). A tiny random Llama built from its
# config, so the UI flows (links, reloads, layouts, sliders, a class) cost no model arithmetic; the numbers
# the app teaches are checked on the real models in tests/real (and the few the pages show, in tests/app).
APP_MODEL = "tiny-llama"


@cache
def app_lm():
    """The app server's model, built here the same way (same seed, same weights)."""
    from latent.core.tiny import make_tiny_lm

    return make_tiny_lm(family=APP_MODEL.removeprefix("tiny-"))


def wait_idle(page, timeout=180_000):
    """Wait until the script run is over: the app says its script is not running (the state Streamlit's
    own e2e tests wait on; set at once, unlike the 'running' widget, which shows after a delay) and the
    'running' widget is gone."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout)


def assert_clean(page):
    """No Streamlit exception box anywhere on the page (a page that errors is not a pass)."""
    from playwright.sync_api import expect

    boxes = page.locator('[data-testid="stException"]')
    expect(boxes, "a Streamlit exception box is shown").to_have_count(0)


def open_page(page: str, model: str = APP_MODEL, timeout: int = 240, **query):
    """An AppTest session on ``model`` (the tiny model unless a test needs another), run once on Home, then
    switched to ``page`` (``app_pages/…``) with ``query`` as its link's settings (``v=1`` added), as a link opens it."""
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415 - streamlit: only for the AppTest files

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["model_name"] = model
    at.run()
    at.query_params.update({"v": "1", **query})
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


HIVE_TEXTS = [f"The queen {i} of the hive makes honey, and the bees make wax." for i in range(12)]


def tiny_dictionary(lm, folder, texts=None, d_sae: int = 48):
    """A tiny TopK dictionary (k = 4, 20 steps) for ``lm`` at layer 2, trained on ``texts`` (default: twelve hive
    sentences) and written in the SAELens layout to ``folder``; returns ``folder`` as a Path."""
    from latent.concepts import io  # noqa: PLC0415 - torch: only the concepts tests need it
    from latent.concepts.collect import collect  # noqa: PLC0415 - as above
    from latent.concepts.sae import train  # noqa: PLC0415 - as above
    from latent.core.massive import massive_rule  # noqa: PLC0415 - as above

    rule = massive_rule(lm)
    st = collect(lm, list(texts or HIVE_TEXTS), 2, rule=rule)
    io.save(train(st.X, d_sae, 4, steps=20, batch=128, layer=2, rule=rule, model_name=lm.name).sae, folder)
    return Path(folder)


def app_dictionary_root(tmp_path_factory, d_sae: int = 48) -> Path:
    """A root of dictionaries (``$LATENT_CONCEPTS_DIR``) holding a tiny one for the app's model
    (:data:`APP_MODEL`, loaded as the pages load it), in ``<root>/<model name>/``."""
    from app_pages.ui import models  # noqa: PLC0415 - the app's own model loader, as the pages use it

    lm = models.lm_named(APP_MODEL)
    root = tmp_path_factory.mktemp("concepts")
    tiny_dictionary(lm, root / lm.name, d_sae=d_sae)
    return root
