"""AppTest, on the tests' tiny random model: what a lesson step that asks keeps off screen until its reveal
(in a class and alone), the chart each step brings up, a following student's panel (no Back or Next), and a
student's prediction shown again by a new session (a restarted server's)."""
import json

import pytest

from tests.support import open_page


def _traces(at) -> set[str]:
    return {t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]}


def _notes(at) -> str:
    return " ".join(i.value for i in at.info)


def _class(tmp_path, monkeypatch, lesson="queen-hive"):
    from latent.lessons import classes

    monkeypatch.setenv("LATENT_DATA_DIR", str(tmp_path))
    return classes.class_db(), classes.class_db().create(lesson)


QUEEN_FACT = {"answer": "bee", "nearest": "bee", "p": 0.9, "layer": 1, "why": "p(bee) = 0.90", "p_bee": 0.9,
              "p_monarch": 0.05, "p_name": "p", "calibration": "calibrated", "numbers": "p(bee) = 0.90, p(monarch) = 0.05",
              "barely": False, "margin": 0.05}


def test_a_queen_step_hides_the_contexts_stars_and_readouts_until_you_reveal():
    at = open_page("app_pages/3_Senses.py", lesson="queen-hive", step="3")
    assert "context steps" not in _traces(at)                       # the stars: where the context lands
    assert "Hidden until you reveal the answer." in _notes(at)
    assert "★ Hidden until you reveal the answer." in _notes(at)    # the note above the map
    assert not any("P(" in i.value for i in at.info)                # the pull names the sense
    assert "sn_target" not in [s.key for s in at.selectbox]         # its default is the sense the steps land on
    assert "do_sn_send" not in [b.key for b in at.button]           # the hand-off's defaults name it too
    next(r for r in at.radio if r.key.startswith("lesson_guess_")).set_value("bee").run()
    at.button(key="do_lesson_reveal_queen-hive_2").click().run()
    assert not at.exception and any("Model's answer" in s.value for s in at.success)
    assert "context steps" in _traces(at)
    assert "Hidden until" not in _notes(at) and any("P(" in i.value for i in at.info)
    assert "do_sn_send" in [b.key for b in at.button]
    # outside a step that asks, nothing is hidden
    free = open_page("app_pages/3_Senses.py", lesson="queen-hive", step="4")
    assert "context steps" in _traces(free) and "Hidden until" not in _notes(free)


def test_in_a_class_the_students_chart_shows_the_star_only_after_the_teachers_reveal(tmp_path, monkeypatch):
    db, info = _class(tmp_path, monkeypatch)
    db.set_step(info.code, info.teacher, 3)
    student = open_page("app_pages/3_Senses.py", lesson="queen-hive", **{"class": info.code})
    assert "context steps" not in _traces(student)
    assert "★ Hidden until the teacher reveals the answer." in _notes(student)
    projector = open_page("app_pages/3_Senses.py", lesson="queen-hive", step="3", present="1", teach=info.teacher,
                      **{"class": info.code})
    assert "context steps" not in _traces(projector)              # the class reads the projector too
    assert "Hidden until the teacher reveals" in _notes(projector)
    db.lock(info.code, info.teacher, 3)
    db.reveal(info.code, 3, "bee", QUEEN_FACT)
    student.run()
    assert not student.exception and any("Model's answer" in s.value for s in student.success)
    assert "context steps" in _traces(student) and "Hidden until" not in _notes(student)
    projector.run()
    assert "context steps" in _traces(projector) and "Hidden until" not in _notes(projector)


def test_a_following_student_has_no_back_or_next_and_a_teacher_and_a_solo_lesson_do(tmp_path, monkeypatch):
    db, info = _class(tmp_path, monkeypatch)
    db.set_step(info.code, info.teacher, 2)
    student = open_page("app_pages/3_Senses.py", lesson="queen-hive", **{"class": info.code})
    keys = [b.key for b in student.button]
    assert "do_lesson_next" not in keys and "do_lesson_back" not in keys
    assert "lesson_jump" not in [s.key for s in student.selectbox]
    assert student.toggle(key="lesson_follow").value is True
    student.toggle(key="lesson_follow").set_value(False).run()       # not following: back, but not past the teacher
    assert not student.exception
    assert student.button(key="do_lesson_back").disabled is False
    assert student.button(key="do_lesson_next").disabled is True
    assert len(student.selectbox(key="lesson_jump").options) == 2   # steps 1 and 2 only: not past the teacher
    projector = open_page("app_pages/3_Senses.py", lesson="queen-hive", present="1", teach=info.teacher,
                      **{"class": info.code})
    assert projector.button(key="do_lesson_next").disabled is False
    solo = open_page("app_pages/3_Senses.py", lesson="queen-hive", step="2")
    assert solo.button(key="do_lesson_next").disabled is False and solo.button(key="do_lesson_back").disabled is False


def test_a_students_prediction_shows_again_in_a_new_session_after_a_restart(tmp_path, monkeypatch):
    db, info = _class(tmp_path, monkeypatch)
    db.set_step(info.code, info.teacher, 2)
    student = open_page("app_pages/3_Senses.py", lesson="queen-hive", **{"class": info.code})
    me = student.session_state["_member"]
    next(r for r in student.radio if r.key.startswith("lesson_guess_")).set_value("band").run()
    assert db.prediction(info.code, me, 2) == "band"
    # a restarted server: a new session, which has only the page's link (its member id) and the class's database
    again = open_page("app_pages/3_Senses.py", lesson="queen-hive", me=me, **{"class": info.code})
    assert again.session_state["_member"] == me
    radio = next(r for r in again.radio if r.key.startswith("lesson_guess_"))
    assert radio.value == "band"
    assert any("Your prediction is in." in c.value for c in again.caption)


WALK_FACT = {"answer": "yes", "slope": 0.2, "lo": 0.1, "hi": 0.3, "band_lo": -0.05, "band_hi": 0.05, "n_units": 8,
             "n_random": 8, "wrong_way": 0.1, "preset": "Love − Hate", "layer": 1, "strength": 0.4, "source": "",
             "verdict": "beyond random", "random_verdict": "beyond random", "data_verdict": "beyond data-shaped null",
             "data_lo": -0.08, "data_hi": 0.09, "n_splits": 4, "deg_dir": 1, "n_dir": 16, "deg_random": 3,
             "n_random_rows": 128, "prompt_set": "default prompts", "n_prompts": 8}


def test_a_walking_step_hides_the_steered_texts_and_the_verdict_until_you_reveal(monkeypatch):
    from latent.lessons.facts import FACTS

    monkeypatch.setitem(FACTS, "walk_band", lambda lm, encoder=None, **kw: dict(WALK_FACT))
    at = open_page("app_pages/4_Latent_walk.py", lesson="walking-direction", step="2")
    assert at.radio(key="walk_source").value == "preset" and at.selectbox(key="walk_preset").value == "Love − Hate"
    assert "Hidden until you reveal the answer." in _notes(at)      # where the answer's chart comes
    at.text_area(key="walk_prompt_preset").input("I think that you").run()
    at.text_input(key="walk_strengths_preset").input("-0.2,0,0.2").run()
    at.slider(key="walk_tokens").set_value(5).run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and not at.error
    md = " ".join(m.value for m in at.markdown)
    assert "**unsteered**" not in md and "I think that you" not in md          # the steered texts' cards
    assert not any("Steerability" in i.value for i in at.info)                  # the verdict
    assert "this direction (mean, 95 % CI)" not in _traces(at)                  # the meters: the random band only
    assert any("random directions" in (n or "") for n in _traces(at))
    next(r for r in at.radio if r.key.startswith("lesson_guess_")).set_value("yes").run()
    at.button(key="do_lesson_reveal_walking-direction_1").click().run()
    assert not at.exception and any("Model's answer" in s.value for s in at.success)
    md = " ".join(m.value for m in at.markdown)
    assert "**unsteered**" in md and "I think that you" in md
    assert any("Steerability" in i.value for i in at.info)
    assert "this direction (mean, 95 % CI)" in _traces(at) and "Hidden until" not in _notes(at)


@pytest.mark.parametrize("step,name,hidden", [("2", "sparse-matrix", True), ("3", "talking", False)])
def test_a_claims_step_opens_its_experiments_tab_and_hides_the_verdict_it_asks(step, name, hidden):
    from latent.claims import registry

    at = open_page("app_pages/5_Seed_claims.py", lesson="seed-claims", step=step)
    assert at.session_state["cl_tab"] == registry()[name].title
    assert ("Hidden until you reveal the answer." in _notes(at)) is hidden
