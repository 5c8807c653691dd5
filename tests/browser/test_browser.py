"""Real-browser flows in Debian chromium. Screenshots land in artifacts/ for a human to look at."""
import os
import re

import pytest
from playwright.sync_api import expect

from tests.support import APP_MODEL, app_lm, assert_clean, wait_idle

PLOT = ".js-plotly-plot .scatterlayer .trace"


def _click_nav(page, name):
    """Click a sidebar link and wait until that page is the one shown (Home draws a plot too)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=name).click()
    page.wait_for_url(f"**/{name.replace(' ', '_')}**")


def test_home_then_dialogue_map(page, artifacts):
    page.goto(page.app_url)
    page.get_by_text("Hidden size").wait_for()
    wait_idle(page)
    page.screenshot(path=str(artifacts / "home.png"))
    _click_nav(page, "Dialogues")
    page.get_by_text("Read a dialogue").wait_for()
    page.wait_for_selector(PLOT)
    wait_idle(page)
    # five paths + one trace per speaker; the count is read by the wait itself, once it holds
    n_traces = page.wait_for_function(f"() => {{ const n = document.querySelectorAll({PLOT!r}).length; return n >= 10 && n }}",
                                      timeout=60_000).json_value()
    assert n_traces >= 10
    page.screenshot(path=str(artifacts / "dialogues.png"))
    # switch the map to PCA and see it redrawn
    # PCA is drawn at once while UMAP compiles; when UMAP is ready a button offers it (no jump by itself)
    shown = page.wait_for_function(
        "() => ((document.querySelector('.js-plotly-plot .gtitle') || {}).textContent?.includes('UMAP') && 'map')"
        " || (Array.from(document.querySelectorAll('button')).some(b => b.textContent.includes('UMAP is ready'))"
        " && 'button')", timeout=600_000).json_value()   # UMAP's background compile: ~40 s of a core, minutes under load
    if shown == "button":
        expect(page.locator(".js-plotly-plot .gtitle").first).to_contain_text("PCA")   # still PCA: no jump
        page.get_by_role("button", name="UMAP is ready: show the UMAP map").click()
        page.wait_for_function("() => (document.querySelector('.js-plotly-plot .gtitle') || {}).textContent?.includes('UMAP')")
    wait_idle(page)
    page.locator('[data-testid="stRadio"]').filter(has_text="Projection").get_by_text("PCA", exact=True).click()
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .gtitle')"
                           ".textContent.includes('PCA')")
    wait_idle(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "dialogues-pca.png"))
    expect(page.locator(".js-plotly-plot")).to_have_count(1)
    expect(page.locator(PLOT)).to_have_count(n_traces)
    assert_clean(page)


def _open(page, name):
    page.goto(page.app_url)
    _click_nav(page, name)
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
    assert_clean(page)


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
    assert page.evaluate(js) == before + 1                 # the chart has one more context step
    page.screenshot(path=str(artifacts / "senses.png"))
    assert_clean(page)


def test_latent_walk_sweep_shows_texts(page, artifacts):
    page.goto(page.app_url)
    _click_nav(page, "Latent walk")
    page.get_by_role("button", name="Walk: generate the sweep").wait_for()
    wait_idle(page)
    page.get_by_label("New tokens").focus()
    page.get_by_role("button", name="Walk: generate the sweep").click()
    # the cards' rows decode first: their texts are done while the other rows (the controls) still decode
    page.get_by_text("These cards are done.", exact=False).wait_for(timeout=120_000)
    expect(page.get_by_text("Steerability:")).to_have_count(0)        # no verdict while the controls decode
    expect(page.get_by_text("unsteered", exact=True)).to_have_count(1)
    page.screenshot(path=str(artifacts / "latent-walk-streaming.png"))
    page.get_by_text("Steerability:").wait_for()
    wait_idle(page)
    expect(page.get_by_text("These cards are done.", exact=False)).to_have_count(0)
    expect(page.get_by_text("unsteered", exact=True).first).to_be_visible()
    expect(page.get_by_text("strength +", exact=False).first).to_be_visible()
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    page.screenshot(path=str(artifacts / "latent-walk.png"))
    assert_clean(page)


def test_seed_claims_run_shows_verdict(page, artifacts):
    page.goto(page.app_url)
    _click_nav(page, "Seed claims")
    page.get_by_role("tab", name="Sparse messages").click()
    page.get_by_role("button", name="Run: Sparse messages").click()
    page.get_by_text(f"{APP_MODEL}, float32, seed 0").first.wait_for()
    wait_idle(page)
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for()
    expect(page.get_by_text(re.compile("supported|inconclusive")).first).to_be_visible()   # a verdict badge
    expect(page.get_by_text("Tested:").first).to_be_visible()
    expect(page.get_by_text("Not tested:").first).to_be_visible()
    page.screenshot(path=str(artifacts / "seed-claims.png"))
    assert_clean(page)


def _nav(page, name):
    _click_nav(page, name)
    wait_idle(page)


def test_typed_prompt_survives_a_page_switch(page):
    _open(page, "Hidden states")
    box = page.get_by_label("Prompts, one per line")
    box.fill("The hive hums at dawn")
    box.press("Control+Enter")
    wait_idle(page)
    _nav(page, "Dialogues")
    page.wait_for_selector(PLOT)
    _nav(page, "Hidden states")
    expect(page.get_by_label("Prompts, one per line")).to_have_value("The hive hums at dawn")
    assert_clean(page)


def _claims_tab(page, tab):
    page.goto(page.app_url)
    _nav(page, "Seed claims")
    page.get_by_role("tab", name=tab).click()


def test_sparse_messages_axis_stays_within_the_data(page):
    _claims_tab(page, "Sparse messages")
    page.get_by_role("button", name="Run: Sparse messages").click()
    page.get_by_text(f"{APP_MODEL}, float32, seed 0").first.wait_for()
    wait_idle(page)
    find = ("Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".find(g => (g.querySelector('.gtitle') || {}).textContent?.startsWith('Fidelity'))")
    page.wait_for_function(f"() => !!({find})")
    js = (f"() => {{ const p = {find}; "
          "const xs = p._fullData.flatMap(t => Array.from(t.x)); "
          "return [p._fullLayout.xaxis.range, Math.min(...xs), Math.max(...xs)] }")
    (lo, hi), xmin, xmax = page.evaluate(js)
    assert 10 ** lo <= xmin and xmax <= 10 ** hi < 10 * xmax, (lo, hi, xmin, xmax)
    assert_clean(page)


def test_empty_reuse_list_shows_a_message_and_other_tabs_still_render(page):
    _claims_tab(page, "Reuse vs recomputation")
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="History lengths").locator("input")
    box.click()
    for _ in range(6):
        box.press("Backspace")
    box.press("Escape")   # close the option list (it hides the tabs from the accessibility tree)
    wait_idle(page)
    page.get_by_text("History lengths (tokens): give at least one value.").wait_for()
    page.get_by_role("tab", name="Sparse messages").click()
    page.get_by_role("button", name="Run: Sparse messages").click()
    page.get_by_text(f"{APP_MODEL}, float32, seed 0").first.wait_for()
    assert_clean(page)


def test_exported_html_opens_at_the_chosen_layer(page, tmp_path):
    _open(page, "Hidden states")
    page.locator('input[type=range][aria-label="Layer"]').focus()
    page.keyboard.press("ArrowLeft")       # two layers down from the default (the tests' tiny model: 2 → 0)
    page.keyboard.press("ArrowLeft")
    # both reruns must be over before the download button is clicked (a rerun redraws the button)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .gtitle').textContent.endsWith('layer 0')")
    wait_idle(page)
    page.wait_for_timeout(1000)
    wait_idle(page)
    state = ("() => { const p = document.querySelector('.js-plotly-plot'); "
             "return [p.querySelector('.gtitle').textContent, Array.from(p._fullData[1].x).slice(0, 4).join(',')] }")
    on_screen = page.evaluate(state)
    page.get_by_role("button", name="HTML", exact=True).first.click()     # makes the file (its row reruns)
    save = page.get_by_role("button", name="⬇ HTML", exact=True).first
    save.wait_for()
    with page.expect_download() as dl:
        save.click()
    path = tmp_path / "token-map.html"
    dl.value.save_as(path)
    exported = page.context.new_page()
    exported.goto(path.as_uri())
    exported.wait_for_selector(".js-plotly-plot .main-svg")
    exported.wait_for_timeout(1500)   # an auto-playing export would have moved on by now
    assert exported.evaluate(state) == on_screen and on_screen[0].endswith("layer 0")
    assert_clean(page)


@pytest.mark.parametrize("name", ["Home", "Dialogues", "Hidden states", "Senses", "Latent walk", "Seed claims"])
def test_every_page_at_1024x768(browser, app_server, artifacts, name):
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)
    pg.goto(app_server)
    pg.get_by_text("Latent Dialogue Explorer").first.wait_for()
    if name != "Home":
        _click_nav(pg, name)
    wait_idle(pg)
    pg.wait_for_timeout(1500)
    pg.screenshot(path=str(artifacts / f"{name.lower().replace(' ', '-')}-1024.png"))
    # Latent walk and Seed claims draw their charts after a run (Walk, Run), the others on opening
    _titles_inside_their_figures(pg, drawn=name not in ("Latent walk", "Seed claims"))
    assert_clean(pg)
    ctx.close()


# every drawn chart's title box: [title text, its top, left, right, the figure's top, left, right] (px)
TITLE_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(d => d.querySelector('.gtitle')).map(d => {
    const f = d.querySelector('.main-svg').getBoundingClientRect(), t = d.querySelector('.gtitle').getBoundingClientRect();
    return [d.querySelector('.gtitle').textContent, t.top, t.left, t.right, f.top, f.left, f.right]; })"""


def _titles_inside_their_figures(pg, drawn=True):
    """Wait until every chart's title lies inside its figure: not cut at the top (a title of several lines sat
    above the figure's top edge by up to 0.7 em) nor at the sides (a one-line title in a narrow column).
    ``drawn``: the page has drawn a chart by now (wait for it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if drawn:
        pg.wait_for_function(f"() => ({TITLE_BOXES})().length > 0")
    try:
        pg.wait_for_function(f"() => ({TITLE_BOXES})().every(([_, t, l, r, ft, fl, fr]) => t >= ft - 0.5 && l >= fl - 0.5"
                             " && r <= fr + 0.5)", timeout=30_000)
    except PlaywrightTimeout:
        raise AssertionError(pg.evaluate(TITLE_BOXES)) from None       # which title is cut, and where


@pytest.mark.parametrize("width", [1024, 1280])
def test_chart_titles_are_not_cut_at_1024_and_1280(browser, app_server, artifacts, width):
    """The Senses page's charts (titles of two lines, with panel titles under them) at a laptop's widths."""
    ctx = browser.new_context(viewport={"width": width, "height": 768 if width == 1024 else 720})
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)
    pg.goto(app_server + "/Senses")
    pg.wait_for_selector(".js-plotly-plot .gtitle")
    wait_idle(pg)
    _titles_inside_their_figures(pg)
    pg.wait_for_function(f"() => ({TITLE_BOXES})().some(b => b[0].length > 52)")    # a title wraps (the cut one did)
    pg.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    pg.wait_for_timeout(500)
    pg.screenshot(path=str(artifacts / f"chart-title-senses-{width}.png"))
    if os.environ.get("LATENT_SCREENSHOTS"):                          # refresh the shipped screenshots
        pg.screenshot(path=os.path.join(os.environ["LATENT_SCREENSHOTS"], f"chart-title-senses-{width}.png"))
    assert_clean(pg)
    ctx.close()


def test_a_typed_prompt_survives_a_reload_and_the_link_opens_the_same_view(page, browser):
    _open(page, "Hidden states")
    box = page.get_by_label("Prompts, one per line")
    box.fill("Bees dance to share the way")
    box.press("Control+Enter")
    wait_idle(page)
    page.locator('[data-testid="stRadio"]').filter(has_text="Projection").get_by_text("UMAP", exact=True).click()
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('states_method=umap')")   # the option's value, not its label
    url = page.url
    assert "states_prompts=" in url and "v=1" in url
    page.reload()
    wait_idle(page)
    expect(page.get_by_label("Prompts, one per line")).to_have_value("Bees dance to share the way")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
    other = ctx.new_page()
    other.set_default_timeout(180_000)
    other.goto(url)                                  # the copied link, in a fresh browser context
    wait_idle(other)
    expect(other.get_by_label("Prompts, one per line")).to_have_value("Bees dance to share the way")
    other.wait_for_function("() => (document.querySelector('.js-plotly-plot .gtitle') || {}).textContent"
                            "?.includes('UMAP')")
    assert_clean(page)
    ctx.close()


def test_a_lesson_end_to_end_with_the_keyboard(page, artifacts):
    """Start the queen lesson from Home, advance with the keyboard, predict, reveal, and check that the
    lesson's words match what the model computed (the same answer the Senses code gives)."""
    page.goto(page.app_url)
    page.get_by_role("button", name="Start a lesson: the queen and her hive").click()
    page.get_by_text("Lesson: The queen and her hive").wait_for()
    # step 1 opens Senses: the address changes when that page's run starts, which can be after the run that
    # started the lesson reads as idle (seen once: '/?…&lesson=queen-hive&step=1' for a moment)
    page.wait_for_function("() => location.pathname.endsWith('/Senses') && location.search.includes('lesson=queen-hive')"
                           " && location.search.includes('step=1')", timeout=60_000)
    wait_idle(page)
    assert "/Senses" in page.url
    page.wait_for_function("() => document.__lessonKeys === true")   # the keyboard listener is in place
    page.get_by_text("Lesson: The queen and her hive").click()      # focus the page, not a text box
    page.keyboard.press("ArrowRight")
    page.get_by_text("step 2 of 4").wait_for()
    page.keyboard.press("Space")
    page.get_by_text("step 3 of 4").wait_for()
    page.keyboard.press("ArrowLeft")
    page.get_by_text("step 2 of 4").wait_for()
    page.keyboard.press("ArrowRight")
    page.get_by_text("step 3 of 4").wait_for()
    page.wait_for_function("() => location.search.includes('step=3')")
    wait_idle(page)
    # the step set the real widgets: the word and the readout
    page.wait_for_function("() => { const e = document.querySelector('.st-key-sn_word'); return !!e && "
                           "(e.textContent + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' '))"
                           ".includes('queen') }", timeout=60_000)
    expect(page.locator(".st-key-sn_readout").get_by_role("radio", name="echo")).to_be_checked(timeout=60_000)
    page.locator('[data-testid="stRadio"]').filter(has_text="After 'honey").get_by_text("bee", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Reveal the model's answer").click()
    page.get_by_text("Model's answer:").wait_for()
    wait_idle(page)
    from latent.lessons import load_lessons
    from latent.lessons.facts import queen_sense

    fact = queen_sense(app_lm(), "honey worker hive queen")      # the app server's model, computed here
    label = load_lessons()["queen-hive"].steps[2].label(fact["answer"])
    panel = page.locator(".st-key-lesson_panel")
    expect(panel).to_contain_text(f"Model's answer: {label}")
    if fact["answer"] == "bee":
        expect(panel).to_contain_text("nearest the bee sense")
    else:
        expect(panel).not_to_contain_text("nearest the bee sense")
    page.screenshot(path=str(artifacts / "lesson.png"))
    assert_clean(page)


def test_presenter_view_at_1280x720(browser, app_server, artifacts):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.set_default_timeout(180_000)
    page.goto(app_server + "/?v=1&lesson=queen-hive&step=3&present=1&hide=do_sn_upload,sn_readout")
    page.get_by_text("Lesson: The queen and her hive").wait_for()
    wait_idle(page)
    page.wait_for_timeout(1000)
    expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    expect(page.locator(".st-key-do_sn_upload")).to_be_hidden()
    expect(page.locator(".st-key-sn_readout")).to_be_hidden()
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('[data-testid=\"stMarkdownContainer\"] p')).fontSize)")
    assert size >= 22, size
    page.screenshot(path=str(artifacts / "presenter.png"))
    assert_clean(page)
    ctx.close()



def test_bad_link_parameters_fall_back_with_a_note(browser, app_server, page):
    """After other sessions have used the server, a bad link still gets its own note, and a clean
    link in a fresh browser gets none (notes were once replayed across sessions)."""
    page.goto(page.app_url + "/Dialogues?v=1&map_method=banana&lesson=nope&zzz=1")
    page.get_by_text("Some link settings were not used").wait_for()
    wait_idle(page)
    note = page.locator('[data-testid="stSidebar"] [data-testid="stAlert"]')
    for said in ("lesson='nope'", "map_method='banana'", "'zzz' is not a setting"):
        expect(note).to_contain_text(said)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1200})
    clean = ctx.new_page()
    clean.set_default_timeout(180_000)
    clean.goto(app_server + "/Dialogues?v=1")
    clean.get_by_text("Copy link to this view").wait_for()
    wait_idle(clean)
    expect(clean.get_by_text("Some link settings were not used")).to_have_count(0)
    expect(clean.locator('[data-testid="stSidebar"] [data-testid="stCode"]')).not_to_contain_text("zzz")
    assert_clean(page)
    ctx.close()
