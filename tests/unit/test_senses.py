"""Sense sets, readouts and the probability/separability math (synthetic), plus the real model."""

import numpy as np
import pytest

from latent.senses.sets import (
    SenseError,
    SenseSet,
    builtin_sets,
    centroids,
    find_word,
    get_builtin,
    loo_accuracy,
    readout_texts,
    sense_probs,
    silhouette,
    word_states,
)


def planted(n=8, layers=3, d=16, sep=(0.0, 2.0, 6.0), seed=0):
    """Two senses whose separation grows with the layer: (points, layers, d), labels."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=d) * 5
    axis = np.eye(d)[0]
    X = np.zeros((2 * n, layers, d))
    for li, s in enumerate(sep):
        X[:n, li] = base + s * axis + rng.normal(size=(n, d))
        X[n:, li] = base - s * axis + rng.normal(size=(n, d))
    return X, np.repeat([0, 1], n)


def test_probs_are_distributions_and_follow_the_centroid():
    X, y = planted()
    mean, C = centroids(X, y, 2)
    P = sense_probs(X, mean, C)
    assert P.shape == (16, 3, 2)
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-6)
    assert (P[:8, 2, 0] > 0.9).all() and (P[8:, 2, 1] > 0.9).all()


def test_separability_grows_with_planted_separation():
    X, y = planted()
    acc, sil = loo_accuracy(X, y, 2), silhouette(X, y)
    assert acc[0] < 0.8 and acc[2] == 1.0
    assert sil[0] < sil[1] < sil[2]


def test_loo_excludes_the_point_itself():
    # a single far-away point per sense: with leave-one-out it cannot vote for itself
    X = np.array([[[1.0, 0]], [[0.9, 0.1]], [[-1, 0]], [[0.95, 0.05]]])
    y = np.array([0, 0, 1, 1])
    acc = loo_accuracy(X, y, 2)[0]
    assert acc < 1.0


def test_find_word_any_case_and_plural():
    assert find_word("The QUEEN waved", "queen") == (4, 9)
    assert find_word("Queen", "queen") == (0, 5)
    assert find_word("two queens", "queen") == (4, 9)
    assert find_word("queenly", "queen") is None


@pytest.mark.parametrize("sset,msg", [
    (SenseSet("queen", {"a": ["the queen", "a queen"], "b": ["no word here", "the queen"]}), "missing from the sentence 'no word here'"),
    (SenseSet("queen", {"a": ["the queen"], "b": ["a queen", "queen!"]}), "Sense 'a' has 1 sentence"),
    (SenseSet("queen", {f"s{i}": ["queen", "a queen"] for i in range(50)}), "50 senses is too many"),
    (SenseSet("queen", {"a": ["queen", "a queen"]}), "at least two senses"),
    (SenseSet("two words", {"a": ["x", "y"], "b": ["x", "y"]}), "single word"),
])
def test_bad_sense_sets(sset, msg):
    with pytest.raises(SenseError, match=msg):
        sset.validate()


@pytest.mark.parametrize("text,msg", [("{not json", "not valid JSON"), ('{"word": 3}', "must be"),
                                      ('{"word": "q", "senses": {"a": "x"}}', "list of sentences")])
def test_malformed_json(text, msg):
    with pytest.raises(SenseError, match=msg):
        SenseSet.from_json(text)


def test_json_round_trip_and_rows():
    q = get_builtin("QUEEN")
    back = SenseSet.from_json(q.to_json())
    assert back.senses == q.senses
    assert SenseSet.from_rows("queen", q.to_rows()).senses == q.senses
    with pytest.raises(SenseError, match="no sense name"):
        SenseSet.from_rows("queen", [{"sense": "", "sentence": "a queen"}])


def test_builtin_sets_shape():
    sets = builtin_sets()
    q = sets["queen"]
    assert len(q.senses) >= 6 and all(len(v) >= 8 for v in q.senses.values())
    assert len(sets) >= 11
    for s in sets.values():
        s.validate()
    with pytest.raises(SenseError, match="Built-in words: queen"):
        get_builtin("zebra")


def test_every_built_in_word_has_held_out_sentences_outside_every_fit():
    """Issue 37, item 7: at least five held-out sentences per sense for every shipped word, each with the word
    in it, none also a sentence of any shipped set (they check a printed p; they never enter a centroid)."""
    from latent.senses.sets import heldout_sentences

    sets = builtin_sets()
    fit = {t for s in sets.values() for v in s.senses.values() for t in v}
    for w, s in sets.items():
        held = heldout_sentences(w, s.names)
        per = {n: [t for m, t in held if m == n] for n in s.names}
        assert all(len(v) >= 5 for v in per.values()), (w, {n: len(v) for n, v in per.items()})
        assert all(find_word(t, w) is not None for _, t in held), w
        assert not {t for _, t in held} & fit, w


def test_readout_texts():
    (t, span), = readout_texts(["The Queen waved"], "queen", "echo")
    assert t.endswith("\nThe queen") and t[span[0]:span[1]] == "queen"
    (t, span), = readout_texts(["The Queen waved"], "queen", "word")
    assert t[span[0]:span[1]] == "Queen"
    with pytest.raises(SenseError, match="Empty context"):
        readout_texts(["  "], "queen", "echo")
    with pytest.raises(SenseError, match="missing"):
        readout_texts(["a bee"], "queen", "word")


def test_word_states_on_tiny_model(tiny_lm):
    X = word_states(tiny_lm, ["a queen", "the queen bee"], "queen", "word", layers=[1, 2])
    assert X.shape == (2, 2, 32)
    # the word's own state ignores text after it (causal): same prefix, same state
    np.testing.assert_allclose(X[0], word_states(tiny_lm, ["a queen and more"], "queen", "word", layers=[1, 2])[0],
                               atol=1e-5)


def test_cli_senses_unknown_word():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "latent", "senses", "--word", "zebra", "--context", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Built-in words: queen" in r.stderr and r.stderr.count("\n") == 1


# ---------------------------------------------------------------- issue 11: calibration and controls
from latent.senses import calibration as cal  # noqa: E402
from latent.senses.study import order_effects  # noqa: E402


def test_loo_sims_equal_brute_force():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 3, 6)), np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    S = cal.loo_sims(X, y, 3)
    U = X - X.mean(0)
    U = U / np.linalg.norm(U, axis=-1, keepdims=True)
    for i in range(10):
        for k in range(3):
            m = (y == k) & (np.arange(10) != i)
            c = U[m].sum(0)
            np.testing.assert_allclose(S[i, :, k], (U[i] * c).sum(-1) / np.linalg.norm(c, axis=-1), atol=1e-9)


def test_fitted_temperature_recovers_the_true_one():
    rng = np.random.default_rng(1)
    S = rng.uniform(-1, 1, size=(4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in cal.softmax(S / 0.3)])
    assert abs(cal.fit_temperature(S, labels) - 0.3) < 0.05


def test_calibrated_probabilities_pass_and_overconfident_ones_fail_the_ece_null():
    rng = np.random.default_rng(2)
    S = rng.uniform(-1, 1, size=(300, 4))
    labels = np.array([rng.choice(4, p=p) for p in cal.softmax(S / 0.5)])
    good = cal.heldout_calibration(S, labels, layer=0)
    assert good.calibrated and good.ece <= good.ece_null_p95
    assert good.ece_fixed > good.ece_null_p95  # tau 0.1 on tau-0.5 data is overconfident: the null catches it


def test_shuffled_labels_land_in_the_null_and_planted_senses_clear_it():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(24, 6, 16)), np.repeat([0, 1, 2], 8)
    null = cal.shuffled_max_accuracy(X, y, 3, n_perm=100)
    assert cal.nested_accuracy(X, y, 3)[0] <= np.percentile(null, 95)   # no signal: inside the null
    X[:, 4] += 4 * np.eye(16)[y]                                        # plant senses at layer 4
    assert cal.nested_accuracy(X, y, 3)[0] > np.percentile(cal.shuffled_max_accuracy(X, y, 3, n_perm=100), 95)


def test_order_shares_stay_in_range_and_ignore_input_order():
    words = ["honey", "worker", "hive"]

    def P_fn(contexts):  # P(sense 0) jumps when "hive" is present, plus a little per word
        p = np.array([0.1 + 0.05 * len(c.split()) + 0.6 * ("hive" in c) for c in contexts])
        return np.stack([p, 1 - p], axis=1)

    a = order_effects(P_fn, words, "queen", ["bee", "monarch"])
    b = order_effects(P_fn, words[::-1], "queen", ["bee", "monarch"])
    assert a.verdict == b.verdict and "a jump at 'hive'" in a.verdict
    assert np.all((a.share_mean >= 0) & (a.share_mean <= 1)) and a.share_mean.sum() <= 1 + 1e-9
    flat = order_effects(lambda cs: np.stack([np.full(len(cs), 0.5)] * 2, 1), words, "queen", ["bee", "monarch"])
    assert "barely move" in flat.verdict and np.all(flat.share_mean == 0)




def test_a_step_scored_alone_equals_the_step_scored_with_the_others(tiny_lm):
    """What adding one context word relies on: the per-set fit is reused, and a step scored on its own
    gets the probabilities, cosines, sense and next tokens it gets among all the steps."""
    from latent.senses.sets import get_builtin
    from latent.senses.study import QUEEN_STEPS, analyze, fit_senses, score_steps

    sset = get_builtin("queen")
    f = fit_senses(tiny_lm, sset, n_perm=20)
    together, Q = score_steps(tiny_lm, f, QUEEN_STEPS)
    alone, q = score_steps(tiny_lm, f, QUEEN_STEPS[-1:])
    np.testing.assert_allclose(alone[0].probs, together[-1].probs, atol=1e-5)
    np.testing.assert_allclose(alone[0].sims, together[-1].sims, atol=1e-5)
    np.testing.assert_allclose(q[0], Q[-1], atol=1e-5)
    assert alone[0].predicted_sense == together[-1].predicted_sense
    assert [t for t, _ in alone[0].next_tokens] == [t for t, _ in together[-1].next_tokens]
    whole = analyze(tiny_lm, sset, QUEEN_STEPS, n_perm=20)        # the one-call path gives the same report
    np.testing.assert_allclose(whole.steps[-1].probs, together[-1].probs, atol=1e-5)
    assert whole.best_layer == f.best and whole.unclear_below == f.rule.threshold


def test_the_shuffled_null_equals_leave_one_out_accuracy_run_once_per_shuffle():
    """The shuffled-label null is computed for all shuffles at once from one Gram matrix; it equals
    :func:`loo_accuracy` run on each shuffle in turn (same seed, same draws), and a changed seed does not."""
    r = np.random.default_rng(1)
    X = r.normal(size=(30, 6, 16))
    X[:15] += 0.4
    labels = np.arange(30) % 3
    fast = cal.shuffled_max_accuracy(X, labels, 3, n_perm=120)
    draws = np.random.default_rng(0)
    slow = np.array([cal.loo_accuracy(X, draws.permutation(labels), 3).max() for _ in range(120)])
    assert np.array_equal(fast, slow)
    assert not np.array_equal(cal.shuffled_max_accuracy(X, labels, 3, n_perm=120, seed=1), slow)


def test_the_cli_fits_a_sense_set_once_and_keeps_it(tiny_lm, monkeypatch, capsys, tmp_path):
    """``latent senses`` takes the set's fit from the result store (``kept_fit``), as the app does: a second
    run on the set with another context scores only its steps, and reports what a fresh analyze() reports."""
    import json

    import latent.cli as cli
    from latent.core.store import Memo
    from latent.senses import study
    from latent.senses.sets import get_builtin

    monkeypatch.setenv("LATENT_STORE", "on")
    monkeypatch.setenv("LATENT_STORE_DIR", str(tmp_path))
    monkeypatch.setattr(study, "memo", Memo())                      # nothing an earlier test kept
    fits, fit = [], study.fit_senses
    monkeypatch.setattr(study, "fit_senses", lambda *a, **k: fits.append(1) or fit(*a, **{**k, "n_perm": 20}))
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    assert cli.main(["senses", "--word", "queen", "--context", " "]) == 2     # a bad context: said before any fit
    assert "Empty context" in capsys.readouterr().err and fits == []
    outs = []
    for context in ("queen", "honey hive queen"):
        assert cli.main(["senses", "--word", "queen", "--context", context]) == 0
        outs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert len(fits) == 1                                            # the second run read the kept fit
    fresh = json.loads(json.dumps(study.analyze(tiny_lm, get_builtin("queen"), ["honey hive queen"]).to_json()))
    assert outs[1]["steps"] == fresh["steps"] and outs[1]["best_layer"] == fresh["best_layer"]


# ---------------------------------------------------------------- issue 37, item 6: margins and a printed p
def test_the_threshold_interval_is_seeded_and_narrows_with_more_sense_free_contexts():
    r = np.random.default_rng(3)
    few, many = r.normal(size=30), r.normal(size=3000)
    lo, hi = cal.threshold_interval(few, 0.95)
    assert lo < np.quantile(few, 0.95) < hi
    assert cal.threshold_interval(few, 0.95) == (lo, hi)                       # seeded: the same twice
    assert cal.threshold_interval(few, 0.95, seed=1) != (lo, hi)
    lo2, hi2 = cal.threshold_interval(many, 0.95)
    assert hi2 - lo2 < (hi - lo) / 3


def test_a_margin_inside_the_thresholds_uncertainty_is_barely_named_and_flips_outside_it():
    """Constructed numbers: the audit's 0.481 against 0.477 with a threshold interval [0.46, 0.50] is barely
    named; the same threshold with a tight interval, or a score above the interval, is not."""
    from latent.senses.study import Abstention

    def rule(ci):
        return Abstention(0.477, True, 1.0, (0, 1), 1.0, (0, 1), 0.05, (0, 1), 48, 60, ci, 1000)

    m, ci, barely = rule((0.46, 0.50)).margin(0.481)
    assert abs(m - 0.004) < 1e-9 and ci[0] < 0 < ci[1] and barely
    assert not rule((0.470, 0.479)).margin(0.481)[2]                # the score clears the interval's top
    assert not rule((0.46, 0.50)).margin(0.51)[2]
    assert rule((0.46, 0.50)).margin(0.50)[2]                        # exactly at the top: its interval touches 0


def test_a_printed_p_never_exceeds_what_held_out_accuracy_supports():
    """The p-support rule on constructed held-out outcomes: 22 of 22 right gives a lower bound of 0.84, so a
    p of 0.998 is printed "≥ 0.84" (never "= 1.00"); named sense-free contexts count as wrong; too little
    support withholds p; and p ≥ 0.99 is printed only with ~370 right of 370."""
    s = cal.p_support(np.ones(22, bool), np.ones(22, bool), np.zeros(60, bool), "d")
    assert (s.n, s.right, s.ceiling) == (22, 22, 0.84)
    assert s.shown(0.998) == "≥ 0.84" and s.shown(0.6) == "= 0.60" and not s.supports(0.99)
    with_nulls = cal.p_support(np.ones(22, bool), np.ones(22, bool), np.arange(60) < 3, "d")
    assert with_nulls.n == 25 and with_nulls.right == 22 and with_nulls.ceiling < s.ceiling
    poor = cal.p_support(np.ones(10, bool), np.arange(10) < 4, np.zeros(60, bool), "d")
    assert poor.ceiling == 0 and poor.shown(0.9) == "withheld" and "no p is printed" in poor.note()
    none = cal.p_support(np.zeros(10, bool), np.zeros(10, bool), np.zeros(60, bool), "d")
    assert none.n == 0 and none.shown(0.9) == "withheld"
    big = cal.p_support(np.ones(370, bool), np.ones(370, bool), np.zeros(60, bool), "d")
    assert big.supports(0.99) and big.shown(0.99) == "= 0.99"
    j = s.to_json()
    assert {"n", "right", "accuracy", "ci", "ceiling", "domain", "rule"} <= set(j) and j["ceiling"] == 0.84


def test_the_senses_json_carries_margin_and_barely_for_named_steps_and_no_p_when_barely(tiny_lm):
    """The ``senses --json`` contract on the tiny model, with the fit's rule set so that one step flips:
    a named step has ``margin``, ``margin_ci`` and ``barely``; barely named it has no probabilities (as
    an unclear step), clearly named it has them and the p as printed; the reading says which."""
    import dataclasses
    import json

    from latent.senses.sets import get_builtin
    from latent.senses.study import fit_senses, report, score_steps

    f = fit_senses(tiny_lm, get_builtin("queen"), n_perm=20)
    assert f.support is not None and f.support.n_sentences == 30            # queen has held-out sentences
    probe, _ = score_steps(tiny_lm, f, ["queen"])
    score = float(probe[0].sims[f.use].max())

    def contract(threshold, ci):
        f.rule = dataclasses.replace(f.rule, separable=True, threshold=threshold, threshold_ci=ci)
        steps, Q = score_steps(tiny_lm, f, ["queen"])
        return json.loads(json.dumps(report(f, steps, Q).to_json()))

    barely = contract(score - 0.004, (score - 0.02, score + 0.02))["steps"][0]
    assert barely["barely"] is True and abs(barely["margin"] - 0.004) < 1e-3
    assert barely["margin_ci"][0] < 0 < barely["margin_ci"][1] and "probabilities" not in barely
    assert barely["reading"].startswith("barely named: ") and "margin +0.004" in barely["reading"]
    clear = contract(score - 0.05, (score - 0.06, score - 0.04))
    step = clear["steps"][0]
    assert step["barely"] is False and step["margin_ci"][0] > 0 and "probabilities" in step
    assert step["p_shown"] in step["reading"] and "barely" not in step["reading"]
    assert clear["abstention"]["threshold_ci"] == [round(score - 0.06, 4), round(score - 0.04, 4)]
    assert {"n", "ceiling", "domain"} <= set(clear["p_support"])
    unclear = contract(score + 0.01, (score, score + 0.02))["steps"][0]
    assert unclear["predicted_sense"] == "unclear"
    assert not {"margin", "margin_ci", "barely", "probabilities"} & set(unclear)


def test_the_pull_line_prints_no_probability_above_what_held_out_accuracy_supports(tiny_lm):
    """The pull line ("the probability of bee goes 0.00 → …") caps its numbers as the readings do: with a
    support bound of 0.80, a step's 0.998 prints as "≥ 0.80", never as "1.00"."""
    import dataclasses

    from latent.senses import study
    from latent.senses.calibration import PSupport
    from latent.senses.sets import get_builtin

    f = study.fit_senses(tiny_lm, get_builtin("queen"), n_perm=20)
    rep = study.report(f, *study.score_steps(tiny_lm, f, ["queen", "honey hive queen"]))
    rep = dataclasses.replace(rep, support=PSupport(n=25, right=24, ci=(0.80, 0.999), domain="d", n_sentences=30,
                                                    n_null=60, n_null_named=1))
    li = rep.layers.index(rep.layer)
    k = rep.senses.index(rep.target())
    rep.steps[-1].probs[li, k] = 0.998
    line = rep.pull(rep.target())
    assert "→ ≥ 0.80 over the steps" in line and "1.00" not in line


def test_the_default_layer_names_the_most_sentences_while_staying_right_and_falls_back_to_the_best_layer():
    """Issue 37, item 7: with no layer asked for, steps are read where the abstention rule covers the most of the
    set's own (left-out) sentences at selective accuracy ≥ 0.95 and ≤ 0.1 sense-free named; a layer that covers
    more but names wrongly, or does not separate, is passed over; with none qualifying, the best layer."""
    from latent.senses.study import coverage_layer

    labels = np.repeat([0, 1], 10)
    own = np.where(np.eye(2)[labels] > 0, 0.8, 0.1)                     # right, far above the sense-free contexts
    S = np.stack([own * 0.5, own, own[:, ::-1]], axis=1)                  # (20, 3 layers, 2)
    null = np.tile(np.linspace(0.0, 0.45, 40)[:, None], (1, 3))          # 95 % point ≈ 0.43
    sep = np.array([True, True, True])
    assert coverage_layer(S, labels, null, sep, best=0) == 1             # layer 0 names none (0.4 < 0.43)
    assert coverage_layer(S, labels, null, np.array([True, False, True]), best=0) == 0   # 2 names all, all wrong
    S[:, 0] = own                                                          # a tie at full coverage goes to best
    assert coverage_layer(S, labels, null, sep, best=0) == 0 and coverage_layer(S, labels, null, sep, best=1) == 1


def test_fit_senses_reads_steps_at_the_coverage_layer_unless_a_layer_is_asked_for(tiny_lm):
    from latent.senses import calibration as cal
    from latent.senses.sets import _center_unit as _center
    from latent.senses.sets import get_builtin
    from latent.senses.study import coverage_layer, fit_senses

    sset = get_builtin("bank")
    f = fit_senses(tiny_lm, sset, n_perm=20)
    S_loo = cal.loo_sims(f.X, f.labels, len(f.names))
    N = word_states(tiny_lm, f.nulls, "bank")
    null = np.einsum("qld,lkd->qlk", _center(N, f.mean), f.C).max(-1)
    assert f.use == coverage_layer(S_loo, f.labels, null, f.accuracy > np.quantile(f.shuffled, 0.95), f.best)
    assert fit_senses(tiny_lm, sset, layer=1, n_perm=20).use == 1
