"""Every claim tab's key sentence agrees with its numbers: one test per experiment whose sentence is
generated (talking, reasoning, economy, cousins), each with constructed result numbers (the JSON's
``numbers``) for both sides of the case that flips it. No model runs here; the tiny-model contract test
in test_experiments.py checks that a real run's ``headline`` is this function of its own ``numbers``."""
import copy

import pytest

from latent.claims.evidence import (
    ABOVE_FLOOR,
    INCONCLUSIVE,
    NOT_ABOVE_FLOOR,
    NOT_SUPPORTED,
    SUPPORTED,
    floor_check,
    judge,
    paired_finding,
    unpaired_finding,
)
from latent.claims.experiments import cousins, economy, reasoning, talking


def rate(effect, lo, hi, n, **kw):
    return {"effect": effect, "ci": [lo, hi], "n": n, **kw}


# ------------------------------------------------------------------ talking
TALKING = {"vector_message": rate(0.46, 0.37, 0.55, 120, bytes=128.0),
           "baselines": {"word_as_text": rate(0.87, 0.79, 0.92, 120, bytes=5.0)},
           "seen_words": rate(0.72, 0.60, 0.82, 68), "unseen_words": rate(0.115, 0.04, 0.23, 52),
           "seen_minus_unseen": rate(0.605, 0.46, 0.74, 120), "vs_text": rate(-0.41, -0.52, -0.29, 120)}


def test_talking_sentence_follows_the_seen_unseen_split_and_the_text_baseline():
    low = talking.what_crosses(TALKING)                      # unseen ≪ seen, the text wins: identity only
    assert low.startswith("What crosses is mostly the identity of words the map was fitted on")
    assert "Nothing here shows more than the token's identity crossing" in low
    for part in ("0.12 [0.04, 0.23], n = 52", "0.72 [0.60, 0.82], n = 68", "0.87 [0.79, 0.92], n = 120", "(5 bytes)",
                 "+0.60 [+0.46, +0.74]", "-0.41 [-0.52, -0.29]"):
        assert part in low, part
    same = copy.deepcopy(TALKING)                            # unseen ≈ seen: the map is not a lookup
    same["unseen_words"], same["seen_minus_unseen"] = rate(0.70, 0.56, 0.81, 52), rate(0.02, -0.14, 0.18, 120)
    s = talking.what_crosses(same)
    assert "carries new words about as well as words it was fitted on" in s and "0.70 [0.56, 0.81], n = 52" in s
    assert "nothing here shows more than the token's identity crossing" in s       # but the text still wins
    same["vs_text"] = rate(0.12, 0.03, 0.21, 120)            # ...and the message beats the text: more than identity
    assert talking.what_crosses(same).startswith("More than the token's identity crosses")
    beats = copy.deepcopy(TALKING)
    beats["vs_text"] = rate(0.12, 0.03, 0.21, 120)
    assert "mostly on words the map was fitted on" in talking.what_crosses(beats)
    one_sided = copy.deepcopy(TALKING)
    one_sided["unseen_words"] = one_sided["seen_minus_unseen"] = None
    assert "not measured" in talking.what_crosses(one_sided)
    # no fixed ratio rule: the layer-0 map is not read at all
    assert talking.what_crosses({**TALKING, "baselines": {**TALKING["baselines"], "layer0_map": rate(0.9, 0.8, 1, 120)}}) == low


def test_floor_rows_are_floors_and_the_split_is_a_two_group_finding():
    f = floor_check(paired_finding("fitted minus shuffled", [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    assert f.verdict == ABOVE_FLOOR and f.verdict not in (SUPPORTED, NOT_SUPPORTED)
    assert floor_check(paired_finding("noise", [0.0, 1.0, -1.0, 0.0, 1.0, -1.0])).verdict == NOT_ABOVE_FLOOR
    g = unpaired_finding("seen minus unseen", [1.0] * 20, [0.0] * 18 + [1.0] * 2)
    assert g.n == 40 and g.effect == pytest.approx(0.9) and g.verdict == SUPPORTED
    assert unpaired_finding("same", [1.0, 0.0] * 10, [0.0, 1.0] * 10).verdict != SUPPORTED


# ------------------------------------------------------------------ reasoning
REASONING = {"questions": 50, "copy_share": {"effect": 0.34, "ci": [0.21, 0.49], "n": 50, "count": 17},
             "answer_containing": {"n": 17, "own_minus_masked": rate(1.59, 0.72, 2.48, 17)},
             "answer_free": {"n": 33, "own_minus_none": rate(-1.52, -2.2, -0.81, 33),
                             "own_minus_other": rate(0.31, -0.42, 1.0, 33)}}


def test_reasoning_sentence_says_what_is_measured_and_flips_on_the_answer_free_subset():
    s = reasoning.what_is_measured(REASONING)
    assert s.startswith("What is measured: whether the answer word in the reasoning raises the answer.")
    for part in ("17 of 50 reasonings contain the answer word (copy share 0.34 [0.21, 0.49])",
                 "raises the answer against the same reasoning with it masked: +1.59 nats [+0.72, +2.48], n = 17",
                 "On the 33 reasonings without the word", "-1.52 nats [-2.20, -0.81], n = 33"):
        assert part in s, part
    assert "is not shown to raise the answer; what helps is the answer word appearing in the text" in s
    helps = copy.deepcopy(REASONING)                  # reasoning without the word helps: the other sentence
    helps["answer_free"]["own_minus_other"] = rate(0.9, 0.3, 1.5, 33)
    helps["answer_free"]["own_minus_none"] = rate(0.5, 0.1, 0.9, 33)
    h = reasoning.what_is_measured(helps)
    assert "still raises the answer, beyond no reasoning and beyond another question's reasoning" in h
    assert "what helps is the answer word" not in h
    none = copy.deepcopy(REASONING)
    none["copy_share"], none["answer_containing"] = {"effect": 0.0, "ci": [0.0, 0.07], "n": 50, "count": 0}, None
    assert "0 by construction" in reasoning.what_is_measured(none)


def test_reasoning_caveat_has_current_wording():
    import numpy as np

    n = 10
    neg = paired_finding("vs none", -np.linspace(1.0, 1.5, n))
    more = [paired_finding(str(i), np.ones(n)) for i in range(5)] + [neg]
    acc = {c: np.zeros(n) for c in reasoning.CONDITIONS}
    ev = reasoning._evidence(n, paired_finding("head", np.ones(n)), more, acc, 0, np.ones(n, bool))
    assert "irrelevant reasoning" not in ev.caveat and "The answer word in the reasoning raises the answer" in ev.caveat


# ------------------------------------------------------------------ economy
def tau_rows(rows):
    """Per-τ rows as the JSON's ``r_by_tau`` has them, each with the verdict the table's rule gives."""
    return [{"tau": t, "r": r, "ci_lo": lo, "ci_hi": hi, "verdict": judge((lo, hi), (0.0, 0.0))[0]} for t, r, lo, hi in rows]


def test_economy_headline_and_table_read_one_rule():
    mixed = tau_rows([(0.5, 0.25, 0.1, 0.4), (1.0, 0.25, 0.06, 0.43), (2.0, 0.16, 0.02, 0.3), (2.5, 0.08, -0.05, 0.2),
                      (3.0, 0.05, -0.14, 0.24)])
    w = economy.weakest(mixed)
    assert w["tau"] == 3.0 and w["verdict"] == INCONCLUSIVE            # the least favourable row of the table
    s = economy.tau_sentence({"tau": 1.0, "prompts": 104, "r_by_tau": mixed, "headline_tau": w["tau"]})
    assert s.startswith(f"The verdict depends on τ ({SUPPORTED} at τ = 0.5–2, {INCONCLUSIVE} at τ = 2.5–3)")
    assert f"τ = 3: r = +0.05 [-0.14, +0.24], n = 104, {INCONCLUSIVE}" in s
    assert f"at the τ chosen above (1), r = +0.25 [+0.06, +0.43], n = 104: {SUPPORTED}" in s
    flat = tau_rows([(0.5, 0.25, 0.1, 0.4), (1.0, 0.25, 0.06, 0.43), (3.0, 0.15, 0.01, 0.3)])     # every τ agrees
    f = economy.tau_sentence({"tau": 1.0, "prompts": 104, "r_by_tau": flat, "headline_tau": 1.0})
    assert f.startswith(f"Every τ from 0.5 to 3 gives the same verdict, {SUPPORTED}") and "depends" not in f


def test_economy_run_headline_is_a_table_row(tiny_lm):
    """On a tiny model: the headline finding's interval and verdict are those of the row it names."""
    from latent.claims import run

    r = run("economy", tiny_lm, n_probes=4)
    rows = {row["tau"]: row for row in r.numbers["r_by_tau"]}
    row, f = rows[r.numbers["headline_tau"]], r.evidence.finding
    assert f.verdict == row["verdict"] and (round(f.ci[0], 4), round(f.ci[1], 4)) == (row["ci_lo"], row["ci_hi"])
    assert r.to_json()["headline"] == economy.tau_sentence(r.numbers)


# ------------------------------------------------------------------ cousins
COUSINS = {"prompts": 50, "far_reference": "gemma-3-270m",
           "by_cousin": {"fp32 copy (floor)": {"continuation_differs": 0.0, "differs_ci": [0.0, 0.07]},
                         cousins.HEADLINE: {"continuation_differs": 0.94, "differs_ci": [0.83, 0.99],
                                            "first_word_agreement": 0.5, "first_word_ci": [0.36, 0.64]}},
           "far_first_word": rate(0.58, 0.43, 0.71, 50), "cousin_minus_far": rate(-0.08, -0.24, 0.08, 50)}


def test_cousins_sentence_sets_the_cousin_against_the_unrelated_model():
    s = cousins.cousin_sentence(COUSINS)
    for part in ("94% [83%, 99%] of 50 prompts", "0% [0%, 7%] for an fp32 copy", "gemma-3-270m's on 58% [43%, 71%]",
                 "50% [36%, 64%]", "-0.08 [-0.24, +0.08], n = 50"):
        assert part in s, part
    assert "no closer to the original than an unrelated model" in s and "a relative's" not in s
    closer = copy.deepcopy(COUSINS)
    closer["cousin_minus_far"] = rate(0.3, 0.15, 0.45, 50)
    c = cousins.cousin_sentence(closer)
    assert "stays closer to the original than a stranger does" in c and "no closer" not in c
    alone = {k: v for k, v in COUSINS.items() if k not in ("far_first_word", "cousin_minus_far")}
    assert "not measured" in cousins.cousin_sentence({**alone, "far_reference": None})
