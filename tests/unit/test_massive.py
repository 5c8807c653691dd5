"""Massive tokens (latent/core/massive.py): the rule, and its use on the token map, in its figure, in the
nearest-neighbour list, in ``tokens --json`` and in the mean pooling that builds directions.

A massive token is planted in the tiny random model (which has none of its own): a hook adds one shared
vector of norm ``BOOST`` to each text's first token at layer 1, so from layer 1 on that token's norm is far
above its layer's median (~0.11), and its direction is mostly the shared vector's, as a first word's is at
SmolLM2's layers 3-9."""
import numpy as np
import pytest
import torch

from latent.core.direction import Direction
from latent.core.hidden import hidden_states
from latent.core.hooks import Plan, use
from latent.core.massive import MULTIPLE, MassiveRule, massive_mask, massive_rule, mean_pool
from latent.core.tiny import make_tiny_lm
from latent.states.figures import token_map_figure
from latent.states.map import nearest, place, token_map

BOOST = 2.0
TEXTS = ["the queen bee", "a king and a queen", "water boils"]


def planted():
    """Each text's first token (column 1: column 0 is the start token, dropped from results) + the shared vector."""
    v = torch.as_tensor(np.random.default_rng(0).normal(size=32), dtype=torch.float32)
    v = BOOST * v / v.norm()

    def boost(h):
        h = h.clone()
        h[:, 1] = h[:, 1] + v.to(h.dtype)
        return h
    return use(Plan(edits={1: [boost]}))


@pytest.fixture(scope="module")
def lm():
    lm = make_tiny_lm()
    massive_rule(lm)                 # the reference medians, measured before any planting
    return lm


def test_the_rule_flags_a_norm_over_the_multiple_of_its_layer_median():
    rule = MassiveRule(4.0, (1.0, 10.0))
    X = np.array([[39.0, 0.0], [0.0, 41.0], [3.0, 4.0]])
    assert massive_mask(X, 1, rule).tolist() == [False, True, False]
    assert massive_mask(X, 0, rule).tolist() == [True, True, True]           # layer 0's threshold is 4
    assert massive_mask(X, np.array([0, 1, 1]), rule).tolist() == [True, True, False]   # a layer per row
    S = np.stack([X, X])                                                       # (layers, tokens, d)
    assert massive_mask(S, [0, 1], rule).tolist() == [[True, True, True], [False, True, False]]
    assert rule.to_json() == {"multiple": 4.0, "layer_median": [1.0, 10.0]}


def test_the_tiny_model_has_none_and_the_planted_token_is_flagged_from_its_layer_on(lm):
    rule = massive_rule(lm)
    assert rule.multiple == MULTIPLE and len(rule.layer_median) == lm.n_layers + 1
    for ts in hidden_states(lm, TEXTS):                                        # unplanted: nothing is massive
        assert not massive_mask(ts.states, ts.layers, rule).any()
    with planted():
        res = hidden_states(lm, TEXTS)
    for ts in res:
        m = massive_mask(ts.states, ts.layers, rule)                          # (layers, tokens)
        assert not m[0].any()                                                  # before the plant: nothing
        assert m[1:, 0].all() and not m[1:, 1:].any()                          # from layer 1: the first token, only


@pytest.fixture(scope="module")
def tm(lm):
    with planted():
        return token_map(lm, TEXTS, layers=[0, 1, 2, 3], method="pca", seed=0)


def test_the_map_marks_the_planted_tokens_and_the_figure_rings_them(tm):
    t = tm.table
    expect = (t["token_index"] == 0) & (t["layer"] >= 1)
    assert t["massive"].tolist() == expect.tolist() and expect.sum() == 3 * len(TEXTS)
    fig = token_map_figure(t, TEXTS, layer=2, massive_multiple=tm.rule.multiple)
    ring = [tr for tr in fig.data if tr.name and tr.name.startswith("massive token")]
    assert len(ring) == 1 and ring[0].showlegend and "4×" in ring[0].name
    assert sorted(ring[0].customdata.tolist()) == sorted(t.index[expect & (t["layer"] == 2)].tolist())
    # the toggle: the page leaves the massive rows out of the table it draws; no ring, no legend entry
    fig2 = token_map_figure(t[~t["massive"]], TEXTS, layer=2, massive_multiple=tm.rule.multiple)
    ring2 = next(tr for tr in fig2.data if tr.name and tr.name.startswith("massive token"))
    assert len(ring2.customdata) == 0 and not ring2.showlegend
    shown = {int(i) for tr in fig2.data if tr.customdata is not None for i in tr.customdata}
    assert shown and not shown & set(t.index[t["massive"]])


def test_massive_points_are_each_others_neighbours_and_the_toggle_removes_them(tm):
    t = tm.table
    i = int(t.index[(t["text_index"] == 0) & (t["token_index"] == 0) & (t["layer"] == 2)][0])
    nn = nearest(tm, i, k=3, other_tokens=True)
    assert nn["massive"].all() and (nn["cosine"] > 0.9).all()    # the other texts' planted first words
    assert set(nn["text_index"]) == {1, 2}
    out = nearest(tm, i, k=10, other_tokens=True, massive=False)
    assert len(out) == 10 and not out["massive"].any() and not t.loc[out["row"], "massive"].any()


def test_tokens_json_says_which_points_are_massive_and_the_rule(tm):
    j = tm.to_json()
    assert j["massive_rule"]["multiple"] == MULTIPLE and len(j["massive_rule"]["layer_median"]) == 4
    flags = [p["massive"] for p in j["points"]]
    assert flags == tm.table["massive"].tolist() and j["massive_points"] == sum(flags) == 9
    assert {"text_index", "token_index", "token", "layer", "x", "y", "massive"} <= set(j["points"][0])


def test_a_placed_text_is_marked_too(lm, tm):
    with planted():
        p = place(tm, lm, "hello")
    assert p.loc[p["token_index"] == 0, "massive"].tolist() == [False, True, True, True]
    assert not p.loc[p["token_index"] > 0, "massive"].any()


def test_mean_pooling_leaves_the_planted_token_out_and_says_so(lm):
    pos, neg = TEXTS[:2], TEXTS[2:]
    with planted():
        res = hidden_states(lm, TEXTS, layers=[2])
        d = Direction.from_texts(lm, pos, neg, 2, pooling="mean")
        kept = Direction.from_texts(lm, pos, neg, 2, pooling="mean", keep_massive=True)
        pooled = mean_pool(lm, TEXTS, 2)
    without = [r.at(2)[1:].mean(0) for r in res]                              # every token but the first
    np.testing.assert_allclose(pooled.vectors, np.stack(without), rtol=1e-5, atol=1e-6)
    assert pooled.left_out == 3 and pooled.tokens == sum(len(t) for t in TEXTS) and pooled.whole == 0
    np.testing.assert_allclose(d.vector, np.mean(without[:2], 0) - without[2], rtol=1e-4, atol=1e-5)
    with_all = [r.at(2).mean(0) for r in res]
    np.testing.assert_allclose(kept.vector, np.mean(with_all[:2], 0) - with_all[2], rtol=1e-4, atol=1e-5)
    assert d.recipe["massive"] == {"kept": False, "tokens": pooled.tokens, "left_out": 3, "whole_texts": 0,
                                   "multiple": MULTIPLE}
    assert "leaving out 3 of" in d.pooling_note and "massive" in d.pooling_note
    assert kept.recipe["massive"]["kept"] and "kept" in kept.pooling_note
    # the planted token pulls the kept direction: it is not the one without it
    cos = float(d.unit() @ kept.unit())
    assert cos < 0.99


def test_a_text_of_only_massive_tokens_is_kept_whole(lm):
    with planted():
        p = mean_pool(lm, ["a", "water boils"], 2)
        one = hidden_states(lm, ["a"], layers=[2])[0].at(2)
    assert p.whole == 1 and p.left_out == 1
    np.testing.assert_allclose(p.vectors[0], one[0], rtol=1e-5)


def test_last_token_pooling_is_unchanged(lm):
    d = Direction.from_texts(lm, TEXTS[:2], TEXTS[2:], 2)            # pooling "last" (the default)
    assert "massive" not in d.recipe and d.pooling_note == ""


def test_the_dialogue_map_leaves_massive_tokens_out_of_its_turn_means_and_says_how_many(lm, tmp_path, monkeypatch):
    from latent.core.corpus import load_corpus
    from latent.core.hidden import fit_text
    from latent.dialogues.map import MapSpec, compute_map, lm_turns

    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))        # the turn vectors' disk cache: this test's own
    dialogues = load_corpus()[:2]
    spec = MapSpec(source="lm", layer=2, pooling="mean", method="pca")
    with planted():
        df, note = compute_map(spec, dialogues, lm=lm)
        want = mean_pool(lm, [fit_text(lm, t) for t in df["text"]], 2)
        V, left = lm_turns(spec, df["text"].tolist(), lm)             # as the map read them (from its disk cache)
    np.testing.assert_allclose(V, want.vectors, rtol=1e-5, atol=1e-6)
    assert left.tolist() == want.left_each.tolist()
    n = len(df)
    assert (df["massive_left_out"] == 1).all()                    # each turn's planted first token
    assert f"left out {n} massive tokens in {n} of {n} turns at layer 2" in note
    assert want.left_out == n
    # the map's turn vectors are those means: read back from the disk cache, they give the same map
    again, _ = compute_map(spec, dialogues, lm=lm)
    np.testing.assert_allclose(again[["x", "y"]].to_numpy(), df[["x", "y"]].to_numpy(), rtol=1e-5, atol=1e-6)
    # unplanted: nothing is left out and the note says nothing; "last" pools one token and leaves nothing out
    plain, note2 = compute_map(MapSpec(source="lm", layer=3, pooling="mean", method="pca"), dialogues, lm=lm)
    assert (plain["massive_left_out"] == 0).all() and "massive" not in note2
    last, note3 = compute_map(MapSpec(source="lm", layer=2, pooling="last", method="pca"), dialogues, lm=lm)
    assert "massive_left_out" not in last and "massive" not in note3
