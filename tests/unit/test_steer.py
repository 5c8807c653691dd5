"""Steering: invariants on the tiny model, concurrency with one shared model, and the real model."""
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from latent.core.direction import Direction, DirectionError
from latent.core.generate import generate
from latent.core.hidden import InputError, hidden_states
from latent.core.hooks import current
from latent.walk.steer import steering, steering_plan, typical_norms


@pytest.fixture(scope="module")
def dirs(tiny_lm):
    rng = np.random.default_rng(0)
    return [Direction(rng.normal(size=32), layer=L, recipe={"kind": "random"}) for L in (1, 2, 3)]


def greedy(lm, prompt, n=8):
    return generate(lm, [prompt], max_new_tokens=n).token_ids[0]


def test_strength_zero_equals_baseline(tiny_lm, dirs):
    base = greedy(tiny_lm, "the queen")
    with steering(tiny_lm, dirs[0], 0.0):
        assert greedy(tiny_lm, "the queen") == base
    with steering(tiny_lm, dirs[0] - dirs[0], 0.0):
        assert greedy(tiny_lm, "the queen") == base
    # in a batched sweep the strength-0 row reproduces the solo unsteered run exactly
    plan = steering_plan(tiny_lm, dirs[1], [0.0, 2.0, -2.0])
    from latent.core.hooks import use
    with use(plan):
        batch = generate(tiny_lm, ["the queen"] * 3, max_new_tokens=8)
    assert batch.token_ids[0] == base
    assert batch.token_ids[1] != base or batch.token_ids[2] != base


def test_v_minus_v_is_zero_direction(dirs):
    with pytest.raises(DirectionError, match="zero"):
        (dirs[0] - dirs[0]).unit()


def test_norm_relative_scaling(tiny_lm, dirs):
    d = dirs[1]
    before = hidden_states(tiny_lm, ["abcdef"], layers=[d.layer])[0].at(d.layer)
    with steering(tiny_lm, d, 0.5):
        after = hidden_states(tiny_lm, ["abcdef"], layers=[d.layer])[0].at(d.layer)
    expected = 0.5 * typical_norms(tiny_lm)[d.layer] * d.unit()
    np.testing.assert_allclose(after - before, np.broadcast_to(expected, before.shape), atol=1e-4)
    assert typical_norms(tiny_lm).shape == (tiny_lm.n_layers + 1,)


def test_first_position_only(tiny_lm, dirs):
    d = dirs[1]
    before = hidden_states(tiny_lm, ["abcdef"], layers=[d.layer])[0].at(d.layer)
    with steering(tiny_lm, d, 0.5, positions="first"):
        after = hidden_states(tiny_lm, ["abcdef"], layers=[d.layer])[0].at(d.layer)
    expected = 0.5 * typical_norms(tiny_lm)[d.layer] * d.unit()
    np.testing.assert_allclose(after[0] - before[0], expected, atol=1e-4)   # the text's first token only
    np.testing.assert_allclose(after[1:], before[1:], atol=1e-6)
    with pytest.raises(DirectionError, match="Unknown positions"):
        steering_plan(tiny_lm, d, 0.5, positions="middle")


def test_exception_inside_block_leaves_model_unsteered(tiny_lm, dirs):
    base = greedy(tiny_lm, "hello")
    with pytest.raises(RuntimeError):
        with steering(tiny_lm, dirs[2], 3.0):
            assert current() is not None
            raise RuntimeError("boom")
    assert current() is None
    assert greedy(tiny_lm, "hello") == base


def test_no_leak_across_threads(tiny_lm, dirs):
    """2 threads x 50 mixed requests (3 directions, strengths, unsteered) on one model: each equals its solo run."""
    prompts = ["the queen", "a bee", "hello there"]
    jobs = [(prompts[i % 3], None if i % 4 == 0 else dirs[i % 3], [0.0, 1.5, -1.5, 3.0][i % 4]) for i in range(100)]

    def run(job):
        p, d, s = job
        with steering(tiny_lm, d, s):
            return greedy(tiny_lm, p, 6)

    solo = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=2) as ex:
        concurrent = list(ex.map(run, jobs))
    leaks = sum(a != b for a, b in zip(solo, concurrent))
    assert leaks == 0
    assert len({tuple(x) for x in solo}) > 3  # the requests really differ


def test_worker_thread_needs_copied_context(tiny_lm, dirs):
    seen = {}
    with steering(tiny_lm, dirs[0], 1.0):
        ctx = contextvars.copy_context()
        t1 = threading.Thread(target=lambda: seen.setdefault("plain", current()))
        t1.start(), t1.join()
        t2 = threading.Thread(target=lambda: ctx.run(lambda: seen.setdefault("copied", current())))
        t2.start(), t2.join()
    assert seen["plain"] is None and seen["copied"] is not None


@pytest.mark.parametrize("make,msg", [
    (lambda: Direction(np.array([np.nan] * 32), 1), "NaN or inf"),
    (lambda: Direction(np.ones(7), 1), "this model has 32"),
    (lambda: Direction(np.ones(32), 9), "out of range"),
    (lambda: Direction(np.ones(32), 0), "layer 1 or deeper"),
])
def test_bad_directions(tiny_lm, make, msg):
    with pytest.raises(DirectionError, match=msg):
        with steering(tiny_lm, make(), 1.0):
            pass


def test_bad_generation_requests(tiny_lm):
    with pytest.raises(InputError, match="out of range"):
        generate(tiny_lm, ["x"], max_new_tokens=10_000)
    with pytest.raises(InputError, match="token limit"):
        generate(tiny_lm, ["x" * 300], max_new_tokens=10)   # context window of the tiny model is 256
    with pytest.raises(InputError, match="too many"):
        generate(tiny_lm, ["x"] * 1000, max_new_tokens=2)


def test_sampling_uses_a_seed_per_row(tiny_lm):
    a = generate(tiny_lm, ["the"] * 3, max_new_tokens=6, do_sample=True, seeds=[1, 2, 1]).token_ids
    b = generate(tiny_lm, ["the"], max_new_tokens=6, do_sample=True, seeds=[1]).token_ids
    assert a[0] == a[2] == b[0]


def test_sweep_rows_do_not_depend_on_their_batch(tiny_lm, dirs):
    """Each baseline row equals the solo unsteered run with the same seed; steered rows differ."""
    from latent.walk.paths import distinct2, sweep

    sw = sweep(tiny_lm, _LengthEncoder(), "the queen", dirs[1], [-2.0, 0.0, 2.0], max_new_tokens=6, n_random=2)
    for sd in (0, 1, 2):
        solo = generate(tiny_lm, ["the queen"], max_new_tokens=6, do_sample=True, seeds=[sd]).texts[0]
        row = sw.rows[(sw.rows["kind"] == "baseline") & (sw.rows["seed"] == sd)]
        assert row["text"].item() == solo
    assert (sw.rows[sw.rows["kind"] == "baseline"]["kl"].abs() < 1e-6).all()
    # every prompt × seed unit: its baseline, and at each of 2 strengths the direction and the 2 random ones
    assert len(sw.rows) == 3 * (1 + 2 * (1 + 2))
    assert distinct2([5, 6, 5, 6, 5, 6, 5, 6]) < 0.5 <= distinct2(list(range(8)))


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_a_streamed_sweep_decodes_its_cards_first_and_equals_the_one_batch_sweep(family):
    """With ``on_token`` the cards' rows (first prompt, first seed: unsteered, then the direction at each
    nonzero strength) go out first as a request of their own, the rest after, without streaming; every
    row, meter and summary number equals the sweep decoded in one batch. Two prompts of different
    lengths, so the one batch is left-padded and the cards' batch is not."""
    from conftest import make_tiny_lm

    from latent.walk.paths import sweep

    lm = make_tiny_lm(family=family)
    d = Direction(np.random.default_rng(3).normal(size=lm.d_model), layer=2, positive="a", negative="b")
    args = (lm, _LengthEncoder(), ["the queen of the hive", "a bee"], d, [-2.0, 0.0, 2.0])
    kw = dict(max_new_tokens=6, seeds=(0, 1), n_random=2)
    whole = sweep(*args, **kw)
    sent, frames = [], []

    def runner(request, on_texts=None):
        from latent.core.decode import decode_rows
        sent.append((request.rows, on_texts is not None))
        on_rows = (lambda step, per: on_texts(step, per[0])) if on_texts else None
        return decode_rows(lm, [request], on_rows=on_rows)[0]
    for run in (runner, None):                    # through a runner (the app) and without one
        sent.clear()
        frames.clear()
        streamed = sweep(*args, **kw, runner=run, on_token=lambda step, texts: frames.append((step, texts)))
        if run is not None:
            assert sent == [(3, True), (len(whole.rows) - 3, False)]
        cards = streamed.rows[(streamed.rows.prompt == "the queen of the hive") & (streamed.rows.seed == 0)
                              & (streamed.rows.kind != "random")]
        assert frames[-1] == (6, [cards[cards.strength == s].text.item() for s in (0.0, -2.0, 2.0)])
        assert len(frames) > 2 and frames[0][1] != frames[-1][1]          # they grew token by token
        assert streamed.rows["text"].tolist() == whole.rows["text"].tolist()
        for col in ("typicality", "kl", "concept", "effect"):
            np.testing.assert_allclose(streamed.rows[col], whole.rows[col], atol=1e-5, err_msg=col)
        np.testing.assert_allclose(streamed.summary.select_dtypes("number"), whole.summary.select_dtypes("number"),
                                   atol=1e-5)
        assert streamed.band_verdict() == whole.band_verdict()


def test_generations_gather_back_into_one_order(tiny_lm):
    from latent.core.generate import Generation

    a = generate(tiny_lm, ["the", "a bee"], max_new_tokens=3)
    b = generate(tiny_lm, ["hive"], max_new_tokens=3)
    g = Generation.gather([a, b], [[2, 0], [1]])
    assert g.texts == [a.texts[1], b.texts[0], a.texts[0]]
    np.testing.assert_array_equal(g.first_logprobs[1], b.first_logprobs[0])
    assert g.new_tokens == a.new_tokens + b.new_tokens
    with pytest.raises(ValueError, match="every row once"):
        Generation.gather([a, b], [[0, 0], [1]])


class _LengthEncoder:  # a stand-in encoder: the meters' arithmetic, not the encoder, is under test
    def encode(self, texts, normalize_embeddings=True, **kw):
        v = np.array([[len(t) + 1.0, t.count("e") + 1.0] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_every_meter_has_an_interval_and_the_random_control_band_beside_it(tiny_lm, dirs):
    """Each meter (distinct-2, typicality, KL) carries a 95 % interval and the band of the random
    directions measured on the same units: mean ± 2 sd of each random direction's mean (mean against
    mean); at strength 0 the control is the unsteered rows, so KL's band is exactly 0."""
    from latent.walk.figures import meters_figure
    from latent.walk.paths import METERS, RANGES, sweep

    sw = sweep(tiny_lm, _LengthEncoder(), ["the queen", "a hive"], dirs[1], [-2.0, 0.0, 2.0], max_new_tokens=6,
               n_random=4)
    t, rows = sw.summary.set_index("strength"), sw.rows
    for m in METERS:
        for s in (-2.0, 2.0):
            r = rows[(rows["kind"] == "random") & (rows["strength"] == s)]
            assert len(r) == 4 * 2 * 3 and t.loc[s, "n_random"] == 4      # 4 directions × 2 prompts × 3 seeds
            means = r.groupby("random_direction")[m].mean().to_numpy()
            sd, (lo, hi) = means.std(ddof=1), RANGES[m]
            assert t.loc[s, f"{m}_random_lo"] == pytest.approx(np.clip(means.mean() - 2 * sd, lo, hi))
            assert t.loc[s, f"{m}_random_hi"] == pytest.approx(np.clip(means.mean() + 2 * sd, lo, hi))
            assert lo <= t.loc[s, f"{m}_random_lo"] <= t.loc[s, f"{m}_random_hi"] <= hi
            own = rows[(rows["kind"] == "direction") & (rows["strength"] == s)][m].to_numpy(float)
            assert t.loc[s, m] == pytest.approx(own.mean())
            assert t.loc[s, f"{m}_lo"] <= t.loc[s, m] <= t.loc[s, f"{m}_hi"]
        base = rows[rows["kind"] == "baseline"][m].to_numpy(float)
        lo, hi = RANGES[m]
        assert t.loc[0.0, f"{m}_random_lo"] == pytest.approx(np.clip(base.mean() - 2 * base.std(ddof=1), lo, hi))
    assert t.loc[0.0, "kl_random_lo"] == t.loc[0.0, "kl_random_hi"] == 0.0
    # KL of the first token is the same for every seed: its interval runs over the 2 prompts, not 6 rows
    per_prompt = rows[(rows["kind"] == "direction") & (rows["strength"] == 2.0)].groupby("prompt")["kl"]
    assert (per_prompt.std(ddof=0) < 1e-6).all()
    one = sweep(tiny_lm, _LengthEncoder(), "the queen", dirs[1], [0.0, 2.0], max_new_tokens=4, n_random=2)
    assert np.isnan(one.summary.set_index("strength").loc[2.0, "kl_lo"])   # one prompt: no interval, not a zero-width one
    fig = meters_figure(sw)
    bands = [tr for tr in fig.data if tr.fill == "toself"]
    assert len(bands) == 4 and {tr.xaxis for tr in bands} == {"x", "x2", "x3", "x4"}
    assert all(tr.mode == "lines" for tr in bands)   # a shaded area, no markers at its corners
    lines = [tr for tr in fig.data if tr.fill != "toself"]
    assert len(lines) == 4 and all(tr.error_y.array is not None for tr in lines)


def test_the_direction_is_compared_with_random_directions_mean_against_mean(tiny_lm, dirs):
    """Per strength: the random directions' mean effect over the same units with its interval over the
    directions, the paired difference with its interval over units, and the difference's null from the
    random directions themselves (each against the mean of the others); the verdict reads that pair."""
    from latent.walk.paths import sweep, verdict

    sw = sweep(tiny_lm, _LengthEncoder(), ["the queen", "a hive", "honey"], dirs[1], [-2.0, 0.0, 2.0],
               max_new_tokens=6, n_random=5)
    t, rows = sw.summary.set_index("strength"), sw.rows
    for s in (-2.0, 2.0):
        r = rows[(rows["kind"] == "random") & (rows["strength"] == s)]
        g = rows[(rows["kind"] == "direction") & (rows["strength"] == s)]
        per_dir = r.groupby("random_direction")["effect"].mean()
        assert t.loc[s, "random_mean"] == pytest.approx(per_dir.mean())
        assert t.loc[s, "random_mean_lo"] <= t.loc[s, "random_mean"] <= t.loc[s, "random_mean_hi"]
        units = g.set_index(["prompt", "seed"])["effect"] - r.groupby(["prompt", "seed"])["effect"].mean()
        assert len(units) == 9 and t.loc[s, "difference"] == pytest.approx(units.mean())
        loo = np.array([per_dir[k] - per_dir.drop(k).mean() for k in per_dir.index])
        assert t.loc[s, "difference_null_lo"] == pytest.approx(loo.mean() - 2 * loo.std(ddof=1))
        assert t.loc[s, "verdict"] == verdict(t.loc[s, "difference_lo"], t.loc[s, "difference_hi"],
                                              (t.loc[s, "difference_null_lo"], t.loc[s, "difference_null_hi"]), 9)
    j = sw.to_json()
    assert {"slope", "slope_ci", "random_band", "verdict", "n_units", "n_random"} <= set(j) and j["n_random"] == 5
    assert {"concept", "concept_ci", "random_mean", "random_ci", "difference", "difference_ci", "verdict"} <= set(
        j["results"][0])


def test_a_random_direction_against_the_other_random_directions_lands_in_the_null(tiny_lm):
    """The control behaves as a control: a direction that is itself a random direction of the same norm
    (not one of the sweep's own) is not called 'beyond random' at any strength, nor by its slope."""
    from latent.walk.paths import random_directions, sweep

    layer = 2
    d = Direction(random_directions(tiny_lm.d_model, 1, seed=99)[0], layer, recipe={"kind": "random"})
    sw = sweep(tiny_lm, _LengthEncoder(), ["the queen", "a hive", "honey", "the crown"], d, [-2.0, 0.0, 2.0],
               max_new_tokens=6, seeds=(0, 1), n_random=8)
    assert "beyond" not in sw.band_verdict()
    assert not any(v.startswith("beyond") for v in sw.summary["verdict"])


def test_degenerate_text_is_flagged_by_runs_and_symbols_not_only_bigrams():
    from latent.walk.paths import degenerate

    assert degenerate("#tamlyn!!!1111", 1.0, 6)          # a character run
    assert degenerate("@#$%^&*~@#$%^&*~", 1.0, 8)        # symbol spam
    assert degenerate("love love love love love", 0.25, 10)
    assert not degenerate("I think that you are kind, and honest.", 1.0, 9)
    assert not degenerate("The queen bee lives in the hive...", 1.0, 9)


def test_a_direction_that_is_one_of_the_random_ones_lands_in_every_meters_band(tiny_lm):
    """The control behaves as a control: a direction equal to the sweep's own random direction 0 (same
    seed) is the same computation as that random row, so on every meter and strength it lies within
    the random band (one of n <= 5 values always lies within their mean ± 2 sd)."""
    from latent.walk.paths import METERS, random_directions, sweep

    layer = 2
    d = Direction(random_directions(tiny_lm.d_model, 5, seed=layer)[0], layer, recipe={"kind": "random"})
    sw = sweep(tiny_lm, _LengthEncoder(), "the queen", d, [-2.0, 0.0, 2.0], max_new_tokens=6, seeds=(0,), n_random=5)
    rows, t = sw.rows, sw.summary.set_index("strength")
    for s in (-2.0, 2.0):
        mine = rows[(rows["kind"] == "direction") & (rows["strength"] == s)]
        twin = rows[(rows["kind"] == "random") & (rows["strength"] == s) & (rows["random_direction"] == 0)]
        assert mine["text"].item() == twin["text"].item()          # the same computation
        assert t.loc[s, "random_lo"] - 1e-9 <= t.loc[s, "effect"] <= t.loc[s, "random_hi"] + 1e-9
        for m in METERS:
            assert t.loc[s, f"{m}_random_lo"] - 1e-9 <= t.loc[s, m] <= t.loc[s, f"{m}_random_hi"] + 1e-9, (m, s)


def test_top_k_sampling_draws_only_among_the_k_best(tiny_lm):
    """top_k = 1 is greedy whatever the seed; with top_k = 3 every token is among the 3 most likely
    at its step (checked by re-scoring the row with the model)."""

    greedy = generate(tiny_lm, ["the queen"], max_new_tokens=8).token_ids[0]
    for sd in (0, 1, 2):
        assert generate(tiny_lm, ["the queen"], max_new_tokens=8, do_sample=True, top_k=1, seeds=[sd]).token_ids[0] == greedy
    g = generate(tiny_lm, ["the queen"] * 4, max_new_tokens=8, do_sample=True, top_k=3, temperature=5.0,
                 seeds=[0, 1, 2, 3])
    assert len({tuple(t) for t in g.token_ids}) > 1                 # it does sample
    for p, toks in zip(g.prompt_ids, g.token_ids):
        ids = torch.tensor([p + toks])
        with torch.inference_mode():
            logits = tiny_lm.model(input_ids=ids).logits[0]
        for j, tok in enumerate(toks):
            top3 = logits[len(p) - 1 + j].topk(3).indices.tolist()
            assert tok in top3


def test_the_meters_figure_hiding_the_answer_keeps_only_the_random_band(tiny_lm):
    """A lesson step that asks whether the direction beats random ones shows the random band alone until the
    reveal: no trace of the direction and no cliff line (its own texts)."""
    from latent.walk.figures import meters_figure
    from latent.walk.paths import sweep

    d = Direction(np.ones(tiny_lm.d_model, dtype=np.float32), 2, recipe={"kind": "test"})
    sw = sweep(tiny_lm, _LengthEncoder(), "the queen", d, [-2.0, 0.0, 2.0], max_new_tokens=4, seeds=(0,), n_random=3)
    full, hidden = meters_figure(sw), meters_figure(sw, hide_answer=True)
    assert sum(t.name == "this direction (mean, 95 % CI)" for t in full.data) == 4
    assert not any(t.name == "this direction (mean, 95 % CI)" for t in hidden.data)
    assert sum("random directions" in t.name for t in hidden.data) == 4
    red = lambda f: sum(s.line.color == "#d62728" for s in f.layout.shapes)  # noqa: E731
    assert red(hidden) == 0 and red(full) == (0 if sw.cliff is None else 8)
