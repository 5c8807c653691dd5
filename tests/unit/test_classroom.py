"""The class database (members, steps, predictions, answers, reset, migrations), the translations, the
handout, and the charts lessons name."""
import ast
import re
import sqlite3
import string
import threading
from pathlib import Path

import pytest

from app_pages.site import TITLES, page
from latent.lessons import LANGUAGES, TRANSLATED, Lesson, LessonError, classes, load_lessons, translate
from latent.lessons.classes import CODE_ALPHABET, MIGRATIONS, ClassDB, ClassError, normal_code, tally_text, valid_code
from latent.lessons.handout import NEARLY_BLANK, handout_html, handout_pdf, pdf_layout, write_handout
from latent.lessons.words import WORDS, glossary_file, t

ROOT = Path(__file__).resolve().parents[2]
LESSONS = load_lessons(pages=TITLES)


@pytest.fixture
def db(tmp_path):
    return ClassDB(tmp_path / "classes.sqlite3")


def test_a_class_counts_its_members_predictions_and_answers(db):
    c = db.create("queen-hive")
    assert valid_code(c.code) and c.step == 1 and c.members == 0
    a, b = db.join(c.code, "Ada"), db.join(c.code)                # names are optional
    db.predict(c.code, a, 2, "bee")
    db.predict(c.code, b, 2, "band")
    db.predict(c.code, b, 2, "bee")                               # a later prediction replaces the earlier one
    db.predict(c.code, a, 3, "monarch")
    assert db.tally(c.code, 2) == {"bee": 2} and db.tally(c.code, 3) == {"monarch": 1}
    assert db.get(c.code).members == 2
    assert db.answer(c.code, 2) is None
    db.reveal(c.code, 2, "unclear")
    assert db.answer(c.code, 2) == "unclear"


def test_only_the_presenter_moves_and_resets_the_class(db):
    c = db.create("queen-hive")
    with pytest.raises(ClassError, match="presenter"):
        db.set_step(c.code, "not-the-key", 3)
    db.set_step(c.code, c.teacher, 3)
    assert db.get(c.code).step == 3
    m = db.join(c.code)
    db.predict(c.code, m, 3, "bee")
    with pytest.raises(ClassError, match="presenter"):
        db.reset(c.code, "nope")
    db.reset(c.code, c.teacher)
    info = db.get(c.code)
    assert info.members == 0 and info.step == 1 and db.tally(c.code, 3) == {}
    with pytest.raises(ClassError, match="Not a member"):          # the old members are gone with it
        db.predict(c.code, m, 3, "bee")


def test_the_reveal_locks_the_step_and_keeps_the_answer_with_its_numbers(db):
    c = db.create("queen-hive")
    a, b = db.join(c.code), db.join(c.code)
    db.predict(c.code, a, 2, "bee")
    p = db.pulse(c.code, 2)
    assert (p.answered, p.locked, p.revealed) == (1, False, False)
    db.lock(c.code, c.teacher, 2)                                 # the teacher's click: closed before the answer computes
    with pytest.raises(ClassError, match="locked"):
        db.predict(c.code, a, 2, "band")                          # no change after the fact
    with pytest.raises(ClassError, match="locked"):
        db.predict(c.code, b, 2, "band")                          # and no late vote
    db.predict(c.code, a, 3, "monarch")                           # the next step is still open
    db.reveal(c.code, 2, "bee", {"answer": "bee", "p": 0.75})
    assert db.tally(c.code, 2) == {"bee": 1} and db.prediction(c.code, a, 2) == "bee" and db.prediction(c.code, b, 2) is None
    assert db.fact(c.code, 2) == {"answer": "bee", "p": 0.75} and db.fact(c.code, 3) is None
    p = db.pulse(c.code, 2)
    assert (p.answered, p.locked, p.revealed) == (1, True, True)
    with pytest.raises(ClassError, match="presenter"):
        db.lock(c.code, "nope", 3)
    db.reveal(c.code, 4, "yes")                                   # a reveal locks its step by itself
    assert db.locked(c.code, 4) and db.fact(c.code, 4) == {"answer": "yes"}


def test_a_countdown_locks_the_step_when_it_runs_out(db, monkeypatch):
    c = db.create("queen-hive")
    m = db.join(c.code)
    now = [1000.0]
    monkeypatch.setattr(classes.time, "time", lambda: now[0])
    at = db.lock(c.code, c.teacher, 2, seconds=30)
    assert at == 1030.0 and not db.locked(c.code, 2)
    db.predict(c.code, m, 2, "bee")                               # still open while it counts down
    assert db.lock(c.code, c.teacher, 2, seconds=60) == 1030.0   # a later countdown does not reopen it
    now[0] = 1030.5
    assert db.locked(c.code, 2) and db.pulse(c.code, 2).locked
    with pytest.raises(ClassError, match="locked"):
        db.predict(c.code, m, 2, "band")


def test_one_member_per_device_and_joined_counts_devices_seen_recently(db, monkeypatch):
    c = db.create("queen-hive")
    now = [1000.0]
    monkeypatch.setattr(classes.time, "time", lambda: now[0])
    phone = "dev-" + "a" * 20
    first = db.join(c.code, device=phone)
    assert db.join(c.code, device=phone) == first                 # the link re-opened, the QR code re-scanned
    laptop = db.join(c.code, device="dev-" + "b" * 20)
    assert laptop != first and db.get(c.code).members == 2 and db.get(c.code).present == 2
    assert db.join(c.code) != db.join(c.code)                     # without a device id: a new member each time
    assert db.join(c.code, device="<bad id>") != db.join(c.code, device="<bad id>")   # a malformed id is not trusted
    other = db.create("queen-hive")
    assert db.join(other.code, device=phone) != first             # one member per device and class
    now[0] += classes.RECENT_SECONDS + 1                          # nobody checked in for a minute
    assert db.get(c.code).present == 0 and db.get(c.code).members == 6
    assert db.seen(c.code, first) and not db.seen(c.code, "not-a-member")
    assert db.get(c.code).present == 1


def test_reset_starts_a_new_round_that_can_be_revealed_again(db):
    c = db.create("queen-hive")
    m = db.join(c.code, device="device-one-1234")
    db.set_step(c.code, c.teacher, 3)
    db.predict(c.code, m, 2, "bee")
    db.reveal(c.code, 2, "bee")
    db.end(c.code, c.teacher)
    db.reset(c.code, c.teacher)
    info = db.get(c.code)
    assert (info.step, info.round, info.ended, info.members) == (1, 1, None, 0)
    assert db.tally(c.code, 2) == {} and db.answer(c.code, 2) is None and not db.locked(c.code, 2)
    again = db.join(c.code, device="device-one-1234")              # the same device joins the new round
    db.predict(c.code, again, 2, "band")                           # open again
    db.reveal(c.code, 2, "band")
    assert db.answer(c.code, 2) == "band" and db.tally(c.code, 2) == {"band": 1}


def test_end_closes_the_class_and_summarises_it(db):
    lesson = LESSONS["queen-hive"]
    asks = [i for i, s in enumerate(lesson.steps, start=1) if s.ask]
    c = db.create("queen-hive")
    a, b, d = (db.join(c.code) for _ in range(3))
    first = asks[0]
    opts = lesson.steps[first - 1].options
    db.predict(c.code, a, first, opts[0])
    db.predict(c.code, b, first, opts[0])
    db.predict(c.code, d, first, opts[1])
    db.reveal(c.code, first, opts[0])
    with pytest.raises(ClassError, match="presenter"):
        db.end(c.code, "nope")
    db.end(c.code, c.teacher)
    assert db.get(c.code).ended is not None
    with pytest.raises(ClassError, match="ended"):
        db.predict(c.code, a, asks[1], opts[0])
    s = db.summary(c.code, lesson)
    assert [x.step for x in s.steps] == asks and s.members == 3
    one = s.steps[0]
    assert (one.predicted, one.right, one.answer) == (3, 2, opts[0]) and s.steps[1].answer is None
    rows = s.to_csv().splitlines()
    assert rows[0] == "step,question,option,predictions,model_answer"
    assert f"{first},{lesson.steps[first - 1].ask},{lesson.steps[first - 1].label(opts[0])},2,yes" in rows
    assert any(r.endswith(",not revealed") for r in rows)
    page = s.to_html()
    assert page.startswith("<!doctype html>") and "@media print" in page and page.count("<section>") == len(asks)
    assert "2 of 3 predicted as the model" in s.text()
    assert s.to_json()["steps"][0]["predictions"][opts[0]] == 2


def test_the_summary_escapes_text_and_defuses_spreadsheet_formulas():
    s = classes.ClassSummary("ABC234", "<script>x</script>", 1, None, (classes.StepSummary(
        1, "=HYPERLINK(\"http://x\")", (("a", "<b>a</b>", 1),), "a", "<b>a</b>"),))
    page = s.to_html()
    assert "<script>" not in page and "<b>a" not in page and "&lt;b&gt;a&lt;/b&gt;" in page
    assert "'=HYPERLINK" in s.to_csv()


def test_an_old_class_database_gets_rounds_devices_and_locks_with_its_data(tmp_path):
    path = tmp_path / "v2.db"
    con = sqlite3.connect(path, isolation_level=None)
    for sql in MIGRATIONS[:2]:
        for stmt in filter(str.strip, sql.split(";")):
            con.execute(stmt)
    con.execute("PRAGMA user_version = 2")
    con.execute("INSERT INTO classes (code, lesson, step, teacher, created, updated) VALUES ('ABCDEF', 'x', 2, 't', 0, 0)")
    con.execute("INSERT INTO members (id, code, name, joined) VALUES ('m1', 'ABCDEF', '', 5)")
    con.execute("INSERT INTO answers (code, step, answer, at) VALUES ('ABCDEF', 2, 'bee', 0)")
    con.close()
    db = ClassDB(path)
    info = db.get("ABCDEF")
    assert (info.round, info.ended, info.members, info.present) == (0, None, 1, 0)
    assert db.fact("ABCDEF", 2) == {"answer": "bee"}
    db.predict("ABCDEF", "m1", 3, "bee")


def test_state_survives_a_new_connection_and_two_databases_never_mix(tmp_path):
    one, two = ClassDB(tmp_path / "a.db"), ClassDB(tmp_path / "b.db")
    c = one.create("queen-hive")
    one.predict(c.code, one.join(c.code), 2, "bee")
    again = ClassDB(tmp_path / "a.db")                             # a restarted server opens the same file
    assert again.tally(c.code, 2) == {"bee": 1}
    with pytest.raises(ClassError, match="no class"):
        two.get(c.code)


@pytest.mark.parametrize("bad", ["", "abc", "ABCDE0", "<b>hi", "ABCDEFG", None, 12])
def test_bad_codes_are_refused_with_a_message(db, bad):
    with pytest.raises(ClassError, match="not a class code"):
        db.get(bad)


def test_names_are_cut_and_stripped_of_control_characters(db):
    c = db.create("queen-hive")
    m = db.join(c.code, "A\x00da" + "x" * 100)
    with sqlite3.connect(db.path) as con:
        name = con.execute("SELECT name FROM members WHERE id = ?", (m,)).fetchone()[0]
    assert name.startswith("Ada") and len(name) == 40


def test_migrations_run_once_in_order_from_an_older_schema(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path, isolation_level=None)
    for stmt in filter(str.strip, MIGRATIONS[0].split(";")):
        con.execute(stmt)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO classes (code, lesson, step, teacher, created, updated) VALUES ('ABCDEF', 'x', 2, 't', 0, 0)")
    con.close()
    db = ClassDB(path)                                            # version 1 -> the latest, data kept
    assert db.get("ABCDEF").lang == "en" and db.get("ABCDEF").step == 2
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    ClassDB(path)                                                 # and again: nothing to do, no error


def test_concurrent_predictions_are_all_counted(db):
    c = db.create("queen-hive")
    members = [db.join(c.code) for _ in range(16)]
    threads = [threading.Thread(target=db.predict, args=(c.code, m, 2, "bee" if i % 2 else "band"))
               for i, m in enumerate(members)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert db.tally(c.code, 2) == {"band": 8, "bee": 8}


def test_the_tally_text_marks_the_answer_and_scales_bars():
    text = tally_text(["bee", "band", "unclear"], {"bee": 4, "band": 2}, "band", str)
    lines = text.splitlines()
    assert lines[0].count("█") == 10 and lines[1].count("█") == 5 and lines[2].count("█") == 0
    assert "◀" in lines[1] and "◀" not in lines[0]
    assert "not revealed" in tally_text(["bee"], {}, None, str)


# ------------------------------------------------------------------ translations
def _texts(obj):
    """Every text of a translated field, with its path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from ((f"{k}.{p}", x) for p, x in _texts(v))
    elif isinstance(obj, str):
        yield "", obj


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("lang", [x for x in LANGUAGES if x != "en"])
def test_every_translation_has_text_for_every_key(lang):
    """Every lesson field, panel word and the glossary exist in each language, with the same {fields}."""
    import json

    for p in sorted((ROOT / "assets/lessons").glob("*.json")):
        en = json.loads(p.read_text(encoding="utf-8"))
        tr = json.loads((ROOT / "assets/lessons/i18n" / lang / p.name).read_text(encoding="utf-8"))
        assert tr["title"].strip() and tr["title"] != en["title"] and tr["summary"].strip()
        assert len(tr["steps"]) == len(en["steps"]), p.name
        for i, (s_en, s_tr) in enumerate(zip(en["steps"], tr["steps"]), start=1):
            for k in TRANSLATED:
                if k == "labels" or k not in s_en:
                    continue
                for path, text in _texts(s_en[k]):
                    got = s_tr[k] if not path else s_tr[k]
                    for part in filter(None, path.split(".")):
                        got = got[part]
                    assert isinstance(got, str) and got.strip(), (p.name, i, k, path)
                    assert _fields(got) == _fields(text), (p.name, i, k, path)
            for o in s_en.get("options", []):
                assert s_tr["labels"][o].strip(), (p.name, i, o)     # every option has words on screen
    assert set(WORDS[lang]) == set(WORDS["en"]) and all(v.strip() for v in WORDS[lang].values())
    for k, v in WORDS["en"].items():
        assert _fields(WORDS[lang][k]) == _fields(v), k
    g_en, g_tr = glossary_file("en").read_text(encoding="utf-8"), glossary_file(lang).read_text(encoding="utf-8")
    assert glossary_file(lang).name == f"glossary.{lang}.md" and g_tr.count("\n- **") == g_en.count("\n- **")


def test_a_translated_lesson_keeps_pages_facts_and_options_and_falls_back_to_english():
    de = load_lessons(lang="de")["queen-hive"]
    en = LESSONS["queen-hive"]
    assert de.title != en.title and de.lang == "de"
    for a, b in zip(de.steps, en.steps):
        assert (a.page, a.set, a.fact, a.options, a.chart, a.minutes) == (b.page, b.set, b.fact, b.options, b.chart, b.minutes)
    d = {"id": "x", "title": "T", "steps": [{"page": "Senses", "text": "one", "notes": "n"}]}
    out = translate(d, {"title": "Ü", "steps": [{"text": "", "notes": "N"}]})
    assert out["title"] == "Ü" and out["steps"][0]["text"] == "one" and out["steps"][0]["notes"] == "N"
    assert load_lessons(lang="xx")["queen-hive"].title == en.title          # unknown: English


def test_panel_words_fall_back_to_english():
    assert t("reveal", "de") != t("reveal", "en") and t("reveal", "zz") == t("reveal", "en")


# ------------------------------------------------------------------ lesson content
def test_every_asking_step_has_plain_words_and_what_to_say_for_every_answer():
    for lesson in LESSONS.values():
        assert lesson.minutes > 0
        for i, s in enumerate(lesson.steps, start=1):
            assert s.notes and s.minutes > 0 and s.expect, (lesson.id, i)
            if s.ask:
                assert set(s.options) <= set(s.say), (lesson.id, i)
                assert "unclear" in s.options, (lesson.id, i)             # "unclear" is always a possible answer
                assert all(o in s.plain for o in s.options) or "*" in s.plain, (lesson.id, i)
                yes_no = re.match(r"^(Is|Are|Will|Does|Do)\b", s.ask)
                if yes_no:
                    assert s.options[:2] == ["yes", "no"], (lesson.id, i, s.options)


def test_unclear_never_sits_next_to_a_percentage():
    """The plain sentence for "unclear" names no number, in any language."""
    for lang in LANGUAGES:
        for lesson in load_lessons(lang=lang).values():
            for s in lesson.steps:
                if "unclear" in s.plain:
                    assert not re.search(r"\d|%|\{p", s.plain["unclear"]), (lang, lesson.id, s.plain["unclear"])


def test_a_step_with_too_few_words_for_its_answers_is_refused():
    step = {"page": "Senses", "text": "t", "ask": "?", "options": ["a", "b"], "fact": {"name": "queen_sense"},
            "say": {"a": "x"}}
    with pytest.raises(LessonError, match="no words for the answer 'b'"):
        Lesson.from_dict({"id": "x", "title": "t", "steps": [step]})
    with pytest.raises(LessonError, match="needs 'options' and a 'fact'"):
        Lesson.from_dict({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "t", "ask": "?"}]})
    with pytest.raises(LessonError, match="minutes"):
        Lesson.from_dict({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "t", "minutes": "ten"}]})


def _chart_keys(page_file: str) -> set[str]:
    """The keys a page gives its charts: every ``chart(..., key=...)`` call (an f-string key such as
    ``cl_fig_{name}`` is expanded over the names the page loops over: here, the experiments)."""
    from latent.claims import registry

    keys = set()
    for node in ast.walk(ast.parse((ROOT / page_file).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "chart":
            for kw in node.keywords:
                if kw.arg == "key" and isinstance(kw.value, ast.Constant):
                    keys.add(kw.value.value)
                elif kw.arg == "key" and isinstance(kw.value, ast.JoinedStr):
                    head = "".join(v.value for v in kw.value.values if isinstance(v, ast.Constant))
                    keys |= {head + name for name in registry()}
    return keys


def test_every_named_chart_exists_on_its_page():
    named = 0
    for lesson in LESSONS.values():
        for i, s in enumerate(lesson.steps, start=1):
            if s.chart:
                named += 1
                assert s.chart in _chart_keys(page(s.page).file), (lesson.id, i, s.chart)
    assert named >= 8


# ------------------------------------------------------------------ handout
@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("lesson_id", list(LESSONS))
def test_the_handout_renders_for_each_lesson(lesson_id, lang, tmp_path):
    lesson = load_lessons(lang=lang)[lesson_id]
    html_ = handout_html(lesson)
    assert html_.count("class='box'") == 2 * sum(bool(s.ask) for s in lesson.steps)      # space to write
    assert "class='teacher'" in html_ and "page-break-before" in html_                     # notes on their own pages
    for s in lesson.steps:
        if s.ask:
            import html as h

            assert h.escape(s.ask) in html_ and all(h.escape(s.label(o)) in html_ for o in s.options)
            assert h.escape(s.say_text(s.options[0])) in html_
    pdf = handout_pdf(lesson)
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + \
        pdf.count(b"/Type/Page") >= 2
    out = write_handout(lesson, tmp_path / "h.html")
    assert out.read_text(encoding="utf-8") == html_
    with pytest.raises(LessonError, match=".html or .pdf"):
        write_handout(lesson, tmp_path / "h.docx")


def _pdf_pages(pdf: bytes) -> int:
    """The page count in the PDF's page tree (its one ``/Type /Pages`` object's ``/Count``)."""
    tree = re.search(rb"<<([^>]*/Type /Pages[^>]*)>>", pdf).group(1)
    return int(re.search(rb"/Count (\d+)", tree).group(1))


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("lesson_id", list(LESSONS))
def test_the_pdf_handout_has_no_nearly_blank_page(lesson_id, lang):
    """The walk's queen handout had a second page with one line on it (the students' part ran over): each part's
    last page is now at least a fifth full, or the part is one page; every handout is two pages (students',
    teacher's), at readable type (at least 76 % of full size)."""
    lesson = load_lessons(lang=lang)[lesson_id]
    out = pdf_layout(lesson)
    assert len(out["parts"]) == 2 and all(pages == 1 or full >= NEARLY_BLANK for pages, full in out["parts"]), out["parts"]
    assert out["scale"] >= 0.76
    pdf = handout_pdf(lesson)
    assert _pdf_pages(pdf) == sum(pages for pages, _ in out["parts"]) == 2


def test_the_handout_says_minutes_as_each_language_writes_it():
    """German nouns are capitalised: "14 Minuten", never "minuten" (the walk's PDF); English and Spanish in lower case."""
    for lang, word in (("de", "Minuten"), ("en", "minutes"), ("es", "minutos")):
        lesson = load_lessons(lang=lang)["queen-hive"]
        lines = pdf_layout(lesson)["lines"]
        html_ = handout_html(lesson)
        total = f"{lesson.minutes:g} {word}"
        assert any(line.endswith(f": {total}") for line in lines), lines[:12]
        assert f": {total}</p>" in html_ and f"· {lesson.steps[0].minutes:g} {word}</h2>" in html_
        assert sum(line.endswith(f" {word}") for line in lines) == len(lesson.steps) + 1
    assert not any("minuten" in line for line in pdf_layout(load_lessons(lang="de")["queen-hive"])["lines"])


def test_the_handout_shows_lesson_text_as_text_not_markup():
    lesson = Lesson.from_dict({"id": "x", "title": "<script>alert(1)</script>", "steps": [
        {"page": "Senses", "text": "<img src=x onerror=alert(1)>", "notes": "<b>n</b>"}]})
    html_ = handout_html(lesson)
    assert "<script>" not in html_ and "<img" not in html_ and "&lt;script&gt;" in html_


def test_a_typed_class_code_is_read_forgivingly():
    """Any case, spaces and dashes, and O/0 and I/1 confused: the typed code and the stored ones are folded
    alike (the codes' own alphabet has none of the four); anything else is not a code."""
    assert normal_code("abc234") == normal_code("ABC234") == normal_code(" ab c-234\n") == "ABC234"
    assert normal_code("B0XIYZ") == normal_code("boxiyz") == normal_code("BOX1YZ") == "B0X1YZ"
    for bad in ("ABC23", "ABC2345", "ABC<34", "", None, "ÄBC234", "[x](y)"):
        assert normal_code(bad) is None, bad
    assert not set("O0I1") & set(CODE_ALPHABET)                     # a made code never needs the folding ...
    assert all(normal_code(ch * 6) == ch * 6 for ch in CODE_ALPHABET)    # ... and keeps every character it has


def test_a_class_is_found_by_its_code_typed_forgivingly(db, monkeypatch):
    c = db.create("queen-hive")
    for typed in (c.code, c.code.lower(), f" {c.code[:3]}-{c.code[3:]} "):
        assert db.find(typed).code == c.code
    from latent.lessons import classes

    monkeypatch.setattr(classes, "CODE_ALPHABET", "0I")          # stored codes made by an alphabet with lookalikes
    mixed = db.create("queen-hive").code
    assert set(mixed) <= {"0", "I"}
    for typed in (mixed, mixed.lower(), mixed.replace("0", "O"), mixed.replace("I", "1"), mixed.translate(str.maketrans("0I", "o1"))):
        assert db.find(typed).code == mixed, typed
    other = next(ch for ch in CODE_ALPHABET if ch != c.code[0])
    with pytest.raises(ClassError, match="There is no class"):
        db.find(other + c.code[1:])
    with pytest.raises(ClassError, match="not a class code"):
        db.find("[x](http://evil)")
