"""The Latent walk's data-shaped null (latent/walk/null.py): the shipped neutral set, directions built the
same way as the walked one from random halves of it, run like the random directions, the verdict that
needs both nulls, the JSON contract, and the control tested as a control on the tiny model (SmolLM2:
tests/real/test_steer_real.py)."""
import json
import re

import numpy as np
import pytest

from latent.core.direction import Direction
from latent.core.errors import InputError
from latent.core.stats import sd_band, slope
from latent.walk.null import MIN_NEUTRAL, N_SPLITS, NULL_SEED, check_neutral, data_null, load_neutral, read_neutral
from latent.walk.paths import Sweep, both, sweep
from latent.walk.presets import load_presets
from latent.walk.spec import SweepSpec

PROMPTS = ["the queen", "a hive", "honey", "the crown"]
EMOTION = set("happy sad angry anger fear afraid scared glad joy love loved hate hated calm upset anxious worried excited "
              "furious lonely proud ashamed delighted sorry pleased nervous cheerful gloomy miserable rage mad kind cruel "
              "wonderful awful lovely nasty peaceful relaxed serene".split())
STOP = set("the a an and or of to in on at for with by from is are was were be been it its this that i you my me we our "
           "they she he his her them so what all up about just how things your not do".split())


class _Enc:  # a stand-in sentence encoder: the sweep's arithmetic, not the encoder, is under test
    def encode(self, texts, normalize_embeddings=True, **kw):
        v = np.array([[len(t) + 1.0, t.count("e") + 1.0] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_the_shipped_neutral_set_is_large_varied_and_free_of_emotion_and_of_the_presets_poles():
    texts = load_neutral()
    assert len(texts) >= 64 and len(set(texts)) == len(texts)
    assert len({t.split()[1].lower() for t in texts}) > 40          # varied: not one template
    poles = {"queen", "bee", "hive", "honey", "monarch", "crown", "palace"}
    for p in load_presets().values():
        for t in (p.get("positive") or []) + (p.get("negative") or []):
            poles |= _words(t) - STOP
    bad = {t: sorted(_words(t) & (poles | EMOTION)) for t in texts if _words(t) & (poles | EMOTION)}
    assert not bad, bad


def test_the_second_held_out_prompt_set_is_disjoint_everyday_and_free_of_emotion():
    """Love − Hate's second held-out set (issue 37, item 3): 8 everyday prompts, none among its default or first
    held-out prompts, no emotion word and no word of its poles (so the set cannot carry the concept itself)."""
    p = load_presets()["Love − Hate"]
    second = p["heldout2"]
    assert len(second) == 8 == len(set(second))
    assert not set(second) & set(p["prompts"]) and not set(second) & set(p["heldout"])
    poles = set().union(*(_words(t) for t in p["positive"] + p["negative"])) - STOP
    bad = {t: sorted(_words(t) & (poles | EMOTION)) for t in second if _words(t) & (poles | EMOTION)}
    assert not bad, bad
    assert SweepSpec(source="preset", preset="Love − Hate", prompts=tuple(second)).prompt_set_name() == "second held-out prompts"


@pytest.mark.parametrize("texts,msg", [
    (["one sentence"] * 20, "has 1 different text; give at least 8"),
    ("a single string", "must be a list of texts"),
    ([f"s {i}" for i in range(5)] + ["", "  "], "has 5 different texts"),
    ([f"s {i}" for i in range(7)] + ["x" * 3000], "3000 characters long"),
])
def test_a_bad_neutral_set_is_one_clear_error(texts, msg):
    with pytest.raises(InputError, match=msg):
        check_neutral(texts)
    with pytest.raises(InputError, match=msg):
        SweepSpec(neutral=texts)


def test_a_neutral_set_reads_from_a_text_file_or_json_and_the_spec_checks_n_splits(tmp_path):
    mine = [f"The bus number {i} leaves at {i}:15." for i in range(MIN_NEUTRAL)]
    (tmp_path / "n.txt").write_text("\n".join(mine + ["", "  "]), encoding="utf-8")
    (tmp_path / "n.json").write_text(json.dumps(mine), encoding="utf-8")
    (tmp_path / "o.json").write_text(json.dumps({"texts": mine}), encoding="utf-8")
    (tmp_path / "bad.json").write_text("[\"a\", ", encoding="utf-8")
    for f in ("n.txt", "n.json", "o.json"):
        assert read_neutral(tmp_path / f) == tuple(mine)
    with pytest.raises(InputError, match="not valid JSON"):
        read_neutral(tmp_path / "bad.json")
    with pytest.raises(InputError, match="Cannot read the neutral set"):
        read_neutral(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="n_splits 1 gives no band"):
        SweepSpec(n_splits=1)
    with pytest.raises(InputError, match="n_splits -1 is out of range"):
        SweepSpec(n_splits=-1)
    spec = SweepSpec(neutral=mine + ["  "])
    assert spec.neutral == tuple(mine) and SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert SweepSpec().n_splits == N_SPLITS == 4 and SweepSpec().neutral == ()


@pytest.mark.parametrize("method,pooling", [("mean", "mean"), ("pca", "last")])
def test_each_data_null_direction_is_built_as_the_direction_was_from_random_neutral_subsets(tiny_lm, method, pooling):
    """Same layer, pooling, massive-token rule and method, and the direction's own set sizes (2 and 3 here),
    on disjoint subsets of the neutral set drawn with the null's seed; unit vectors (the sweep scales each to
    the direction's norm)."""
    d = Direction.from_texts(tiny_lm, ["I adore this.", "So good."], ["I dislike it.", "So bad.", "Not this."], 2,
                             method=method, pooling=pooling)
    null = data_null(tiny_lm, d)
    texts = load_neutral()
    assert null.applicable and null.n_splits == N_SPLITS and null.sizes == (2, 3) and null.n_texts == len(texts)
    rng = np.random.default_rng(NULL_SEED)
    for v in null.vectors:
        perm = rng.permutation(len(texts))
        pos, neg = [texts[i] for i in perm[:2]], [texts[i] for i in perm[2:5]]
        same = Direction.from_texts(tiny_lm, pos, neg, 2, method=method, pooling=pooling)
        np.testing.assert_allclose(v, same.unit(), atol=1e-5)
    assert len({tuple(np.round(v, 5)) for v in null.vectors}) == N_SPLITS          # the splits differ
    again = data_null(tiny_lm, d, neutral=list(texts[:16]))                         # a user's set: its own
    assert again.neutral == "given" and again.n_texts == 16 and not np.allclose(again.vectors, null.vectors)


def test_a_sweep_from_texts_runs_its_data_null_on_the_same_units_and_reports_both_nulls(tiny_lm):
    d = Direction.from_texts(tiny_lm, ["I adore this.", "So good."], ["I dislike it.", "So bad."], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS[:2], d, [-2.0, 0.0, 2.0], max_new_tokens=5, n_random=3)
    rows = sw.rows
    # per prompt × seed: the baseline, and at each of 2 strengths the direction, 3 random and 4 data-null directions
    assert len(rows) == 2 * 3 * (1 + 2 * (1 + 3 + N_SPLITS))
    dat = rows[rows["kind"] == "data_null"]
    assert set(dat["random_direction"]) == set(range(N_SPLITS))
    for j, g in dat.groupby("random_direction"):      # every split on the same prompts, seeds and strengths
        assert sorted(zip(g["prompt"], g["seed"], g["strength"])) == sorted(
            zip(*[rows[rows["kind"] == "direction"][c] for c in ("prompt", "seed", "strength")]))
    # the same norm: a split's rows are the rows of a sweep along that split's vector as the direction
    twin = sweep(tiny_lm, _Enc(), PROMPTS[:2], Direction(sw.data_null.vectors[1] * 7.0, 2), [-2.0, 0.0, 2.0],
                 max_new_tokens=5, n_random=0)
    assert twin.rows[twin.rows["kind"] == "direction"]["text"].tolist() == dat[dat["random_direction"] == 1]["text"].tolist()
    # the slopes and the band: as the random directions' (baseline rows plus the split's rows)
    base = rows[rows["kind"] == "baseline"]
    want = [slope(np.r_[base["strength"], g["strength"]].astype(float), np.r_[base["effect"], g["effect"]].astype(float))[0]
            for _, g in dat.groupby("random_direction")]
    np.testing.assert_allclose(sw.data_slopes, want)
    lo, hi = sw.data_band()                # where one more split's slope would lie: a 95 % prediction interval
    half = 3.182446 * np.std(want, ddof=1) * np.sqrt(1 + 1 / len(want))            # t(0.975, 3) for 4 splits
    assert (lo, hi) == pytest.approx((np.mean(want) - half, np.mean(want) + half))
    # each split is read by its own meter (its own two subsets as poles), against the baseline read by the same
    enc, k = _Enc(), 2
    p, n = sw.data_null.poles[k]
    assert len(p) == len(n) == 2 and not set(p) & set(n) and set(p) | set(n) <= set(load_neutral())
    E = enc.encode(list(rows["text"]) + list(p) + list(n))
    T, P, N = E[: len(rows)], E[len(rows): len(rows) + 2].mean(0), E[len(rows) + 2:].mean(0)
    own = T @ (P / np.linalg.norm(P)) - T @ (N / np.linalg.norm(N))
    for i in np.flatnonzero((rows["kind"] == "data_null") & (rows["random_direction"] == k)):
        b = np.flatnonzero((rows["kind"] == "baseline") & (rows["prompt"] == rows["prompt"].iloc[i])
                           & (rows["seed"] == rows["seed"].iloc[i]))[0]
        assert rows["concept"].iloc[i] == pytest.approx(own[i]) and rows["effect"].iloc[i] == pytest.approx(own[i] - own[b])
    t = sw.summary.set_index("strength")
    per = dat[dat["strength"] == 2.0].groupby("random_direction")["effect"].mean()
    assert (t.loc[2.0, "data_lo"], t.loc[2.0, "data_hi"]) == pytest.approx(sd_band(per.to_numpy()))
    assert t.loc[2.0, "n_data"] == N_SPLITS and t.loc[0.0, "data_lo"] == t.loc[0.0, "data_hi"] == 0.0
    j = json.loads(json.dumps(sw.to_json()))
    assert {"slope", "slope_ci", "random_band", "verdict", "n_units", "n_random"} <= set(j)       # the old contract
    assert j["null_random"] == {"band": j["random_band"], "verdict": sw.random_verdict(), "n": 3}
    nd = j["null_data"]
    assert nd["n_splits"] == N_SPLITS and nd["applicable"] and nd["verdict"] == sw.data_verdict()
    assert nd["band"] == [round(x, 4) for x in sw.data_band()] and nd["sizes"] == [2, 2] and nd["neutral"] == "shipped"
    assert j["verdict"] == both(sw.random_verdict(), sw.data_verdict())
    assert j["results"][2]["data_band"] == [round(t.loc[2.0, "data_lo"], 4), round(t.loc[2.0, "data_hi"], 4)]
    assert "data-shaped null directions" in sw.finding() and sw.recipe["n_splits"] == N_SPLITS
    # the caption under the cards counts the rows by kind
    assert f"{len(rows)} rows" in sw.rows_text("cpu") and f"3 random directions of the same norm and {N_SPLITS} data-shaped" \
        in sw.rows_text("cpu") and sw.rows_text("cpu").count("on cpu.") == 1
    off = sweep(tiny_lm, _Enc(), PROMPTS[:2], d, [-2.0, 0.0, 2.0], max_new_tokens=5, n_random=3, n_splits=0)
    assert len(off.rows) == 2 * 3 * (1 + 2 * (1 + 3)) and off.to_json()["null_data"]["n_splits"] == 0
    assert "turned off" in off.to_json()["null_data"]["reason"]
    assert "data-shaped" not in off.rows_text("cpu") and f"{len(off.rows)} rows" in off.rows_text("cpu")
    assert off.rows[off.rows["kind"] != "data_null"]["text"].tolist() == rows[rows["kind"] != "data_null"]["text"].tolist()


def test_a_direction_given_as_a_vector_reports_its_data_null_as_not_applicable(tiny_lm):
    d = Direction(np.random.default_rng(5).normal(size=tiny_lm.d_model), 2, recipe={"kind": "manual"})
    sw = sweep(tiny_lm, _Enc(), PROMPTS[:2], d, [-2.0, 0.0, 2.0], max_new_tokens=4, n_random=3)
    assert not (sw.rows["kind"] == "data_null").any() and not sw.has_data_null
    nd = sw.to_json()["null_data"]
    assert nd["band"] is None and nd["verdict"] == "not applicable" and nd["n_splits"] == 0
    assert "given as a vector" in nd["reason"] and "not applicable (the direction was given as a vector" in sw.finding()
    assert sw.band_verdict() == sw.random_verdict() == sw.to_json()["verdict"]
    assert sw.summary["data_lo"].iloc[[0, 2]].isna().all()
    sense = Direction(d.vector, 2, recipe={"kind": "senses"})
    assert "built as 'senses'" in data_null(tiny_lm, sense).reason


def _with(sw: Sweep, ci, random_slopes, data_slopes) -> Sweep:
    import dataclasses

    return dataclasses.replace(sw, slope=float(np.mean(ci)), slope_ci=ci, random_slopes=np.array(random_slopes),
                               data_slopes=np.array(data_slopes))


def test_the_verdict_needs_both_nulls_constructed_numbers(tiny_lm):
    """Constructed numbers on one sweep's record: an interval that clears the isotropic band but lies in the
    data-shaped band is not "beyond"; one that overlaps it is inconclusive; clearing both is "beyond random"."""
    d = Direction.from_texts(tiny_lm, ["I adore this.", "So good."], ["I dislike it.", "So bad."], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS, d, [-2.0, 0.0, 2.0], max_new_tokens=4, seeds=(0, 1), n_random=4)
    assert sw.n_units == 8
    rnd = [-0.05, 0.0, 0.05, 0.0]                    # band about ±0.08
    inside = _with(sw, (0.30, 0.40), rnd, [0.20, 0.50, 0.30, 0.40])     # data band about 0.09 to 0.61
    assert inside.random_verdict() == "beyond random"
    assert inside.data_verdict() == "within data-shaped band" == inside.band_verdict()
    assert "inside the data-shaped band" in inside.finding() and "not distinguishable from a meaningless" in inside.finding()
    j = inside.to_json()
    assert j["verdict"] == "within data-shaped band" and j["null_random"]["verdict"] == "beyond random"
    assert j["null_data"]["verdict"] == "within data-shaped band"
    over = _with(sw, (0.30, 0.60), rnd, [0.10, 0.30, 0.20, 0.25])      # data band about 0.08 to 0.35
    assert over.band_verdict() == "overlaps data-shaped band: inconclusive"
    assert "clears the isotropic random band but overlaps the data-shaped band" in over.finding()
    few = _with(sw, (0.04, 0.30), rnd, [-0.04, -0.10, -0.05, -0.03])   # mean ± 2 sd of 4 slopes: -0.12 to +0.01
    assert few.data_verdict() == "overlaps data-shaped band: inconclusive"    # their prediction band: -0.17 to +0.06
    beyond = _with(sw, (0.40, 0.50), rnd, [-0.1, 0.05, 0.1, -0.05])           # -0.33 to +0.33
    assert beyond.band_verdict() == "beyond random" and "clears the random band and the data-shaped band" in beyond.finding()
    not_random = _with(sw, (0.0, 0.05), rnd, [-0.3, 0.3, 0.2, -0.2])
    assert not_random.band_verdict() == "within random band"
    assert both("overlaps random band: inconclusive", "beyond data-shaped null") == "overlaps random band: inconclusive"


def test_the_control_as_a_control_a_meaningless_direction_from_neutral_halves_lands_in_the_data_null(tiny_lm):
    """A direction built like a user's from two random halves of the neutral set (a split the null never
    draws: another seed) is not "beyond" either null, and its slope lies inside the data-shaped band."""
    texts = load_neutral()
    perm = np.random.default_rng(2026).permutation(len(texts))
    d = Direction.from_texts(tiny_lm, [texts[i] for i in perm[:8]], [texts[i] for i in perm[8:16]], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS, d, [-2.0, 0.0, 2.0], max_new_tokens=6, seeds=(0, 1), n_random=4)
    assert sw.has_data_null and np.isfinite(sw.slope_ci).all()
    lo, hi = sw.data_band()
    assert lo <= sw.slope <= hi, (sw.slope, (lo, hi))
    assert not sw.data_verdict().startswith("beyond") and not sw.band_verdict().startswith("beyond"), sw.finding()


def test_the_meters_figure_draws_the_data_shaped_band_in_the_concept_panel(tiny_lm):
    from latent.walk.figures import meters_figure

    d = Direction.from_texts(tiny_lm, ["I adore this."], ["I dislike it."], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS[:1], d, [-2.0, 0.0, 2.0], max_new_tokens=4, seeds=(0,), n_random=3)
    for fig in (meters_figure(sw), meters_figure(sw, hide_answer=True)):
        data = [tr for tr in fig.data if "data-shaped null" in (tr.name or "")]
        assert len(data) == 1 and data[0].xaxis == "x" and data[0].fill == "toself"
        assert list(data[0].y[:3]) == pytest.approx(list(sw.summary["data_hi"]))


def test_prompt_sets_report_each_sets_slope_against_its_own_nulls(tiny_lm):
    """``prompt_sets[]{name, slope, slope_ci, verdict}``: the whole sweep's entry is the top level's; a
    subset's comes from that subset's rows alone; a preset's held-out prompt sets run as further sets."""
    d = Direction.from_texts(tiny_lm, ["I adore this.", "So good."], ["I dislike it.", "So bad."], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS, d, [-2.0, 0.0, 2.0], max_new_tokens=4, seeds=(0,), n_random=3, n_splits=2)
    j = sw.to_json()
    (whole,) = j["prompt_sets"]
    assert whole["name"] == "these prompts" and whole["n_prompts"] == 4 and whole["n_units"] == 4
    assert (whole["slope"], whole["slope_ci"], whole["verdict"]) == (j["slope"], j["slope_ci"], j["verdict"])
    assert whole["null_random"]["band"] == j["random_band"] and whole["null_data"]["band"] == j["null_data"]["band"]
    part = sw.prompt_set("two", PROMPTS[:2])
    rows = sw.rows[sw.rows["prompt"].isin(PROMPTS[:2]) & sw.rows["kind"].isin(["baseline", "direction"])]
    assert part["n_units"] == 2 and part["slope"] == round(slope(rows["strength"].to_numpy(float),
                                                                 rows["effect"].to_numpy(float))[0], 4)
    spec = SweepSpec.default(tiny_lm).replace(max_new_tokens=3, n_random=2, n_splits=2, strengths=(-2.0, 0.0, 2.0))
    both_sets = spec.run_heldout(tiny_lm, _Enc())
    names = [s["name"] for s in both_sets.to_json()["prompt_sets"]]
    assert names == ["default prompts", "held-out prompts", "second held-out prompts"]
    held, second = both_sets.to_json()["prompt_sets"][1:]
    assert held["n_prompts"] == len(load_presets()[spec.preset]["heldout"]) and held["verdict"]
    assert second["n_prompts"] == len(load_presets()[spec.preset]["heldout2"]) and second["verdict"]
    with pytest.raises(InputError, match="belong to a preset"):
        SweepSpec.default(tiny_lm, None).run_heldout(tiny_lm, _Enc())


def test_the_verdict_sentence_names_its_prompt_set_and_counts_degenerate_rows_of_the_direction_and_the_controls(tiny_lm):
    """Issue 37, items 2 and 3: the page's sentence says which prompts it measured, that another set may differ,
    and how many steered texts degenerated, the direction's and the random directions' (and the data null's),
    from the rows themselves; a row flipped to degenerate moves the count."""
    import dataclasses

    d = Direction.from_texts(tiny_lm, ["I adore this.", "So good."], ["I dislike it.", "So bad."], 2, pooling="mean")
    sw = sweep(tiny_lm, _Enc(), PROMPTS, d, [-2.0, 0.0, 2.0], max_new_tokens=4, seeds=(0,), n_random=3, n_splits=2)
    rows = sw.rows[sw.rows["strength"] != 0]
    counts = {k: (int(rows.loc[rows["kind"] == k, "degenerate"].sum()), int((rows["kind"] == k).sum()))
              for k in ("direction", "random", "data_null")}
    assert sw.degenerate_counts() == counts and counts["direction"][1] == 8 and counts["random"][1] == 24
    f = sw.finding()
    assert (f"Degenerate steered texts: {counts['direction'][0]} of the direction's 8, {counts['random'][0]} of the random "
            f"directions' 24 and {counts['data_null'][0]} of the data-null directions' 16.") in f
    assert f.endswith("Measured on these prompts (4 prompts); another set of prompts may give a different result.")
    flipped = sw.rows.copy()
    flipped.loc[flipped["kind"] == "random", "degenerate"] = True
    assert "24 of the random directions' 24" in dataclasses.replace(sw, rows=flipped).finding()
    spec = SweepSpec.default(tiny_lm).replace(max_new_tokens=3, n_random=2, n_splits=2, strengths=(-2.0, 0.0, 2.0))
    assert "Measured on default prompts (8 prompts); another set" in spec.run(tiny_lm, _Enc()).finding()
