"""A whole lesson run as a class in Debian's chromium: one presenter (1280×720) and three students: a 1024×768
tablet and a 390×844 phone joined by the students' link, and a 1366×768 laptop that types the class's code
in lower case on the Join page, predicts something else, is counted in the blind tally, gets the reveal and
leaves (closed, it still counts in "N joined" for a minute, then drops out). Re-opening the link in the same
browser keeps one member. Students predict blind: the projector shows only "answered N of M"; the
presenter's reveal locks the predictions, shows the counts beside the model's answer and pushes the
answer to every student, whose choice can no longer change. The presenter steps with the keyboard after
clicking a radio option and the students follow; the step's chart is in the presenter's first viewport;
a server restart keeps the tally; reset (asked first) sends everyone to step 1, tells the students their
answers were cleared, and can be revealed again; "End class" ends it for everyone with a summary that
downloads as CSV and as a printable page. The server is the browser tests' shared one, bound to
127.0.0.1; this test restarts it in place."""
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from latent.lessons.classes import RECENT_SECONDS
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


def settle(page):
    """Let the page's current run finish where it can. A class page reruns every 2 s (the students' follow
    timer, the projector's tally), and on a loaded machine one run can start as the last ends, so the page
    may never read as idle: this waits up to a minute and then goes on; every check after it waits for
    what it checks."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        wait_idle(page, timeout=60_000)
    except PlaywrightTimeout:
        pass


def _step(page, i, n=4, timeout=90_000):
    page.locator(".st-key-lesson_panel").get_by_text(f"step {i} of {n}").wait_for(timeout=timeout)


def _tally_has(page, pattern, timeout=90_000):
    """Wait until the projector's tally text matches a regular expression."""
    page.wait_for_function("(p) => new RegExp(p).test((document.querySelector('.st-key-class_tally') || {}).innerText || '')",
                           arg=pattern, timeout=timeout)


def _sole(page, selector, text="", timeout=120_000):
    """Wait until exactly one current element matches ``selector`` (and holds ``text``) and return its box and
    the lesson panel's, read in the same instant. While a rerun changes the layout, Streamlit keeps the old
    element beside the new one, its contents marked stale (``data-stale``), and a page that then reruns only
    its fragments (the tally, the follow timer) keeps it (loaded runs saw the sense map twice), so a locator's
    strict mode failed at once; the stale copy is not counted."""
    return page.wait_for_function(
        "([sel, text]) => { const fresh = e => e.querySelector('[data-testid=\"stElementContainer\"]:not([data-stale=\"true\"])');"
        " const els = [...document.querySelectorAll(sel)].filter(fresh);"
        " if (els.length !== 1 || !els[0].innerText.includes(text)) return false;"
        " const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; };"
        " const panel = document.querySelectorAll('.st-key-lesson_panel');"
        " return {box: box(els[0]), panel: panel.length === 1 ? box(panel[0]) : null}; }",
        arg=[selector, text], timeout=timeout).json_value()


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
    settle(pres)
    expect(pres.locator(".st-key-class_join img")).to_have_count(1)       # the QR code for the students' link
    expect(pres.locator(".st-key-class_join")).to_contain_text(code)
    pres.screenshot(path=str(artifacts / "class-presenter-join.png"))

    # two students join by the link; a third types the code, in lower case, on the Join page (it loads meanwhile)
    s1ctx, s1 = _context(browser, 1024, 768)
    s2ctx, s2 = _context(browser, 390, 844)
    s3ctx, s3 = _context(browser, 1366, 768)
    s3.goto(server.url + "/Join")
    for s in (s1, s2):
        s.goto(students)
        _step(s, 1)
        settle(s)
    s3.get_by_label("Class code").fill(code.lower())
    s3.get_by_role("button", name="Join the class").click()
    _step(s3, 1)
    pres.wait_for_function("() => (document.querySelector('.st-key-class_join') || {}).innerText !== undefined")
    for s in (s1, s2):                                  # each browser keeps its random device id
        s.wait_for_function("() => document.cookie.includes('latent_device=')")

    # the presenter steps with the keyboard; the students follow
    pres.wait_for_function("() => window.__lessonKeys === true")
    pres.locator(".st-key-lesson_panel").get_by_text("Lesson: The queen").click()
    t0 = time.perf_counter()
    pres.keyboard.press("ArrowRight")
    _step(pres, 2)
    timings["presenter step change"] = time.perf_counter() - t0
    for s in (s1, s2, s3):
        _step(s, 2, timeout=90_000)
    timings["students follow"] = time.perf_counter() - t0
    settle(pres)
    tally = pres.locator(".st-key-class_tally")
    expect(tally).to_contain_text("3 joined")
    # students have no Reveal button of their own in a class
    for s in (s1, s2, s3):
        expect(s.locator(".st-key-lesson_panel").get_by_text("Your teacher reveals the model's answer")).to_be_visible()
        expect(s.locator(".st-key-lesson_panel").get_by_role("button", name="Reveal the model's answer")).to_have_count(0)

    # re-opening the students' link in the same browser keeps the member: still 3 joined
    again = s1ctx.new_page()
    again.set_default_timeout(180_000)
    again.goto(students)
    _step(again, 2, timeout=90_000)
    settle(again)
    pres.wait_for_timeout(5000)                         # two rounds of the tally's refresh after that visit joined
    expect(tally).to_contain_text("3 joined")
    again.close()

    # students predict blind: the projector shows how many answered, not what
    s1.locator(".st-key-lesson_panel").get_by_text("band", exact=True).click()
    s2.locator(".st-key-lesson_panel").get_by_text("band", exact=True).click()
    s3.locator(".st-key-lesson_panel").get_by_text("bee", exact=True).click()
    settle(s1)
    settle(s2)
    for s in (s1, s2, s3):
        expect(s.locator(".st-key-lesson_panel").get_by_text("Your prediction is in.")).to_be_visible()
    _tally_has(pres, "answered 3 of 3")
    expect(tally).not_to_contain_text("band")
    expect(tally).not_to_contain_text("bee")
    expect(tally).not_to_contain_text("█")
    # nothing on screen answers the question before the reveal: each context's sense waits for it
    hidden = s2.locator(".st-key-chart_sn_dose")
    expect(hidden).to_contain_text("Hidden until the teacher reveals the answer.")
    _sole(pres, ".st-key-chart_sn_map", "★ Hidden until the teacher reveals the answer.")
    settle(pres)
    pres.screenshot(path=str(artifacts / "class-tally-blind.png"))
    s1.screenshot(path=str(artifacts / "class-student-1024.png"))
    s2.screenshot(path=str(artifacts / "class-student-phone.png"), full_page=False)

    # the presenter reveals: the tally shows the counts beside the model's answer, and every student gets it
    t0 = time.perf_counter()
    pres.locator(".st-key-lesson_panel").get_by_role("button", name="Reveal the model's answer").click()
    pres.locator(".st-key-lesson_panel").get_by_text("Model's answer:").wait_for()
    timings["click to reveal (step 2)"] = time.perf_counter() - t0
    _tally_has(pres, "2 █+ +band")
    _tally_has(pres, r"\b1 █+ +bee")
    _tally_has(pres, "◀")
    for s in (s1, s2, s3):
        s.locator(".st-key-lesson_panel").get_by_text("Model's answer:").wait_for(timeout=90_000)
    timings["reveal reaches the students"] = time.perf_counter() - t0
    # the laptop's own prediction is locked beside the answer; then it leaves (no more polling)
    settle(s3)
    panel = s3.locator(".st-key-lesson_panel")
    expect(panel.get_by_text("Predictions are locked: you predicted bee.")).to_be_visible()
    expect(panel.get_by_role("radio", name="bee")).to_be_checked()
    expect(panel.get_by_role("radio", name="band")).to_be_disabled()
    assert_clean(s3)
    s3ctx.close()
    s3_left = time.perf_counter()
    for s in (s1, s2):
        settle(s)                                    # the run that drew the locked radio is over (no stale one)
        panel = s.locator(".st-key-lesson_panel")
        expect(panel.get_by_role("radio", name="band")).to_have_count(1)
        expect(panel.get_by_text("Predictions are locked: you predicted band.")).to_be_visible()
        expect(panel.get_by_role("radio", name="band")).to_be_checked()
        expect(panel.get_by_role("radio", name="monarch")).to_be_disabled()
    # a student trying to switch after the reveal changes nothing: the tally and their screen stay
    s1.locator(".st-key-lesson_panel").get_by_text("monarch", exact=True).click(force=True)
    settle(s1)
    expect(s1.locator(".st-key-lesson_panel").get_by_role("radio", name="band")).to_be_checked()
    expect(s1.locator(".st-key-lesson_panel").get_by_text("Predictions are locked: you predicted band.")).to_be_visible()
    pres.wait_for_timeout(2500)                         # a tally refresh after the click
    _tally_has(pres, "2 █+ +band")
    _tally_has(pres, r"\b1 █+ +bee")
    _tally_has(pres, r"\b0 +monarch")                  # monarch still has no vote
    settle(pres)
    pres.screenshot(path=str(artifacts / "class-tally.png"))
    settle(s1)
    s1.screenshot(path=str(artifacts / "class-student-revealed-1024.png"))
    settle(s2)
    s2.screenshot(path=str(artifacts / "class-student-revealed-phone.png"), full_page=False)
    expect(s2.locator(".st-key-chart_sn_dose")).not_to_contain_text("Hidden until")      # the reveal shows it
    dose = s2.locator(".st-key-chart_sn_dose")
    dose.scroll_into_view_if_needed()
    expect(dose.locator(".js-plotly-plot")).to_be_visible()
    dose.screenshot(path=str(artifacts / "class-phone-chart.png"))        # one column, legend below
    assert dose.bounding_box()["width"] <= 390

    # a radio option has focus: → still changes the step (and not the option), and the students follow
    pres.locator(".st-key-lesson_panel").get_by_role("radiogroup").get_by_text("monarch", exact=True).click()
    pres.locator(".st-key-lesson_panel").get_by_text("Your prediction: monarch").wait_for(timeout=90_000)
    settle(pres)
    expect(pres.locator(".st-key-lesson_panel input[type=radio]:checked")).to_have_count(1)
    pres.keyboard.press("ArrowRight")
    _step(pres, 3)
    _step(s1, 3, timeout=90_000)
    _step(s2, 3, timeout=90_000)
    settle(pres)
    # going back keeps the prediction and the revealed answer
    pres.keyboard.press("ArrowLeft")
    _step(pres, 2)
    settle(pres)
    panel = pres.locator(".st-key-lesson_panel")
    expect(panel.get_by_text("Model's answer:")).to_have_count(1, timeout=60_000)
    expect(panel.get_by_role("radio", name="monarch")).to_be_checked(timeout=60_000)
    pres.keyboard.press("ArrowRight")
    _step(pres, 3)
    settle(pres)
    # the step's chart is in the presenter's first viewport, beside the lesson panel
    # wait for the page to bring it up (it re-aligns for 12 s while the layout settles), then measure
    pres.wait_for_function("() => { const els = [...document.querySelectorAll('.st-key-chart_sn_map')].filter(e =>"
                           " e.querySelector('[data-testid=\"stElementContainer\"]:not([data-stale=\"true\"])'));"
                           " if (els.length !== 1) return false; const r = els[0].getBoundingClientRect();"
                           " return r.height > 0 && r.top >= -1 && r.top + Math.min(r.height, 400) <= 720; }", timeout=60_000)
    boxes = _sole(pres, ".st-key-chart_sn_map")
    box, panel_box = boxes["box"], boxes["panel"]
    pres.screenshot(path=str(artifacts / "class-presenter-chart.png"))      # before the checks: what they saw
    # within a pixel of the top: the page can sit half a pixel scrolled (seen once: y = -0.45)
    assert box["height"] > 0 and -1 <= box["y"] < 720 and box["y"] + min(box["height"], 400) <= 720, box
    assert panel_box is not None and panel_box["x"] >= box["x"] + box["width"] - 5, (panel_box, box)   # beside it, not over it

    # a server restart in the middle keeps the tally (the restarted server skips UMAP's background warm-up:
    # nothing after this point draws a UMAP map, and its compile would only compete with the pages' reruns)
    server.stop()
    server.env["LATENT_UMAP_WARM"] = "off"
    try:
        server.start()
    finally:
        server.env["LATENT_UMAP_WARM"] = "small"
    url = pres.url
    pres.goto(url)
    try:
        _step(pres, 3)
    except Exception:
        pres.screenshot(path=str(artifacts / "class-restart.png"))
        raise AssertionError(url)
    settle(pres)
    pres.wait_for_function("() => window.__lessonKeys === true")
    pres.keyboard.press("ArrowLeft")
    _step(pres, 2)
    pres.wait_for_function("() => (document.querySelector('.st-key-class_tally') || {}).innerText?.match(/2 █+ +band/)",
                           timeout=60_000)
    _tally_has(pres, r"\b1 █+ +bee")
    # the members survive the restart; "N joined" counts the devices seen in the last RECENT_SECONDS: the laptop
    # that left still counts until then (no waiting for it here), and once it is out the two still here do
    gone = timings["laptop gone, at the restart's tally"] = time.perf_counter() - s3_left
    if gone < RECENT_SECONDS - 15:                     # its last check-in was before s3_left: 10 s of waiting stay inside
        expect(pres.locator(".st-key-class_tally")).to_contain_text("3 joined", timeout=10_000)
    else:
        expect(pres.locator(".st-key-class_tally")).to_contain_text("2 joined", timeout=90_000)

    # reset asks first, then sends the projector and every student to step 1 and clears their answers
    pres.locator(".st-key-do_class_reset button").click()
    confirm = pres.locator(".st-key-class_confirm")
    expect(confirm).to_contain_text("Reset clears every prediction and answer")
    expect(pres.locator(".st-key-lesson_panel").get_by_text("step 2 of 4")).to_be_visible()    # nothing happened yet
    settle(pres)
    pres.screenshot(path=str(artifacts / "class-reset-confirm.png"))
    confirm.get_by_role("button", name="Yes, reset").click()
    _step(pres, 1)
    for s in (s1, s2):
        _step(s, 1, timeout=90_000)
        expect(s.locator(".st-key-lesson_panel").get_by_text("your earlier answers were cleared")).to_be_visible()
    settle(s2)
    s2.screenshot(path=str(artifacts / "class-student-cleared-phone.png"), full_page=False)
    settle(pres)
    pres.keyboard.press("ArrowRight")
    _step(pres, 2)
    for s in (s1, s2):
        _step(s, 2, timeout=90_000)
        expect(s.locator(".st-key-lesson_panel").get_by_role("radio", name="band")).not_to_be_checked()
        expect(s.locator(".st-key-lesson_panel").get_by_role("radio", name="band")).to_be_enabled()
    _tally_has(pres, "answered 0 of 2")
    # the teacher can reveal again
    s2.locator(".st-key-lesson_panel").get_by_text("monarch", exact=True).click()
    settle(s2)
    _tally_has(pres, "answered 1 of 2")
    pres.locator(".st-key-lesson_panel").get_by_role("button", name="Reveal the model's answer").click()
    _tally_has(pres, "1 █+ +monarch")
    s2.locator(".st-key-lesson_panel").get_by_text("Model's answer:").wait_for(timeout=90_000)
    expect(s1.locator(".st-key-lesson_panel").get_by_text("you did not predict this step")).to_be_visible(timeout=90_000)

    # end the class (asked first): everyone sees the summary; it downloads as CSV and as a printable page
    settle(pres)
    pres.locator(".st-key-do_class_end button").click()
    pres.locator(".st-key-class_confirm").get_by_role("button", name="Yes, end the class").click()
    summary = pres.locator(".st-key-class_summary")
    expect(summary).to_contain_text("The class has ended")
    expect(summary).to_contain_text("1 ██████████ monarch")
    for s in (s1, s2):
        expect(s.locator(".st-key-class_summary")).to_contain_text("The class has ended", timeout=90_000)
    settle(pres)
    with pres.expect_download() as dl:
        summary.get_by_role("button", name="Summary (CSV)").click()
    rows = Path(dl.value.path()).read_text(encoding="utf-8").splitlines()
    assert rows[0] == "step,question,option,predictions,model_answer" and any(
        r.startswith("2,") and ",monarch,1," in r for r in rows), rows
    with pres.expect_download() as dl:
        summary.get_by_role("button", name="Summary (printable page)").click()
    page_html = Path(dl.value.path()).read_text(encoding="utf-8")
    assert page_html.startswith("<!doctype html>") and "@media print" in page_html
    (artifacts / "class-summary.html").write_text(page_html, encoding="utf-8")
    pres.screenshot(path=str(artifacts / "class-summary-presenter.png"))
    s2.locator(".st-key-class_summary").scroll_into_view_if_needed()
    settle(s2)
    s2.screenshot(path=str(artifacts / "class-summary-phone.png"), full_page=False)
    for pg in (pres, s1, s2):
        assert_clean(pg)
    for ctx in (pctx, s1ctx, s2ctx):
        ctx.close()
    (artifacts / "class-timings.txt").write_text("\n".join(f"{k}: {v:.1f} s" for k, v in timings.items()))
