"""The real-model half of tests/unit/test_experiments.py.

Seed-claim experiments: the evidence machinery, each control behaving as a control, the JSON
contract and reproducibility (tiny models), and the real models' controls landing in their nulls."""
import pytest

import latent.claims as claims
from latent.claims import run
from latent.claims.evidence import SUPPORTED, paired_finding

CONTRACT = {"name", "claim", "tested", "not_tested", "verdict", "effect", "ci", "null", "n", "model", "dtype", "seed"}


# ------------------------------------------------------------------ real models: controls land in their nulls
@pytest.mark.full      # make test-all: docs/testing.md says why and what covers it in CI
@pytest.mark.slow
def test_sparse_messages_floors_and_full_state(real_lm):
    r = run("sparse-messages", real_lm, ks=(4, 16, 576))
    n = r.numbers
    assert n["prompts"] >= 50 and n["top1_agreement"]["standard"][-1] == 1.0     # k = d is the full state
    assert n["floor_zero_state"] <= n["floor_mean_state"] < 0.5
    assert r.evidence.finding.target == 0.9 and "stays available" not in r.evidence.tested


def test_shuffled_against_shuffled_lands_in_the_null(real_lm):
    """Two independent shuffles of the same prompts: the control compared with itself is no effect."""
    from latent.claims.experiments.sparse_matrix import K, next_logprobs, shuffled, topk_mass

    ps = claims.corpus_prompts(60, max_chars=100)
    a = topk_mass(next_logprobs(real_lm, shuffled(ps, 0)))[K]
    b = topk_mass(next_logprobs(real_lm, shuffled(ps, 1)))[K]
    f = paired_finding("shuffle 0 minus shuffle 1", a - b)
    assert f.verdict != SUPPORTED and f.ci[0] <= 0 <= f.ci[1]


@pytest.mark.full      # make test-all: docs/testing.md
@pytest.mark.slow
def test_cousins_on_the_real_model(real_lm):
    r = run("cousins", real_lm, n_prompts=10, far=0)
    by = r.numbers["by_cousin"]
    assert by["fp32 copy (floor)"]["kl_mean"] < 1e-6
    assert by["dynamic int8 (torch.ao, activations too)"]["kl_mean"] > 10 * by["int8 weights, per channel"]["kl_mean"]


@pytest.mark.full      # make test-all: docs/testing.md
@pytest.mark.slow
def test_two_models_talking(real_lm, gemma_lm):
    r = run("talking", real_lm, n_texts=20, models=lambda name: gemma_lm)
    null = [m for m in r.numbers["message_agreement"] if m["map"].startswith("shuffled")]
    assert max(m["agreement"] for m in null) < 0.15                   # the shuffled map lands at chance
    cka0 = r.numbers["cka"][0]
    assert cka0["random_init_cka"] > 0.5                               # the random-init control catches bag-of-tokens
    assert r.numbers["receiver"] == "gemma-3-270m" and CONTRACT <= set(r.to_json())
    j = r.to_json()
    b = j["baselines"]
    assert {"word_as_text", "layer0_map", "mean_state"} <= set(b) and all({"effect", "ci", "n", "bytes"} <= set(v)
                                                                          for v in b.values())
    assert b["word_as_text"]["ci"][0] > b["mean_state"]["ci"][1]          # the text baseline beats the floor
    assert j["seen_words"]["n"] + j["unseen_words"]["n"] == b["word_as_text"]["n"]
