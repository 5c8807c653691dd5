"""Seed-claim experiments: mechanics on the tiny model, sanity relations on the real one."""
import numpy as np
import pytest
import torch

from latent.claims import ExperimentError, get, run, verdict
from latent.claims.reuse import generate_cached, generate_nocache
from latent.claims.sparse_messages import keep_topk, patched_logprobs, sparsify
from latent.core.hidden import encode, hidden_states
from latent.core.hooks import Plan, use


@pytest.mark.parametrize("score,expect", [(0.95, "holds"), (0.9, "holds"), (0.89, "holds partly"), (0.5, "holds partly"),
                                          (0.49, "does not hold")])
def test_verdict_thresholds(score, expect):
    assert verdict(score, holds=0.9, partly=0.5) == expect


@pytest.mark.parametrize("k,expect", [(8, "holds"), (16, "holds"), (17, "holds partly"), (128, "holds partly"),
                                      (129, "does not hold")])
def test_verdict_lower_is_better(k, expect):
    assert verdict(k, holds=16, partly=128, higher_is_better=False) == expect


def test_keep_topk():
    v = np.array([0.1, -3.0, 2.0, 0.5])
    np.testing.assert_array_equal(keep_topk(v, 2), [0, -3.0, 2.0, 0])


def test_k_equals_d_reproduces_forward(tiny_lm):
    layer, prompt = 2, "the queen bee"
    h = hidden_states(tiny_lm, [prompt], layers=[layer])[0].at(layer)[-1]
    rng = np.random.default_rng(0)
    mu = rng.normal(size=32)
    vt = np.linalg.qr(rng.normal(size=(32, 32)))[0].T
    variants = np.stack([h] + [sparsify(h, 32, b, mu, vt) for b in ("standard", "pca", "mean")])
    np.testing.assert_array_equal(variants[1], h)
    lp = patched_logprobs(tiny_lm, prompt, layer, variants)
    ids = torch.tensor([encode(tiny_lm, prompt)[0]])
    with torch.no_grad():
        ref = torch.log_softmax(tiny_lm.model(ids).logits[0, -1], -1).numpy()
    np.testing.assert_allclose(lp[0], ref, atol=1e-5)       # the cached, patched path equals a plain forward
    np.testing.assert_allclose(lp[1:], np.broadcast_to(ref, lp[1:].shape), atol=1e-4)


def test_cache_on_and_off_give_identical_tokens(tiny_lm):
    ids = encode(tiny_lm, "hello there, queen")[0]
    assert generate_nocache(tiny_lm, ids, 8) == generate_cached(tiny_lm, ids, 8)
    pre_len = 5
    with torch.inference_mode():
        pre = tiny_lm.model.base_model(input_ids=torch.tensor([ids[:pre_len]]), use_cache=True).past_key_values
    assert generate_cached(tiny_lm, ids, 8, pre, pre_len) == generate_nocache(tiny_lm, ids, 8)


def test_ablating_zero_neurons_changes_nothing(tiny_lm):
    ids = torch.tensor([encode(tiny_lm, "abc def")[0]])
    with torch.no_grad():
        ref = tiny_lm.model(ids).logits
        with use(Plan(mlp_edits={b: [lambda a: a * torch.ones_like(a)] for b in (1, 2, 3)})):
            same = tiny_lm.model(ids).logits
        with use(Plan(mlp_edits={2: [lambda a: torch.zeros_like(a)]})):
            ablated = tiny_lm.model(ids).logits
    torch.testing.assert_close(same, ref, rtol=0, atol=0)
    assert not torch.allclose(ablated, ref)


@pytest.mark.parametrize("name,params,msg", [
    ("sparse-messages", {"ks": [0, 4], "layer": 2}, "k must be between 1 and d"),
    ("sparse-messages", {"ks": [4, 5000], "layer": 2}, "k must be between 1 and d"),
    ("sparse-messages", {"layer": 99}, "out of range"),
    ("reasoning", {"layer": -1}, "out of range"),
    ("sparse-matrix", {"prompts": ["x" * 5000]}, "longer than the context window"),
])
def test_bad_parameters(tiny_lm, name, params, msg):
    with pytest.raises(ExperimentError, match=msg):
        run(name, tiny_lm, **params)


def test_empty_prompt_set(tiny_lm):
    from latent.claims import check_prompts

    with pytest.raises(ExperimentError, match="empty"):
        check_prompts(tiny_lm, ["", "  "])
    with pytest.raises(ExperimentError, match="Unknown experiment"):
        get("astrology")


# ------------------------------------------------------------------ real model
@pytest.mark.real_model
def test_sparse_messages_fidelity_grows_with_k(real_lm):
    r = run("sparse-messages", real_lm, layer=12)
    n = r.numbers
    kl, agree = np.array(n["kl"]), np.array(n["top1_agreement"])
    assert n["k"][-1] == 576 and kl[-1] == pytest.approx(0.0, abs=1e-6) and agree[-1] == 1.0
    from scipy.stats import spearmanr

    assert spearmanr(n["k"], agree)[0] > 0.8 and spearmanr(n["k"], kl)[0] < -0.9
    assert r.verdict == verdict(n["best_k_for_90pct"] or 577, holds=16, partly=128, higher_is_better=False)


@pytest.mark.real_model
def test_sparse_matrix_mass_is_monotone(real_lm):
    r = run("sparse-matrix", real_lm)
    m = r.numbers["topk_mass"]
    assert m["1"] <= m["10"] <= m["100"] <= 1.0
    assert r.numbers["entropy_unlikely"] > r.numbers["entropy_ordinary"]
    assert r.verdict == verdict(m["100"], holds=0.9, partly=0.7)


@pytest.mark.real_model
def test_reuse_and_economy_and_reasoning_run(real_lm):
    r = run("reuse", real_lm, lengths=(32, 64))
    assert r.numbers["identical_tokens_all_modes"]
    g = r.table.dropna().set_index(["history_tokens", "mode"])["gmacs"]
    assert g[(64, "no cache")] > g[(64, "KV cache")] > g[(64, "persistent prefix cache")]
    e = run("economy", real_lm)
    assert e.numbers["prompts"] >= 100 and len(e.numbers["active_fraction_per_layer"]) == 30
    rs = run("reasoning", real_lm)
    assert rs.verdict in ("holds", "holds partly", "does not hold") and rs.numbers["questions"] == 8
