"""A whole lesson run as a class in Debian's chromium: one presenter (1280×720) and two students (1024×768
and a 390×844 phone) joined by the students' link on the class's code. Students predict and the
projector's tally counts them; the presenter steps with the keyboard after clicking a radio option and
the students follow; the step's chart is in the presenter's first viewport; a server restart keeps the
tally (and, with the result store on as in a real class, the step's results); reset empties the class.
The server is the browser tests' shared one, bound to 127.0.0.1; this test restarts it in place."""
import time

import pytest
from playwright.sync_api import expect

from tests.support import assert_clean, wait_idle


@pytest.fixture
def server(shared_server):
    """The browser tests' app server (one start fewer: its imports, model load and UMAP compile): this test
    restarts it in place, and it is running again when the test ends."""
    yield shared_server
    if shared_server.proc.poll() is not None:       # the test stopped in the middle of its restart
        shared_server.start()


PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")


def _context(browser, w, h):
    ctx = browser.new_context(viewport={"width": w, "height": h}, user_agent=PHONE_UA if w < 500 else None,
                              is_mobile=w < 500, has_touch=w < 500)
    page = ctx.new_page()
    page.set_default_timeout(180_000)
    return ctx, page


def _step(page, i, n=4, timeout=60_000):
    page.locator(".st-key-lesson_panel").get_by_text(f"step {i} of {n}").wait_for(timeout=timeout)


def test_a_lesson_run_as_a_class(server, browser, artifacts):
    timings = {}
    tctx, teacher = _context(browser, 1280, 720)
    teacher.goto(server.url + "/Lessons")
    teacher.locator(".st-key-do_class_start_queen-hive").get_by_role("button", name="Start a class").first.click()
    links = teacher.locator('.st-key-class_links [data-testid="stCode"] code')     # the two link boxes, not inline code
    expect(links).to_have_count(2)
    projector, students = links.nth(0).inner_text().strip(), links.nth(1).inner_text().strip()
    assert "class=" in students and "teach=" not in students and "present=1" in projector and "teach=" in projector
    code = students.split("class=")[1].split("&")[0]
    tctx.close()

    # the projector
    pctx, pres = _context(browser, 1280, 720)
    pres.goto(projector)
    _step(pres, 1)
    wait_idle(pres)
    expect(pres.locator(".st-key-class_join img")).to_have_count(1)       # the QR code for the students' link
    expect(pres.locator(".st-key-class_join")).to_contain_text(code)
    pres.screenshot(path=str(artifacts / "class-presenter-join.png"))

    # two students join by the link
    s1ctx, s1 = _context(browser, 1024, 768)
    s2ctx, s2 = _context(browser, 390, 844)
    for s in (s1, s2):
        s.goto(students)
        _step(s, 1)
        wait_idle(s)
    pres.wait_for_function("() => (document.querySelector('.st-key-class_join') || {}).innerText !== undefined")

    # the presenter steps with the keyboard; the students follow
    pres.wait_for_function("() => window.__lessonKeys === true")
    pres.locator(".st-key-lesson_panel").get_by_text("Lesson: The queen").click()
    t0 = time.perf_counter()
    pres.keyboard.press("ArrowRight")
    _step(pres, 2)
    timings["presenter step change"] = time.perf_counter() - t0
    for s in (s1, s2):
        _step(s, 2, timeout=30_000)
    timings["students follow"] = time.perf_counter() - t0
    wait_idle(pres)
    tally = pres.locator(".st-key-class_tally")
    expect(tally).to_contain_text("2 joined")

    # students predict; the projector's tally counts them
    s1.locator(".st-key-lesson_panel").get_by_text("band", exact=True).click()
    s2.locator(".st-key-lesson_panel").get_by_text("band", exact=True).click()
    wait_idle(s1)
    wait_idle(s2)
    pres.wait_for_function("() => (document.querySelector('.st-key-class_tally') || {}).innerText?.match(/2 █+ +band/)",
                           timeout=30_000)
    s1.screenshot(path=str(artifacts / "class-student-1024.png"))
    s2.screenshot(path=str(artifacts / "class-student-phone.png"), full_page=False)

    # the presenter reveals; the tally shows the model's answer beside the counts
    t0 = time.perf_counter()
    pres.locator(".st-key-lesson_panel").get_by_role("button", name="Reveal the model's answer").click()
    pres.locator(".st-key-lesson_panel").get_by_text("Model's answer:").wait_for()
    timings["click to reveal (step 2)"] = time.perf_counter() - t0
    pres.wait_for_function("() => (document.querySelector('.st-key-class_tally') || {}).innerText?.includes('◀')")
    wait_idle(pres)
    pres.screenshot(path=str(artifacts / "class-tally.png"))

    # a radio option has focus: → still changes the step (and not the option), and the students follow
    pres.locator(".st-key-lesson_panel").get_by_role("radiogroup").get_by_text("monarch", exact=True).click()
    pres.locator(".st-key-lesson_panel").get_by_text("Your prediction: monarch").wait_for(timeout=30_000)
    wait_idle(pres)
    expect(pres.locator(".st-key-lesson_panel input[type=radio]:checked")).to_have_count(1)
    pres.keyboard.press("ArrowRight")
    _step(pres, 3)
    _step(s1, 3, timeout=30_000)
    _step(s2, 3, timeout=30_000)
    wait_idle(s2)
    dose = s2.locator(".st-key-chart_sn_dose")
    dose.scroll_into_view_if_needed()
    expect(dose).to_be_visible()
    dose.screenshot(path=str(artifacts / "class-phone-chart.png"))        # one column, legend below
    assert dose.bounding_box()["width"] <= 390
    wait_idle(pres)
    # going back keeps the prediction and the revealed answer
    pres.keyboard.press("ArrowLeft")
    _step(pres, 2)
    wait_idle(pres)
    panel = pres.locator(".st-key-lesson_panel")
    expect(panel.get_by_text("Model's answer:")).to_have_count(1, timeout=15_000)
    expect(panel.get_by_role("radio", name="monarch")).to_be_checked(timeout=15_000)
    pres.keyboard.press("ArrowRight")
    _step(pres, 3)
    wait_idle(pres)
    # the step's chart is in the presenter's first viewport, beside the lesson panel
    pres.wait_for_timeout(1500)
    expect(pres.locator(".st-key-chart_sn_map")).to_be_visible()
    box = pres.locator(".st-key-chart_sn_map").bounding_box()
    # within a pixel of the top: the page can sit half a pixel scrolled (seen once: y = -0.45)
    assert box is not None and -1 <= box["y"] < 720 and box["y"] + min(box["height"], 400) <= 720, box
    panel_box = pres.locator(".st-key-lesson_panel").bounding_box()
    assert panel_box["x"] >= box["x"] + box["width"] - 5, (panel_box, box)   # beside it, not over it
    pres.screenshot(path=str(artifacts / "class-presenter-chart.png"))

    # a server restart in the middle keeps the tally
    server.stop()
    server.start()
    url = pres.url
    pres.goto(url)
    try:
        _step(pres, 3)
    except Exception:
        pres.screenshot(path=str(artifacts / "class-restart.png"))
        raise AssertionError(url)
    wait_idle(pres)
    pres.wait_for_function("() => window.__lessonKeys === true")
    pres.keyboard.press("ArrowLeft")
    _step(pres, 2)
    pres.wait_for_function("() => (document.querySelector('.st-key-class_tally') || {}).innerText?.match(/2 █+ +band/)",
                           timeout=60_000)
    expect(pres.locator(".st-key-class_tally")).to_contain_text("2 joined")

    # reset empties the class
    pres.locator(".st-key-do_class_reset button").click()
    pres.wait_for_function("() => (document.querySelector('.st-key-class_tally') || {}).innerText?.includes('0 joined')",
                           timeout=30_000)
    expect(pres.locator(".st-key-class_tally")).to_contain_text("No predictions yet")
    for pg in (pres, s1, s2):
        assert_clean(pg)
    for ctx in (pctx, s1ctx, s2ctx):
        ctx.close()
    (artifacts / "class-timings.txt").write_text("\n".join(f"{k}: {v:.1f} s" for k, v in timings.items()))
