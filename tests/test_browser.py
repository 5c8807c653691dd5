"""Real-browser flows in Debian chromium. Screenshots land in artifacts/ for a human to look at."""
import pytest

from conftest import wait_idle

pytestmark = pytest.mark.browser

PLOT = ".js-plotly-plot .scatterlayer .trace"


def test_home_then_dialogue_map(page, artifacts):
    page.goto(page.app_url)
    page.get_by_text("Hidden size").wait_for()
    wait_idle(page)
    page.screenshot(path=str(artifacts / "home.png"))
    page.locator('[data-testid="stSidebarNav"] a', has_text="Dialogues").click()
    page.wait_for_selector(PLOT)
    wait_idle(page)
    n_traces = page.locator(PLOT).count()
    assert n_traces >= 10  # five paths + one trace per speaker
    page.get_by_text("Read a dialogue").wait_for()
    page.screenshot(path=str(artifacts / "dialogues.png"))
    # switch the map to PCA and see it redrawn
    # PCA is drawn at once while UMAP compiles; the page switches to UMAP by itself when ready
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .gtitle')"
                           ".textContent.includes('UMAP')")
    wait_idle(page)
    page.get_by_text("PCA", exact=True).click()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .gtitle')"
                           ".textContent.includes('PCA')")
    wait_idle(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "dialogues-pca.png"))
    assert page.locator(".js-plotly-plot").count() == 1, page.locator(".js-plotly-plot").count()
    assert page.locator(PLOT).count() == n_traces


def _open(page, name):
    page.goto(page.app_url)
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).click()
    page.wait_for_selector(".js-plotly-plot .main-svg")  # WebGL traces draw in a canvas, not .trace
    wait_idle(page)


def test_hidden_states_layer_slider_moves_points(page, artifacts):
    _open(page, "Hidden states")
    js = "() => Array.from(document.querySelector('.js-plotly-plot')._fullData[1].x).slice(0, 5).join(',')"
    before = page.evaluate(js)
    page.locator('input[type=range][aria-label="Layer"]').focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({js})() !== {before!r}")
    wait_idle(page)
    after = page.evaluate(js)
    assert after != before
    page.screenshot(path=str(artifacts / "hidden-states.png"))


def test_senses_add_context_word_updates_chart(page, artifacts):
    _open(page, "Senses")
    page.get_by_text("Context steps at layer").wait_for()
    js = ("() => { const p = Array.from(document.querySelectorAll('.js-plotly-plot'))"
          ".find(g => g.layout.title.text.startsWith('Context steps at layer')); return p._fullData[0].x.length }")
    before = page.evaluate(js)
    page.get_by_label("Add a context word").fill("nectar")
    page.get_by_label("Add a context word").press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Add step").click()
    page.wait_for_function(f"() => ({js})() === {before + 1}")
    wait_idle(page)
    page.screenshot(path=str(artifacts / "senses.png"))


def test_latent_walk_sweep_shows_texts(page, artifacts):
    page.goto(page.app_url)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Latent walk").click()
    page.get_by_role("button", name="Walk: generate the sweep").wait_for()
    wait_idle(page)
    page.get_by_label("New tokens").focus()
    page.get_by_role("button", name="Walk: generate the sweep").click()
    page.get_by_text("Steerability:").wait_for()
    wait_idle(page)
    cards = page.get_by_text("unsteered", exact=True)
    assert cards.count() >= 1 and page.get_by_text("strength +0.2", exact=True).count() >= 1
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    page.screenshot(path=str(artifacts / "latent-walk.png"))


def test_seed_claims_run_shows_verdict(page, artifacts):
    page.goto(page.app_url)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Seed claims").click()
    page.get_by_role("tab", name="Reasoning as steering").click()
    page.get_by_role("button", name="Run: Reasoning as steering").click()
    page.get_by_text("Verdict on SmolLM2-135M-Instruct").wait_for()
    wait_idle(page)
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "seed-claims.png"))
