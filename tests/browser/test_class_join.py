"""A way into a class and the question first, in Debian's chromium: a student types the class's code on the
Join page (a wrong code is said in the main area; a lower-case one opens the class), and below 1600 px the
lesson panel (the question) is on top with the step's chart right after it, never scrolled away; from
1600 px it sits beside the chart. Screenshots at 390, 768, 1024, 1366 and 1920 px."""
import os

import pytest
from playwright.sync_api import expect

from tests.support import assert_clean, wait_idle

WIDTHS = {390: 844, 768: 1024, 1024: 768, 1366: 768, 1920: 1080}
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")


@pytest.fixture
def klass(shared_server, monkeypatch):
    """A queen-hive class on the app server's data folder, at step 2 (a question, with the sense map)."""
    from latent.lessons import classes

    monkeypatch.setenv("LATENT_DATA_DIR", shared_server.env["LATENT_DATA_DIR"])
    info = classes.ClassDB(classes.data_dir() / "classes.sqlite3").create("queen-hive")
    classes.ClassDB(classes.data_dir() / "classes.sqlite3").set_step(info.code, info.teacher, 2)
    return info


def _page(browser, w, h=None):
    ctx = browser.new_context(viewport={"width": w, "height": h or WIDTHS[w]}, user_agent=PHONE_UA if w < 500 else None,
                              is_mobile=w < 500, has_touch=w < 500)
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)
    return ctx, pg


def _in_class_at_step_2(pg):
    panel = pg.locator(".st-key-lesson_panel")
    panel.get_by_text("step 2 of 4").wait_for(timeout=120_000)
    wait_idle(pg)
    chart = pg.locator(".st-key-chart_sn_map")
    expect(chart.locator(".js-plotly-plot")).to_have_count(1, timeout=120_000)
    pg.wait_for_timeout(1500)             # the chart scroll (where it applies) runs every 0.4 s: give it its chance
    return panel, chart


def test_a_student_joins_by_code_and_sees_the_question_above_the_chart_at_1024(shared_server, browser, klass, artifacts):
    ctx, pg = _page(browser, 1024)
    pg.goto(shared_server.url + "/")
    wait_idle(pg)
    pg.get_by_role("link", name="Join a class with its code").click()
    code_box = pg.get_by_label("Class code")
    code_box.wait_for()
    wrong = ("A" if klass.code[0] != "A" else "B") + klass.code[1:]
    code_box.fill(wrong.lower())
    pg.get_by_role("button", name="Join the class").click()
    error = pg.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]')
    expect(error).to_contain_text(f"There is no class {wrong}", timeout=60_000)
    code_box.fill(f"{klass.code[:3].lower()} {klass.code[3:].lower()}")
    pg.get_by_role("button", name="Join the class").click()
    panel, chart = _in_class_at_step_2(pg)
    expect(panel).to_be_in_viewport()                         # the question is on the first screen ...
    expect(panel.get_by_role("radiogroup")).to_be_in_viewport()
    # wait for the layout to put the chart right under the panel (its CSS lands with the page's run), then measure
    pg.wait_for_function("""() => { const p = document.querySelector('.st-key-lesson_panel').getBoundingClientRect(),
        c = document.querySelector('.st-key-chart_sn_map').getBoundingClientRect();
        return c.top >= p.bottom - 1 && c.top - p.bottom < 200; }""", timeout=60_000)
    p, c = panel.bounding_box(), chart.bounding_box()
    assert p["y"] + p["height"] <= c["y"] + 1, (p, c)           # ... and the chart comes after it
    assert c["y"] - (p["y"] + p["height"]) < 200, (p, c)        # right after it, not a page of controls later
    pg.screenshot(path=str(artifacts / "class-join-1024.png"))
    assert_clean(pg)
    ctx.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_lesson_panel_is_on_top_below_1600_px_and_beside_the_chart_above(shared_server, browser, klass, artifacts,
                                                                             width):
    ctx, pg = _page(browser, width)
    pg.goto(f"{shared_server.url}/Senses?v=1&lesson=queen-hive&class={klass.code}")
    panel, chart = _in_class_at_step_2(pg)
    expect(panel.get_by_text("step 2 of 4")).to_be_in_viewport()
    p, c = panel.bounding_box(), chart.bounding_box()
    if width < 1600:
        assert p["y"] + p["height"] <= c["y"] + 1, (width, p, c)
    else:
        assert p["x"] >= c["x"] + c["width"] - 5, (width, p, c)       # beside the chart, the chart in view
        expect(chart).to_be_in_viewport()
    pg.screenshot(path=str(artifacts / f"class-width-{width}.png"))
    if os.environ.get("LATENT_SCREENSHOTS"):                          # refresh the shipped screenshots
        pg.screenshot(path=os.path.join(os.environ["LATENT_SCREENSHOTS"], f"class-width-{width}.png"))
    assert_clean(pg)
    ctx.close()


def test_the_presenter_key_leaves_the_address_bar_and_a_reload_stays_the_projector(shared_server, browser, klass):
    import re

    ctx, pg = _page(browser, 1280, 720)
    base = f"{shared_server.url}/Senses?v=1&lesson=queen-hive&class={klass.code}"
    pg.goto(f"{base}&teach={klass.teacher}&present=1")
    reset = pg.locator(".st-key-do_class_reset button")
    expect(reset).to_be_visible(timeout=120_000)                        # the presenter's screen
    expect(pg).not_to_have_url(re.compile("teach="), timeout=30_000)    # ... with the key gone from the address bar
    expect(pg).to_have_url(re.compile("present=1"))
    expect(pg.get_by_text("Teacher's notes")).to_have_count(0)          # the class reads the projector
    wait_idle(pg)
    pg.reload()                                                         # its browser kept the key
    expect(reset).to_be_visible(timeout=120_000)
    student = ctx.new_page()                                            # the students' link in that browser: a student
    student.set_default_timeout(180_000)
    student.goto(base)
    student.locator(".st-key-lesson_panel").get_by_text("Follow the teacher").wait_for()
    expect(student.locator(".st-key-do_class_reset")).to_have_count(0)
    notes = ctx.new_page()                                              # the teacher's notes view: its own tab
    notes.set_default_timeout(180_000)
    notes.goto(f"{base}&teach={klass.teacher}&notes=1")
    expect(notes.locator(".st-key-lesson_panel").get_by_text("Teacher's notes")).to_be_visible(timeout=120_000)
    expect(notes).not_to_have_url(re.compile("teach="), timeout=30_000)
    for p in (pg, student, notes):
        assert_clean(p)
    ctx.close()
