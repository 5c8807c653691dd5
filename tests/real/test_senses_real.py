"""The real-model half of tests/unit/test_senses.py.

Sense sets, readouts and the probability/separability math (synthetic), plus the real model."""
import numpy as np
import pytest

from latent.senses.sets import (
    SenseError,
    SenseSet,
    builtin_sets,
    get_builtin,
)
from latent.senses.study import QUEEN_STEPS, compare_readouts, kept_report

# analyze() with the per-set fit kept for the process, as the app and the CLI keep it: the queen set is
# fitted once per model for all the tests below, not once in each
analyze = _analyze = kept_report


# ------------------------------------------------------------------ real model
@pytest.fixture(scope="module")
def queen(real_lm):
    return analyze(real_lm, get_builtin("queen"), QUEEN_STEPS)


def test_queen_separates_and_context_pulls_toward_bee(queen):
    li = queen.layers.index(queen.best_layer)
    assert queen.accuracy[li] >= 0.9
    bee = queen.senses.index("bee")
    assert queen.steps[-1].probs[li, bee] > queen.steps[0].probs[li, bee]
    assert queen.steps[-1].predicted_sense == "bee"
    top = [t for t, _ in queen.steps[-1].next_tokens]
    assert " bee" in top


def test_other_words_separate(real_lm):
    sets = {w: s for w, s in builtin_sets().items() if w != "queen"}
    good = [w for w, s in sets.items() if compare_readouts(real_lm, s, ("echo",))["echo"]["accuracy"] >= 0.85]
    assert len(good) >= 8, good


def test_echo_beats_word_when_context_follows(real_lm):
    s = SenseSet("queen", {
        "bee": ["The queen laid eggs in the hive.", "The queen was fed royal jelly by worker bees.",
                "The queen left the hive with a swarm of bees.", "The queen stayed in the honeycomb all summer.",
                "The queen mated with drones in the air.", "The queen was marked by the beekeeper."],
        "monarch": ["The queen ruled the kingdom for decades.", "The queen addressed parliament in London.",
                    "The queen wore her crown at the coronation.", "The queen knighted the famous actor.",
                    "The queen signed the treaty with the king of France.", "The queen greeted ambassadors at the palace."]})
    r = compare_readouts(real_lm, s)
    assert r["word"]["accuracy"] <= 0.6          # every sentence starts "The queen": the word sees no context
    assert r["echo"]["accuracy"] >= r["word"]["accuracy"] + 0.25


def test_sense_direction_points_toward_bee(queen):
    d = queen.direction("bee", "monarch")
    li = queen.layers.index(queen.layer)
    lab = queen.sentences["sense"].to_numpy()
    assert d.project(queen.X[lab == "bee", li]).mean() > d.project(queen.X[lab == "monarch", li]).mean()
    with pytest.raises(SenseError, match="Unknown sense"):
        queen.direction("wasp", "bee")


UNINFORMATIVE = ["xqzt blorf vrrp queen", "I saw the queen.", "It is the queen.", "foo bar baz queen", "Say queen."]


INFORMATIVE = {"The queen wore her crown in the palace.": "monarch", "The queen bee laid eggs in the hive.": "bee"}


@pytest.mark.parametrize("model", ["real_lm", "gemma_lm"])
def test_uninformative_contexts_are_unclear_and_calibration_holds(model, request):
    lm = request.getfixturevalue(model)
    rep = _analyze(lm, get_builtin("queen"), UNINFORMATIVE + list(INFORMATIVE) + QUEEN_STEPS)
    got = {s.context: s.predicted_sense for s in rep.steps}
    assert all(got[c] == "unclear" for c in UNINFORMATIVE), got
    assert all(got[c] == sense for c, sense in INFORMATIVE.items()), got
    assert got[QUEEN_STEPS[-1]] == "bee"
    # held-out calibration error within what a perfectly calibrated model shows at n = 48 (95th pct)
    assert rep.calibration.ece <= rep.calibration.ece_null_p95 + 1e-9
    # the best layer beats shuffled senses even when the layer is chosen out of sample
    assert rep.nested_accuracy > rep.null_accuracy_p95
    # reordering the context words cannot change what is reported
    again = _analyze(lm, get_builtin("queen"), ["queen", "beeswax hive worker honey queen"])
    assert again.orders.verdict == rep.orders.verdict
    assert np.all(again.orders.share_mean <= 1) and np.all(again.orders.share_mean >= 0)


GOAL_MET = {"real_lm"}   # queen's abstention meets coverage ≥ 0.8 at selective accuracy ≥ 0.95, ≤ 0.1 sense-free named


# Gemma's half in make test-all (docs/testing.md): SmolLM2's here, and Gemma's calibration and margins below stay in CI
@pytest.mark.parametrize("model", ["real_lm", pytest.param("gemma_lm", marks=pytest.mark.full)])
def test_the_abstention_rule_states_its_coverage_and_a_shuffled_sense_set_is_unclear(model, request):
    """The rule's numbers are measured on held-out sentences and cross-fitted sense-free contexts; the
    control behaves as a control: with the sentences shuffled across senses nothing is named."""
    from latent.senses.study import NULL_LEVEL

    lm = request.getfixturevalue(model)
    sset = get_builtin("queen")
    rep = _analyze(lm, sset, list(INFORMATIVE) + QUEEN_STEPS, orders=False)
    a = rep.abstention
    assert a.separable and a.n == len(rep.sentences) and a.n_null >= 50
    assert a.coverage_ci[0] <= a.coverage <= a.coverage_ci[1] and a.null_ci[0] <= a.null_named_rate <= a.null_ci[1]
    assert a.null_named_rate <= 1 - NULL_LEVEL + 0.1                      # about 1 in 20 sense-free contexts named
    if model in GOAL_MET:       # issue 37, item 7's goal, where it is met (docs/claims.md: Gemma's queen is still short)
        assert a.coverage >= 0.8 and a.selective_accuracy >= 0.95 and a.null_named_rate <= 0.1, a.to_json()
    j = rep.to_json()
    assert {"rule", "threshold", "coverage", "selective_accuracy", "null_named_rate", "n"} <= set(j["abstention"])
    for step in j["steps"]:                                # an unclear or barely named step has no probabilities
        named = step["predicted_sense"] != "unclear"
        assert ("probabilities" in step) == (named and not step["barely"]) and "scores" in step
        assert ("margin" in step) == ("margin_ci" in step) == ("barely" in step) == named
    sents = [x for v in sset.senses.values() for x in v]
    order = np.random.default_rng(0).permutation(len(sents))
    sizes = np.cumsum([0] + [len(v) for v in sset.senses.values()])
    shuffled = SenseSet(sset.word, {n: [sents[i] for i in order[a_:b_]]
                                    for n, a_, b_ in zip(sset.senses, sizes[:-1], sizes[1:])})
    rep0 = _analyze(lm, shuffled, list(INFORMATIVE) + QUEEN_STEPS, orders=False)
    assert not rep0.abstention.separable
    assert all(s.predicted_sense == "unclear" for s in rep0.steps)


NONSENSE = ["xqzt blorf vrrp queen", "foo bar baz queen", "glim snorp queen", "zzk wub queen", "plonk vreet queen",
            "kweb drasp fnord queen", "blip blop queen", "vasht queen", "mip tork queen", "snib queen"]


def test_gemma_names_the_bare_queen_at_most_barely_and_prints_no_p_above_its_held_out_support(gemma_lm):
    """Issue 37, item 6 (the audit: bare "queen" named "band, p = 1.00" on cosine 0.481 against 0.477; nonsense
    nearest "band" at p ≥ 0.998). The bare word is unclear or barely named (no p); no nonsense context is shown
    with p ≥ 0.99; and a printed p never exceeds the held-out accuracy's lower bound (held-out sentences
    outside the set and the sense-free contexts), which on Gemma is below 0.99. The queen fit is the one the
    tests above keep."""
    from latent.lessons.facts import queen_sense

    rep = _analyze(gemma_lm, get_builtin("queen"), ["queen"] + NONSENSE, orders=False)
    bare = rep.steps[0]
    assert bare.predicted_sense == "unclear" or bare.barely, (bare.predicted_sense, bare.margin, bare.margin_ci)
    sup = rep.support
    assert sup.n_sentences == 30 and sup.n_null == len(rep.null_contexts) and not sup.supports(0.99)
    for step, s in zip(rep.steps, rep.to_json()["steps"]):
        shown = s.get("p_shown", "")
        assert not (shown.startswith("= ") and float(shown[2:]) >= 0.99), s
        assert "= 1.00" not in rep.reading(step) and "= 0.99" not in rep.reading(step)
    fact = queen_sense(gemma_lm, "queen")               # the lesson's reveal reads the same step
    assert fact["answer"] == "unclear" or (fact["barely"] and "barely named" in fact["why"] and "= " not in fact["why"])
