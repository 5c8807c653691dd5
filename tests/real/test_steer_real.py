"""The real-model half of tests/unit/test_steer.py.

Steering: invariants on the tiny model, concurrency with one shared model, and the real model."""
import numpy as np
import pytest

from latent.core.direction import Direction
from latent.core.generate import generate
from latent.walk.steer import steering_plan


# ------------------------------------------------------------------ real model
@pytest.mark.full       # make test-all: the sweep's row plan is checked on the tiny model in CI (docs/testing.md)
def test_love_hate_moves_the_concept_score(real_lm, encoder):
    from latent.walk.paths import sweep
    from latent.walk.presets import build

    # the sweep's mechanics on the direction these hand-set margins were set for: the preset with its massive
    # tokens kept. The default direction leaves them out (cosine 0.85 with this one at layer 9); on this one
    # greedy sample it moves less (±0.3: +0.083 / -0.044; ±0.4: +0.126 / +0.031, measured 2026-12-07), and
    # the default sweep's verdict against random directions is checked on it in
    # test_the_default_preset_sweep_steers_beyond_random
    d = build(real_lm, "Love − Hate", keep_massive=True)
    # one greedy sample per strength (the old meter): it moves, but a single sample is not evidence...
    sw = sweep(real_lm, encoder, "I think that you", d, [-0.3, 0.0, 0.3], max_new_tokens=30, do_sample=False,
               n_random=0, n_splits=0)
    neg, zero, pos = sw.concept
    assert sw.texts[1] == sw.baseline and sw.summary["effect"][1] == 0
    assert pos > zero + 0.1 and neg < zero - 0.05, (neg, zero, pos)
    assert sw.kl[1] == pytest.approx(0.0, abs=1e-6) and sw.kl[0] > 0 and sw.kl[2] > 0
    assert (sw.summary["verdict"][[0, 2]] == "no random control").all()
    # ...so the default sweep samples 3 seeds and runs 8 random directions of the same norm in the same batch,
    # and (a direction from texts) 4 data-null directions built the same way from neutral text, each on the
    # same prompt, seeds and strengths as the direction
    sw = sweep(real_lm, encoder, "I think that you", d, [-0.3, 0.0, 0.3], max_new_tokens=20)
    assert len(sw.rows) == 3 * (1 + 2 * (1 + 8 + 4)) and list(sw.summary["n"]) == [3, 3, 3]
    assert sw.has_data_null and sw.data_null.sizes == (8, 8) and (sw.summary["n_data"][[0, 2]] == 4).all()
    assert (sw.summary["concept_lo"] <= sw.summary["concept"]).all() and (sw.summary["random_lo"] <= sw.summary["random_hi"]).all()


@pytest.mark.full       # make test-all: the same control on the tiny model stays in CI (docs/testing.md)
def test_a_random_direction_lands_in_the_random_band(real_lm, encoder):
    from latent.walk.paths import random_directions, sweep

    d = Direction(random_directions(576, 1, seed=123)[0], 6, positive="Love", negative="Hate",
                  recipe={"kind": "random", "positive": ["Love"], "negative": ["Hate"]})
    sw = sweep(real_lm, encoder, "I think that you", d, [-0.4, 0.0, 0.4], max_new_tokens=20)
    assert "beyond random" not in set(sw.summary["verdict"]), sw.summary   # a random direction never "steers"
    rs = sw.random_slopes
    assert rs.mean() - 2 * rs.std(ddof=1) <= sw.slope <= rs.mean() + 2 * rs.std(ddof=1)


@pytest.mark.slow        # about 20-30 s on a loaded 2-core machine
def test_a_meaningless_direction_from_neutral_halves_lands_in_the_data_shaped_null(real_lm, encoder):
    """The control tested as a control (issue 37): a direction built like a user's from two random halves of
    the neutral set (a split the null never draws: seed 2026), walked like the default preset (layer 9, ±0.4),
    is not "beyond" the data-shaped null, so not "beyond random" either. Against the isotropic band alone such
    directions came out "beyond random" (the audit, 3 of 4 splits). Cheap: 4 held-out prompts, 12 tokens."""
    from latent.walk.null import load_neutral
    from latent.walk.paths import sweep
    from latent.walk.presets import load_presets

    texts = load_neutral()
    perm = np.random.default_rng(2026).permutation(len(texts))
    d = Direction.from_texts(real_lm, [texts[i] for i in perm[:8]], [texts[i] for i in perm[8:16]], 9, pooling="mean")
    sw = sweep(real_lm, encoder, load_presets()["Love − Hate"]["heldout"][:4], d, [-0.4, 0.0, 0.4], max_new_tokens=12,
               seeds=(0,), n_random=8)
    assert sw.has_data_null and sw.data_null.n_splits == 4 and np.isfinite(sw.slope_ci).all()
    assert not sw.data_verdict().startswith("beyond"), sw.finding()
    assert not sw.band_verdict().startswith("beyond"), sw.finding()
    lo, hi = sw.data_band()
    assert lo <= sw.slope <= hi, sw.finding()


def test_strength_zero_row_equals_solo_unsteered_real(real_lm):
    from latent.core.hooks import use

    d = Direction(np.random.default_rng(0).normal(size=576), 9)
    solo = generate(real_lm, ["The capital of France is"], max_new_tokens=20).token_ids[0]
    with use(steering_plan(real_lm, d, [0.0, 0.3, -0.3, 0.5])):
        batch = generate(real_lm, ["The capital of France is"] * 4, max_new_tokens=20).token_ids
    assert batch[0] == solo


# Gemma: make test-all; a known failure: its default Love − Hate sweep (layer 7, ±0.4) lies within its data-shaped
# band (+0.476 [+0.320, +0.632] against −0.466 to +0.872, 2026-12-07), and choosing it again under both nulls and
# the cliff (bench/bench_presets.py, 2026-12-07 night) found no setting that qualifies: every point of the grid is
# past the cliff, and none clears the data-shaped band (docs/claims.md), so walk_settings.json keeps layer 7 and 0.4,
# marked unqualified
GEMMA_DEFAULT = pytest.mark.xfail(strict=True, reason="no Gemma setting clears both nulls below the cliff; its kept "
                                                      "default Love − Hate sweep is within its data-shaped null")
# SmolLM2: a known failure since its default was chosen again under both nulls and the cliff (2026-12-07 night):
# layer 6, ±0.4 was the one point of the grid beyond both on the first held-out set, but on the default prompts it
# gives +0.331 [+0.165, +0.496] against a data-shaped band of −0.196 to +0.359 (overlaps: inconclusive), as on the
# second held-out set (within); the bench estimates about 158 prompts for the effect to clear both (docs/claims.md)
SMOLLM2_DEFAULT = pytest.mark.xfail(strict=True, reason="SmolLM2's default (layer 6, ±0.4) overlaps its data-shaped "
                                                        "band on the 8 default prompts")


@pytest.mark.slow
@pytest.mark.parametrize("model", [pytest.param("real_lm", marks=[SMOLLM2_DEFAULT]),
                                   pytest.param("gemma_lm", marks=[pytest.mark.full, GEMMA_DEFAULT])])
def test_the_default_preset_sweep_steers_beyond_random(model, request, encoder):
    """The page's and the walking lesson's default (the preset's 8 prompts, its measured layer and strength)
    can show the effect it is about: its slope clears the matched random directions' band. Where a model's
    setting is not measured, the page says hand-set and this test does not apply."""
    from latent.walk.spec import SweepSpec

    lm = request.getfixturevalue(model)
    spec = SweepSpec.default(lm)
    if not spec.setting(lm).measured:
        pytest.skip(f"no measured default for {lm.name} (the page says hand-set)")
    sw = spec.run(lm, encoder)
    assert sw.n_units == 8 and len(sw.random_slopes) == 8 and len(sw.data_slopes) == 4
    assert sw.band_verdict() == "beyond random", sw.finding()          # beyond both nulls
    assert sw.random_verdict() == "beyond random" and sw.data_verdict() == "beyond data-shaped null", sw.finding()
