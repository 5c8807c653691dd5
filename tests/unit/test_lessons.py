"""Lessons are data: every shipped lesson loads, sets widgets that exist on its page, asks for facts
that exist, and never states an outcome other than the computed one."""
import json
import re
from pathlib import Path

import pytest

from app_pages.site import PAGES, TITLES, is_value_key, page
from latent.lessons import LANGUAGES, Lesson, LessonError, Step, load_lessons
from latent.lessons.facts import FACTS

ROOT = Path(__file__).resolve().parents[2]


def widget_keys(page_file: str) -> set[str]:
    src = (ROOT / page_file).read_text(encoding="utf-8")
    return set(re.findall(r'key=f?"([A-Za-z0-9_\-]+)"', src))


def test_four_lessons_ship_and_load():
    lessons = load_lessons(pages=TITLES)
    assert {"queen-hive", "conversation-path", "walking-direction", "seed-claims"} <= set(lessons)
    assert all(any(s.ask for s in lesson.steps) for lesson in lessons.values())   # each one asks to predict


@pytest.mark.parametrize("lesson", list(load_lessons(pages=TITLES).values()), ids=lambda x: x.id)
def test_lessons_set_real_widgets_and_use_real_facts(lesson):
    for s in lesson.steps:
        keys = widget_keys(page(s.page).file)
        assert set(s.set) <= keys, (lesson.id, s.page, set(s.set) - keys)
        assert all(is_value_key(k) for k in s.set), (lesson.id, s.set)      # a button's state cannot be set
        if s.ask:
            assert s.fact["name"] in FACTS and s.options and "*" in s.reveal
            # answer-specific texts exist only for answers the learner can choose
            assert set(s.reveal) - {"*"} <= set(map(str, s.options)), (lesson.id, s.reveal.keys())


def test_hideable_controls_exist():
    for p in PAGES:
        keys = {k for k, _ in p.controls}
        assert keys <= widget_keys(p.file), (p.title, keys - widget_keys(p.file))


def test_reveal_never_claims_another_outcome():
    step = load_lessons()["queen-hive"].steps[2]
    values = {"p_bee": 0.2, "p_monarch": 0.1, "layer": 9, "p": 0.6, "why": "p(band) = 0.60", "nearest": "band",
              "p_name": "p", "calibration": "calibrated", "numbers": "p(bee) = 0.20, p(monarch) = 0.10"}
    bee = step.reveal_text({**values, "answer": "bee"})
    band = step.reveal_text({**values, "answer": "band"})
    assert "nearest the **bee** sense" in bee and "nearest the **bee**" not in band and "not the bee" in band


def test_a_sense_number_is_called_a_probability_only_where_calibration_held():
    """The reveal names the numbers from the held-out calibration check at that layer: "p" within
    sampling noise, "score" above it or unmeasured; the note says which, with its n."""
    from types import SimpleNamespace as NS

    from latent.lessons.facts import calibration_words, numbers_text

    step = load_lessons()["queen-hive"].steps[2]
    base = {"p_bee": 0.9, "p_monarch": 0.05, "layer": 9, "p": 0.9, "why": "", "nearest": "bee", "answer": "bee"}
    for cal, name in ((NS(calibrated=True, layer=9, ece=0.05, ece_null_p95=0.08, n=48), "p"),
                      (NS(calibrated=False, layer=9, ece=0.21, ece_null_p95=0.08, n=48), "score"), (None, "score")):
        p_name, note = calibration_words(cal)
        numbers = numbers_text(p_name, {"bee": "= 0.90", "monarch": "= 0.05"})
        text = step.reveal_text({**base, "p_name": p_name, "calibration": note, "numbers": numbers})
        assert p_name == name and f"{name}(bee) = 0.90" in text
        assert ("p(bee)" in text) == (name == "p") and ("not probabilities" in text) == (name == "score")
        if cal is not None:
            assert f"n = {cal.n}" in text


@pytest.mark.parametrize("doc,msg", [
    ({"id": "x", "title": "t"}, "missing field 'steps'"),
    ({"id": "x y", "title": "t", "steps": [{"page": "Senses", "text": "a"}]}, "id may use"),
    ({"id": "x", "title": "t", "steps": [{"page": "Nowhere", "text": "a"}]}, "unknown page 'Nowhere'. Must be one of"),
    ({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "a", "fact": {"name": "astrology"}}]}, "unknown fact"),
    ({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "a", "colour": 1}]}, "unknown field 'colour'"),
    ({"id": "x", "title": "t", "steps": []}, "at least one step"),
    ([1, 2], "a JSON object"),
])
def test_bad_lessons_get_one_clear_line(doc, msg):
    with pytest.raises(LessonError, match=msg):
        Lesson.from_dict(doc, "bad.json", pages=TITLES)


def test_every_shipped_lesson_names_only_the_apps_pages_in_every_language():
    """The library does not know the app's pages: the app passes its titles, and every shipped lesson (and
    translation) loads with them, so a step naming a page that does not exist fails here."""
    for lang in LANGUAGES:
        lessons = load_lessons(lang=lang, pages=TITLES)
        assert lessons and all(s.page in TITLES for lesson in lessons.values() for s in lesson.steps), lang


def test_page_names_are_checked_only_against_the_titles_given(tmp_path):
    """Without ``pages`` a page name is not checked (the handout prints no page); with the app's titles an
    unknown page is refused, naming the file, the step and the titles, from a file as from a dict."""
    doc = {"id": "a", "title": "A", "steps": [{"page": "Home", "text": "hi"}, {"page": "Nowhere", "text": "x"}]}
    assert Lesson.from_dict(doc, "a.json").steps[1].page == "Nowhere"
    with pytest.raises(LessonError, match="a.json, step 2: unknown page 'Nowhere'. Must be one of: Home, Dialogues"):
        Lesson.from_dict(doc, "a.json", pages=TITLES)
    (tmp_path / "a.json").write_text(json.dumps(doc), encoding="utf-8")
    assert load_lessons(tmp_path)["a"].steps[1].page == "Nowhere"
    with pytest.raises(LessonError, match="a.json, step 2: unknown page 'Nowhere'"):
        load_lessons(tmp_path, pages=TITLES)
    with pytest.raises(LessonError, match="unknown page 'Home'. Must be one of: Senses$"):
        load_lessons(tmp_path, pages=iter(["Senses"]))                 # any iterable of titles


def test_a_broken_file_is_named(tmp_path):
    (tmp_path / "a.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LessonError, match="a.json: not valid JSON"):
        load_lessons(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"id": "a", "title": "A", "steps": [{"page": "Home", "text": "hi"}]}))
    assert load_lessons(tmp_path, pages=TITLES)["a"].steps[0].text == "hi"


def test_reveal_with_a_missing_value_is_an_error_not_a_guess():
    with pytest.raises(LessonError, match="needs a value"):
        Step("Senses", "t", reveal={"*": "{nothing}"}).reveal_text({"answer": "bee"})


def test_a_step_hides_only_page_parts_a_page_asks_about_and_only_when_it_asks():
    """``hide`` names what a page keeps off screen until the reveal: every name a shipped lesson uses is
    asked by its page (``answer_hidden("…")``), and a step that does not ask cannot hide."""
    from latent.claims import registry

    asked = {}
    for p in PAGES:
        src = (ROOT / p.file).read_text(encoding="utf-8")
        names = set(re.findall(r'answer_hidden\("([A-Za-z0-9_\-]+)"\)', src))
        names |= {head + n for head in re.findall(r'answer_hidden\(f"([A-Za-z0-9_\-]+)\{name\}"\)', src) for n in registry()}
        asked[p.title] = names
    hiding = 0
    for lesson in load_lessons(pages=TITLES).values():
        for s in lesson.steps:
            assert set(s.hide) <= asked[s.page], (lesson.id, s.page, set(s.hide) - asked[s.page])
            hiding += bool(s.hide)
    assert hiding >= 4                      # the two queen steps, the walking step, the claims step
    with pytest.raises(LessonError, match="only a step that asks"):
        Lesson.from_dict({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "t", "hide": ["sense_stars"]}]})
    with pytest.raises(LessonError, match="'hide' is a list"):
        Lesson.from_dict({"id": "x", "title": "t", "steps": [{"page": "Senses", "text": "t", "hide": "sense_stars"}]})


def test_the_sense_map_hiding_the_answer_has_no_context_stars():
    import pandas as pd

    from latent.senses.figures import sense_map_figure

    df = pd.DataFrame([{"kind": "sentence", "sense": "bee", "x": 0.0, "y": 0.0, "text": "a hive", "step": None},
                       {"kind": "step", "sense": None, "x": 1.0, "y": 1.0, "text": "queen", "step": 0},
                       {"kind": "step", "sense": None, "x": 2.0, "y": 1.0, "text": "honey queen", "step": 1}])
    full, hidden = sense_map_figure(df, ["bee"], "t"), sense_map_figure(df, ["bee"], "t", hide_answer=True)
    assert [t.name for t in full.data] == ["bee", "context steps"] and len(full.layout.annotations) == 1
    assert [t.name for t in hidden.data] == ["bee"] and not hidden.layout.annotations


def test_a_lesson_file_with_old_widget_keys_is_read_under_todays_names(tmp_path):
    """A user's lesson written before the renames (``hs_`` → ``states_``, ``wk_`` → ``walk_``) names its
    settings, its chart and its hidden parts under the old prefixes; the app reads all three under today's."""
    from app_pages.site import current_key

    doc = {"id": "old", "title": "Old keys", "steps": [
        {"page": "Latent walk", "text": "Walk.", "set": {"wk_preset": "Love − Hate", "sn_word": "queen"},
         "chart": "wk_chart", "ask": "Which way?", "options": ["up", "down"],
         "fact": {"name": next(iter(FACTS))}, "hide": ["wk_texts", "wk_verdict"]}]}
    (tmp_path / "old.json").write_text(json.dumps(doc))
    step = load_lessons(tmp_path, pages=TITLES, keys=current_key)["old"].steps[0]
    assert step.set == {"walk_preset": "Love − Hate", "sn_word": "queen"}
    assert (step.chart, step.hide) == ("walk_chart", ("walk_texts", "walk_verdict"))
    raw = load_lessons(tmp_path, pages=TITLES)["old"].steps[0]          # the library alone keeps what the file says
    assert (raw.set, raw.chart, raw.hide) == (doc["steps"][0]["set"], "wk_chart", ("wk_texts", "wk_verdict"))


def test_the_bare_queen_reveal_gives_a_barely_named_sense_its_margin_and_no_p(tiny_lm, monkeypatch):
    """Issue 37, item 6: the lesson's reveal reads the step's margin. With the rule set so one context clears
    the threshold by less than the threshold's interval and another by more, the first reveal says "barely
    named" with the margin and prints no p; the second prints the p as the report shows it."""
    import dataclasses

    from latent.lessons.facts import queen_sense
    from latent.senses import study
    from latent.senses.sets import get_builtin

    f = study.fit_senses(tiny_lm, get_builtin("queen"), n_perm=20)
    monkeypatch.setattr(study, "kept_report", lambda lm, sset, contexts, **k: study.report(
        f, *study.score_steps(lm, f, list(contexts))))
    step = load_lessons()["queen-hive"].steps[1]
    for context, barely in (("zq queen", True), ("zr queen", False)):
        score = float(study.score_steps(tiny_lm, f, [context])[0][0].sims[f.use].max())
        gap = 0.004 if barely else 0.05
        f.rule = dataclasses.replace(f.rule, separable=True, threshold=score - gap,
                                     threshold_ci=(score - 0.02, score + 0.02) if barely else (score - 0.06, score - 0.04))
        fact = queen_sense(tiny_lm, context)
        text = step.reveal_text(fact)
        assert fact["barely"] is barely and fact["answer"] != "unclear"
        if barely:
            assert "barely named" in text and "margin +0.004" in text and " = " not in text and " ≥ " not in text
        else:
            assert "barely" not in text and f"{fact['p_name']}({fact['answer']}) " in text


def test_the_walking_reveal_gives_the_degenerate_counts_of_the_direction_and_the_random_rows_in_every_language():
    """Issue 37, item 2: the walking step's reveal, for every answer and language, says how many steered texts
    degenerated, the direction's and the random directions', with the counts the fact took from the sweep's rows.
    (A model of its own: the fact keeps its sweep on the model, where other tests expect none.)"""
    import numpy as np

    from latent.core.tiny import make_tiny_lm
    from latent.lessons.facts import walk_band

    tiny_lm = make_tiny_lm()

    class Enc:
        def encode(self, texts, normalize_embeddings=True, **kw):
            v = np.array([[len(t) + 1.0, t.count("e") + 1.0] for t in texts])
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    fact = walk_band(tiny_lm, "Love − Hate", Enc())
    assert (fact["n_dir"], fact["n_random_rows"], fact["n_prompts"]) == (16, 128, 8)     # 8 prompts × ±s; × 8 random
    assert 0 <= fact["deg_dir"] <= 16 and 0 <= fact["deg_random"] <= 128 and fact["prompt_set"] == "default prompts"
    for lang in LANGUAGES:
        step = load_lessons(lang=lang)["walking-direction"].steps[1]
        for answer in ("yes", "no", "unclear"):
            text = step.reveal_text({**fact, "deg_dir": 5, "deg_random": 77, "answer": answer})
            assert "5" in text and "77" in text and "128" in text, (lang, answer, text)
