import numpy as np
import pytest
import torch

from latent.core import hidden
from latent.core.hidden import InputError, hidden_states


def test_shapes_and_start_token_dropped(tiny_lm):
    ts = hidden_states(tiny_lm, ["hello", "hi"])
    n = tiny_lm.n_layers + 1
    assert ts[0].states.shape == (n, 5, 32) and ts[1].states.shape == (n, 2, 32)
    assert ts[0].tokens == list("hello")
    assert ts[0].offsets[0] == (0, 1)


def test_matches_hf_hidden_states(tiny_lm):
    text = "a queen bee"
    ids = torch.tensor([hidden.encode(tiny_lm, text)[0]])
    with torch.no_grad():
        ref = tiny_lm.model.base_model(ids, output_hidden_states=True).hidden_states
    ts = hidden_states(tiny_lm, [text])[0]
    for layer in range(tiny_lm.n_layers):  # the last HF entry is after the final norm
        np.testing.assert_allclose(ts.at(layer), ref[layer][0, 1:].numpy(), atol=1e-5)


def test_padding_invariance(tiny_lm):
    short = "queen"
    alone = hidden_states(tiny_lm, [short])[0].states
    batched = hidden_states(tiny_lm, ["a much longer sentence about bees and hives", short])[1].states
    np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_pooling(tiny_lm):
    ts = hidden_states(tiny_lm, ["abcd"])[0]
    np.testing.assert_allclose(ts.pooled("mean"), ts.states.mean(axis=1), atol=1e-6)
    np.testing.assert_array_equal(ts.pooled("last"), ts.states[:, -1])
    with pytest.raises(InputError, match="Unknown pooling"):
        ts.pooled("max")


def test_selected_layers_only(tiny_lm):
    ts = hidden_states(tiny_lm, ["abc"], layers=[1, 2])[0]
    full = hidden_states(tiny_lm, ["abc"])[0]
    assert ts.states.shape[0] == 2
    np.testing.assert_allclose(ts.at(2), full.at(2), atol=1e-6)


def test_chunking_gives_same_result(tiny_lm, monkeypatch):
    texts = [f"text number {i} " * (i + 1) for i in range(6)]
    ref = hidden_states(tiny_lm, texts)
    monkeypatch.setattr(hidden, "BATCH_TOKENS", 40)
    assert len(hidden._chunks([len(t) + 1 for t in texts], 40)) > 2
    got = hidden_states(tiny_lm, texts)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a.states, b.states, atol=1e-5)


@pytest.mark.parametrize("texts,layers,msg", [
    ([], None, "No texts"), ([""], None, "Empty text"), (["   "], None, "Empty text"),
    (["x" * 5000], None, "token limit"), (["ok"], [99], "out of range"), (["ok"], [-1], "out of range"),
])
def test_bad_input(tiny_lm, texts, layers, msg):
    with pytest.raises(InputError, match=msg):
        hidden_states(tiny_lm, texts, layers=layers)


def test_total_token_cap(tiny_lm):
    with pytest.raises(InputError, match="tokens in all"):
        hidden_states(tiny_lm, ["abcdefghij"] * 20, max_total_tokens=100)


def test_unicode_and_emoji(tiny_lm):
    ts = hidden_states(tiny_lm, ["queen 🐝 ünïcode"])[0]
    assert ts.states.shape[1] == len("queen 🐝 ünïcode".encode())
    assert np.isfinite(ts.states).all()
