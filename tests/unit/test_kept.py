"""The library keeps its results: each ``kept_*`` entry point computes once, a second call (a new process:
an empty memo) reads the result store, what it reads equals a fresh computation, and the page, the CLI,
a recipe and a lesson asking for the same result share one store entry."""
import json

import numpy as np
import pandas as pd
import pytest

from latent.core import store as store_mod
from latent.core.store import Memo

QUEEN = ["honey hive queen"]


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """A fresh, enabled store in a temp folder; ``kept.new_process()`` empties every kept_* memo."""
    from latent.claims import framework
    from latent.dialogues import map as dmap
    from latent.senses import study
    from latent.states import lens
    from latent.states import map as tmap

    monkeypatch.setenv("LATENT_STORE", "on")
    monkeypatch.setenv("LATENT_STORE_DIR", str(tmp_path / "store"))

    class Kept:
        def new_process(self):
            for mod in (framework, dmap, study, lens, tmap):
                monkeypatch.setattr(mod, "memo", Memo())
            monkeypatch.setattr(study, "_steps", type(study._steps)())

        @property
        def store(self):
            return store_mod.store()

    k = Kept()
    k.new_process()
    return k


def counting(monkeypatch, module, name, **override):
    """Replace ``module.name`` by a wrapper that records each call (with ``override`` keyword arguments)."""
    calls, fn = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or fn(*a, **{**k, **override}))
    return calls


def cli_json(capsys, argv):
    import latent.cli as cli

    assert cli.main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# ------------------------------------------------------------------ tokens: map and lens
def test_a_token_map_is_kept_and_a_recipe_reads_the_pages_map(kept, tiny_lm, monkeypatch):
    from latent.recipes import Resources, make_recipe, replay
    from latent.states import map as tmap

    calls = counting(monkeypatch, tmap, "token_map")
    prompts, layers = ("the queen bee", "a hive of bees"), (0, 1, 2)
    first = tmap.kept_token_map(tiny_lm, prompts, layers, method="pca", dims=2, seed=0)     # the page's call
    kept.new_process()
    hits = kept.store.hits
    again = tmap.kept_token_map(tiny_lm, list(prompts), list(layers), method="pca", dims=2, seed=0)
    assert calls == [1] and kept.store.hits == hits + 1
    table, _, _ = replay(make_recipe("states_map", {"prompts": list(prompts), "layers": list(layers), "method": "pca",
                                                   "dims": 2, "seed": 0}), Resources(_lm=tiny_lm))
    assert calls == [1]                                                  # the recipe read the same entry
    fresh = tmap.token_map(tiny_lm, list(prompts), list(layers), method="pca", dims=2, seed=0)
    for tm in (first, again):
        pd.testing.assert_frame_equal(tm.table, fresh.table)
        np.testing.assert_array_equal(tm.vectors, fresh.vectors)
    pd.testing.assert_frame_equal(table.drop(columns="placed"), fresh.table.drop(columns="placed"))


def test_a_lens_is_kept_and_the_cli_and_a_recipe_share_it(kept, tiny_lm, monkeypatch, capsys):
    import latent.cli as cli
    from latent.core.hidden import hidden_states
    from latent.core.lens import lens_table
    from latent.recipes import Resources, make_recipe, replay
    from latent.states import lens

    calls = counting(monkeypatch, lens, "lens_table")
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    out = cli_json(capsys, ["lens", "--text", "the queen bee", "--k", "3", "--json"])
    kept.new_process()
    hits = kept.store.hits
    page = lens.kept_lens(tiny_lm, "the queen bee")                     # the Hidden states page's call (k = 3)
    table, _, _ = replay(make_recipe("lens", {"text": "the queen bee"}), Resources(_lm=tiny_lm))
    assert calls == [1] and kept.store.hits == hits + 1
    ts = hidden_states(tiny_lm, ["the queen bee"])[0]
    fresh = lens_table(tiny_lm, ts, k=3)
    pd.testing.assert_frame_equal(page, fresh)
    pd.testing.assert_frame_equal(table, fresh)
    assert out["tokens"] == ts.tokens == lens.lens_tokens(page)
    assert len(out["lens"]) == (tiny_lm.n_layers + 1) * len(ts.tokens) and len(out["lens"][0]["top"]) == 3


# ------------------------------------------------------------------ senses: fit, report, word orders
def test_the_cli_then_a_lessons_answer_fit_the_queen_set_once(kept, tiny_lm, monkeypatch, capsys):
    """``latent senses`` then the queen lesson's answer then a recipe: one fit between them (the store's
    ``senses.fit`` entry), and each answers what a fresh analyze() answers."""
    import dataclasses

    import latent.cli as cli
    from latent.lessons.facts import queen_sense
    from latent.recipes import Resources, make_recipe, replay
    from latent.senses import study
    from latent.senses.sets import get_builtin

    fits = counting(monkeypatch, study, "fit_senses", n_perm=20)
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    out = cli_json(capsys, ["senses", "--word", "queen", "--context", QUEEN[0]])
    kept.new_process()                                                  # the app: another process
    hits = kept.store.hits
    fact = queen_sense(dataclasses.replace(tiny_lm, _derived={}, _key_locks={}), QUEEN[0])
    assert fits == [1] and kept.store.hits == hits + 1
    sset = get_builtin("queen")
    table, _, _ = replay(make_recipe("senses", {"word": "queen", "senses": sset.senses, "contexts": QUEEN}),
                         Resources(_lm=tiny_lm))
    assert fits == [1]
    fresh = study.analyze(tiny_lm, sset, QUEEN, n_perm=20)
    assert len(fits) == 2                                                # the control: analyze fits afresh
    assert json.loads(json.dumps(fresh.to_json()))["steps"] == out["steps"]
    li = fresh.layers.index(fresh.layer)
    assert fact["answer"] == fresh.steps[0].predicted_sense
    np.testing.assert_allclose(fact["p"], fresh.steps[0].probs[li].max(), rtol=1e-6)
    pd.testing.assert_frame_equal(table, fresh.probs_table())


def test_a_report_is_the_kept_fit_and_steps_and_equals_a_fresh_analysis(kept, tiny_lm, monkeypatch):
    from latent.senses import study
    from latent.senses.sets import get_builtin

    fits = counting(monkeypatch, study, "fit_senses", n_perm=20)
    steps = counting(monkeypatch, study, "score_steps")
    sset, contexts = get_builtin("queen"), study.QUEEN_STEPS[:3]
    first = study.kept_report(tiny_lm, sset, contexts, orders=False)
    again = study.kept_report(tiny_lm, sset, contexts, orders=False)
    assert fits == [1] and steps == [1]                                   # in this process: nothing twice
    kept.new_process()
    study.kept_report(tiny_lm, sset, contexts, orders=False)
    assert fits == [1] and steps == [1, 1]                               # a new process: the fit from the store
    fresh = study.analyze(tiny_lm, sset, contexts, n_perm=20, orders=False)
    for rep in (first, again):
        assert rep.layer == fresh.layer and [s.predicted_sense for s in rep.steps] == [s.predicted_sense for s in fresh.steps]
        np.testing.assert_allclose(np.stack([s.probs for s in rep.steps]), np.stack([s.probs for s in fresh.steps]),
                                   rtol=1e-6)
        np.testing.assert_array_equal(rep.accuracy, fresh.accuracy)


def test_word_orders_are_kept(kept, tiny_lm, monkeypatch):
    from latent.senses import study
    from latent.senses.sets import get_builtin

    counting(monkeypatch, study, "fit_senses", n_perm=20)
    calls = counting(monkeypatch, study, "word_orders")
    sset, contexts = get_builtin("queen"), study.QUEEN_STEPS[:4]
    first = study.kept_orders(tiny_lm, sset, contexts)
    kept.new_process()
    hits = kept.store.hits
    again = study.kept_report(tiny_lm, sset, contexts).orders            # the CLI's and a recipe's report
    assert calls == [1] and kept.store.hits == hits + 2                  # the fit and the orders, both read back
    fresh = study.word_orders(tiny_lm, study.fit_senses(tiny_lm, sset, n_perm=20), contexts)
    assert sorted(fresh.words) == ["hive", "honey", "worker"]
    for o in (first, again):
        pd.testing.assert_frame_equal(o.table(), fresh.table())


# ------------------------------------------------------------------ claims: one experiment result
def test_an_experiment_result_has_one_store_entry_for_the_cli_the_page_the_lesson_and_a_recipe(
        kept, tiny_lm, monkeypatch, capsys):
    import dataclasses

    import latent.cli as cli
    from latent.claims import framework
    from latent.lessons.facts import claim_verdict
    from latent.recipes import Resources, make_recipe, replay

    runs = counting(monkeypatch, framework, "run")
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    out = cli_json(capsys, ["claims", "sparse-matrix", "--json"])
    kept.new_process()
    hits = kept.store.hits
    page = framework.kept_run("sparse-matrix", tiny_lm, params={"prompts": None}, seed=0)   # the page at its defaults
    assert runs == [1] and kept.store.hits == hits + 1
    kept.new_process()
    fact = claim_verdict(dataclasses.replace(tiny_lm, _derived={}, _key_locks={}), "sparse-matrix")
    table, _, verdict = replay(make_recipe("claim", {"name": "sparse-matrix", "params": {}, "seed": 0}),
                               Resources(_lm=tiny_lm))
    assert runs == [1]                                                   # the lesson and the recipe read it too
    framework.kept_run("sparse-matrix", tiny_lm, seed=1)                 # another seed: its own result
    assert runs == [1, 1]
    fresh = framework.run("sparse-matrix", tiny_lm)
    strip = lambda j: json.dumps({k: v for k, v in j.items() if k != "timing_seconds"}, sort_keys=True)  # noqa: E731
    assert strip(page.to_json()) == strip(fresh.to_json()) == strip(out)           # (timing: wall time, not kept equal)
    assert fact["verdict"] == verdict == fresh.verdict and fact["effect"] == fresh.evidence.finding.effect
    pd.testing.assert_frame_equal(table, fresh.table)


# ------------------------------------------------------------------ lessons: the warm-up plan
def test_a_lessons_warm_up_computes_its_steps_facts_in_step_order(tiny_lm, monkeypatch):
    from types import SimpleNamespace as NS

    from latent.lessons import load_lessons, warm

    lesson = next(x for x in load_lessons().values() if sum(bool(s.fact) for s in x.steps) > 1)
    plan = warm.warm_plan(lesson)
    assert plan == [s.fact for s in lesson.steps if s.fact] and plan
    done, waits = [], []
    monkeypatch.setattr(warm, "compute_fact", lambda lm, fact, encoder=None: done.append(fact) or {"answer": "x"})
    assert warm.warm_answers(tiny_lm, lesson, before_each=lambda: waits.append(len(done))) == len(plan)
    assert done == plan and waits == list(range(len(plan)))             # it waits before each answer
    failing = NS(steps=[NS(fact={"name": "a"}), NS(fact=None), NS(fact={"name": "b"})])
    monkeypatch.setattr(warm, "compute_fact", lambda lm, fact, encoder=None: 1 / (fact["name"] == "b"))
    assert warm.warm_answers(tiny_lm, failing) == 1                      # a failing answer is skipped, not fatal
    monkeypatch.setenv("LATENT_WARM", "off")
    assert not warm.warm_enabled()
    monkeypatch.setenv("LATENT_WARM", "on")
    assert warm.warm_enabled()
