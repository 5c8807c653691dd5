"""Hidden-state explorer mechanics: token map, nearest neighbours, logit lens, directions."""
import numpy as np
import pytest
import torch

from latent.core.direction import Direction, DirectionError
from latent.core.hidden import InputError, encode, hidden_states
from latent.core.lens import lens_probs, lens_table
from latent.states.map import MAX_PROMPTS, axis_view, nearest, parse_layers, place, token_map

PROMPTS = ["the queen bee", "a king and a queen"]


@pytest.fixture(scope="module")
def tm(tiny_lm):
    return token_map(tiny_lm, PROMPTS, layers=[0, 1, 2, 3], method="pca", seed=0)


def test_one_row_per_token_and_layer(tm):
    n_tokens = len(PROMPTS[0]) + len(PROMPTS[1])  # byte tokenizer: one token per character
    assert len(tm.table) == 4 * n_tokens
    assert tm.table.groupby("layer").size().tolist() == [n_tokens] * 4
    assert not tm.sampled


def test_same_seed_same_map(tiny_lm, tm):
    again = token_map(tiny_lm, PROMPTS, layers=[0, 1, 2, 3], method="pca", seed=0)
    np.testing.assert_array_equal(again.table[["x", "y"]].to_numpy(), tm.table[["x", "y"]].to_numpy())


def test_nearest_matches_brute_force(tm):
    U = tm.vectors / np.linalg.norm(tm.vectors, axis=1, keepdims=True)
    for i in (0, 7, len(U) - 1):
        sims = U @ U[i]
        sims[i] = -np.inf
        ref = np.sort(sims)[::-1][:5]
        got = nearest(tm, i, k=5)
        np.testing.assert_allclose(got["cosine"].to_numpy(), ref, rtol=1e-5)
        assert i not in set(got["row"])


def test_place_of_fitted_text_lands_on_its_points(tiny_lm, tm):
    placed = place(tm, tiny_lm, PROMPTS[0])
    fitted = tm.table[tm.table["text_index"] == 0].sort_values(["layer", "token_index"])
    np.testing.assert_allclose(placed[["x", "y"]].to_numpy(), fitted[["x", "y"]].to_numpy(), atol=1e-4)
    assert placed["placed"].all()


def test_sampling_above_cap_keeps_whole_paths(tiny_lm):
    tm = token_map(tiny_lm, PROMPTS, layers=[0, 1, 2, 3], method="pca", max_points=40)
    assert tm.sampled and len(tm.table) <= 40 and "sample of" in tm.note
    assert (tm.table.groupby(["text_index", "token_index"]).size() == 4).all()


def test_lens_at_last_layer_equals_model_distribution(tiny_lm):
    text = "a queen"
    ts = hidden_states(tiny_lm, [text])[0]
    ids = torch.tensor([encode(tiny_lm, text)[0]])
    with torch.no_grad():
        ref = torch.softmax(tiny_lm.model(ids).logits[0, 1:], -1).numpy()
    np.testing.assert_allclose(lens_probs(tiny_lm, ts.at(tiny_lm.n_layers)), ref, atol=1e-5)
    t = lens_table(tiny_lm, ts, k=2)
    assert len(t) == (tiny_lm.n_layers + 1) * len(text) * 2
    assert (t.groupby(["layer", "position"])["prob"].apply(lambda p: p.is_monotonic_decreasing)).all()


def test_direction_arithmetic_and_io(tmp_path):
    d = Direction(np.array([3.0, 4.0]), 2, {"kind": "manual"}, "bee", "monarch")
    assert (2 * d).norm == 10.0 and (-d).positive == "monarch" and (d - d).norm == 0.0
    with pytest.raises(DirectionError, match="zero"):
        (d - d).unit()
    d.save(tmp_path / "dir")
    back = Direction.load(tmp_path / "dir.npz", d_model=2, n_layers=3)
    np.testing.assert_array_equal(back.vector, d.vector)
    assert back.layer == 2 and back.positive == "bee"
    with pytest.raises(DirectionError, match="this model has 576"):
        Direction.load(tmp_path / "dir", d_model=576)
    np.savez(tmp_path / "bad.npz", vector=np.array([1.0, np.nan]))
    with pytest.raises(DirectionError, match="NaN or inf"):
        Direction.load(tmp_path / "bad.npz")


def test_direction_from_texts_and_axis(tiny_lm, tm):
    d = Direction.from_texts(tiny_lm, "bee", "king", 2)
    view = axis_view(tm, d)
    np.testing.assert_allclose(view["x"].to_numpy(), tm.vectors @ d.unit(), rtol=1e-5, atol=1e-5)
    with pytest.raises(DirectionError, match="zero"):
        Direction.from_texts(tiny_lm, "same", "same", 2)
    pca = Direction.from_states(np.random.default_rng(0).normal(size=(5, 8)) + 3,
                                np.random.default_rng(1).normal(size=(5, 8)), 1, method="pca")
    assert pca.vector @ np.ones(8) > 0  # points toward the positive set


@pytest.mark.parametrize("spec,expect", [("0-3", [0, 1, 2, 3]), ("0,2", [0, 2]), ("0-3:2", [0, 2]), ("3", [3])])
def test_parse_layers(spec, expect):
    assert parse_layers(spec, 3) == expect


@pytest.mark.parametrize("spec,msg", [("0-99", "out of range"), ("a-b", "Cannot read layers"),
                                      ("5-2", "end must not be before")])
def test_parse_layers_errors(spec, msg):
    with pytest.raises(InputError, match=msg):
        parse_layers(spec, 30)


@pytest.mark.parametrize("prompts,msg", [([], "No prompts"), (["", "  "], "No prompts"),
                                         (["x"] * (MAX_PROMPTS + 1), "too many"),
                                         (["x" * 20_000], "token limit")])
def test_bad_prompts(tiny_lm, prompts, msg):
    with pytest.raises(InputError, match=msg):
        token_map(tiny_lm, prompts, [0, 1], method="pca")


def test_few_points_umap_falls_back(tiny_lm):
    tm = token_map(tiny_lm, ["ab"], [0, 1], method="umap")
    assert tm.projector.method_used_ == "pca" and "PCA instead" in tm.note


def test_emoji_tokens(tiny_lm):
    tm = token_map(tiny_lm, ["🐝 queen"], [0, 3], method="pca")
    assert np.isfinite(tm.table[["x", "y"]].to_numpy()).all()


def test_direction_npz_bytes_round_trip_and_bad_files():
    d = Direction(np.arange(4.0), 2, {"kind": "manual"}, "bee", "monarch")
    back = Direction.from_npz_bytes(d.to_npz_bytes(), d_model=4, n_layers=3)
    np.testing.assert_array_equal(back.vector, d.vector)
    assert (back.layer, back.positive, back.recipe) == (2, "bee", {"kind": "manual"})
    with pytest.raises(DirectionError, match="Not a direction file"):
        Direction.from_npz_bytes(b"garbage")
    with pytest.raises(DirectionError, match="this model has 576"):
        Direction.from_npz_bytes(d.to_npz_bytes(), d_model=576)
    import io
    buf = io.BytesIO()
    np.savez(buf, vector=np.array([1.0, np.inf, 0, 0]))
    with pytest.raises(DirectionError, match="NaN or inf"):
        Direction.from_npz_bytes(buf.getvalue())
