"""Seed-claim experiments: the evidence machinery, each control behaving as a control, the JSON
contract and reproducibility (tiny models), and the real models' controls landing in their nulls."""
import json

import numpy as np
import pytest
import torch
from conftest import make_tiny_lm

import latent.claims as claims
from latent.claims import ExperimentError, get, registry, run
from latent.claims.evidence import ARITHMETIC, INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, judge, paired_finding
from latent.claims.experiments import cousins, economy, reasoning, talking
from latent.claims.experiments.reuse import generate_cached, generate_nocache
from latent.claims.experiments.sparse_messages import keep_topk, patched_logprobs, sparsify
from latent.core.hidden import encode, hidden_states
from latent.core.hooks import Plan, use
from latent.core.stats import bootstrap_ci, clopper_pearson

CONTRACT = {"name", "claim", "tested", "not_tested", "verdict", "effect", "ci", "null", "n", "model", "dtype", "seed"}
TINY_PARAMS = {"reuse": {"lengths": (16, 24), "questions": 2, "repeats": 2}, "cousins": {"n_prompts": 10, "far": 1},
               "sparse-matrix": {}, "sparse-messages": {"layer": 2, "ks": (1, 8, 32)},
               "economy": {"n_probes": 6}, "reasoning": {"n_questions": 10}, "talking": {"n_texts": 20}}


SENTENCES = {"talking": talking.what_crosses, "reasoning": reasoning.what_is_measured, "economy": economy.tau_sentence,
             "cousins": cousins.cousin_sentence}      # the experiments whose tab sentence is generated (test_claim_sentences.py)


# ------------------------------------------------------------------ the verdict rule
@pytest.mark.parametrize("ci,band,side,target,expect", [
    ((0.4, 0.6), (0.0, 0.2), "greater", None, SUPPORTED),
    ((0.1, 0.3), (0.0, 0.2), "greater", None, INCONCLUSIVE),
    ((0.05, 0.15), (0.0, 0.2), "greater", None, NOT_SUPPORTED),
    ((-0.5, -0.3), (-0.2, 0.2), "less", None, SUPPORTED),
    ((-0.1, 0.3), (-0.2, 0.2), "less", None, NOT_SUPPORTED),
    ((0.39, 0.68), (0.05, 0.27), "greater", 0.9, NOT_SUPPORTED),     # above the floor, short of the claim
    ((0.85, 0.95), (0.05, 0.27), "greater", 0.9, INCONCLUSIVE),
    ((0.92, 0.99), (0.05, 0.27), "greater", 0.9, SUPPORTED),
])
def test_judge(ci, band, side, target, expect):
    assert judge(ci, band, side, target)[0] == expect


def test_noise_lands_in_the_null_and_a_real_shift_does_not():
    """The paired rule's false-positive rate on pure noise is at most ~α; a real shift is found."""
    g = np.random.default_rng(0)
    fp = np.mean([paired_finding("noise", g.normal(size=50), seed=s).verdict == SUPPORTED for s in range(200)])
    assert fp <= 0.05
    assert paired_finding("shift", g.normal(0.8, 1.0, size=50)).verdict == SUPPORTED


def test_intervals_cover():
    g = np.random.default_rng(1)
    hits = [lo <= 0.3 <= hi for lo, hi in (clopper_pearson(int((g.random(40) < 0.3).sum()), 40) for _ in range(300))]
    assert np.mean(hits) >= 0.93
    hits = [lo <= 0 <= hi for lo, hi in (bootstrap_ci(g.normal(size=40), seed=s, n_boot=500) for s in range(200))]
    assert np.mean(hits) >= 0.9


def test_arithmetic_is_never_a_verdict():
    f = claims.evidence.arithmetic("x", 0.4, "2 / 5")
    assert f.verdict == ARITHMETIC and "No verdict" in f.rule and "2 / 5" in f.rule


def test_spearman_null_holds_for_independent_data():
    from latent.claims.experiments.economy import spearman_boot

    g = np.random.default_rng(2)
    covered = []
    for s in range(60):
        x, y = g.normal(size=80), g.normal(size=80)
        r, ci, band, p = spearman_boot(x, y, seed=s, n=400)
        covered.append(ci[0] <= 0 <= ci[1])
        assert band[0] < 0 < band[1]
    assert np.mean(covered) >= 0.9


def test_cka_invariances_and_its_shuffled_null():
    from latent.claims.experiments.talking import _cka_with_ci, linear_cka

    g = np.random.default_rng(3)
    X = g.normal(size=(60, 10))
    R = np.linalg.qr(g.normal(size=(10, 10)))[0]
    assert linear_cka(X, 3 * X @ R) == pytest.approx(1.0)
    c, lo, hi = _cka_with_ci(X, X @ R)
    assert lo <= c <= hi
    shuffled = [linear_cka(X, (X @ R)[g.permutation(60)]) for _ in range(50)]
    assert np.quantile(shuffled, 0.95) < 0.5            # shuffled pairings land far below 1


# ------------------------------------------------------------------ mechanics on tiny models
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
    np.testing.assert_allclose(lp[0], ref, atol=1e-5)
    np.testing.assert_allclose(lp[1:], np.broadcast_to(ref, lp[1:].shape), atol=1e-4)


def test_cache_on_and_off_give_identical_tokens(tiny_lm):
    ids = encode(tiny_lm, "hello there, queen")[0]
    assert generate_nocache(tiny_lm, ids, 8) == generate_cached(tiny_lm, ids, 8)
    with torch.inference_mode():
        pre = tiny_lm.model.base_model(input_ids=torch.tensor([ids[:5]]), use_cache=True).past_key_values
    assert generate_cached(tiny_lm, ids, 8, pre, 5) == generate_nocache(tiny_lm, ids, 8)


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


def test_quantised_cousins_are_private_and_weight_only(tiny_lm):
    from latent.claims.experiments.cousins import int4_group, int8_per_channel, make_cousin

    w = torch.randn(8, 128)
    assert (int8_per_channel(w) - w).abs().max() <= w.abs().amax(1, keepdim=True).max() / 127
    q = int4_group(w).reshape(8, 2, 64)
    s = w.reshape(8, 2, 64).abs().amax(-1, keepdim=True) / 7
    assert torch.allclose((q / s).round(), q / s, atol=1e-4)            # every value is an int4 level of its group
    before = [p.clone() for p in tiny_lm.model.parameters()]
    c = make_cousin(tiny_lm, "int4 weights, group 64")
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_lm.model.parameters()))  # the shared model is untouched
    assert c.model is not tiny_lm.model


def test_the_prefill_scorer_equals_plain_scoring(tiny_lm):
    from latent.claims.experiments.reasoning import ANSWER_TOKENS, score
    from latent.core.generate import continuation_logprobs, generate

    ps, ans = ["the queen bee", "a b c d e f g", "hello"], ["honey hive", "x", "abc def"]
    lp, outs = score(tiny_lm, ps, ans)
    a_ids = [tiny_lm.tokenizer(" " + a, add_special_tokens=False).input_ids for a in ans]
    ref = np.array(continuation_logprobs(tiny_lm, [encode(tiny_lm, p)[0] for p in ps], a_ids)) * [len(a) for a in a_ids]
    np.testing.assert_allclose(lp, ref, atol=1e-4)
    assert outs == [tiny_lm.tokenizer.decode(t) for t in generate(tiny_lm, ps, max_new_tokens=ANSWER_TOKENS).token_ids]


@pytest.mark.parametrize("family", ["llama", "gemma3", "gpt2", "gpt_neox"])
def test_continuation_logprobs_equals_one_row_at_a_time(family):
    from latent.core.generate import continuation_logprobs

    lm = make_tiny_lm(family=family)
    P, N = [[1, 5, 7, 9], [1, 3], [1, 4, 4, 4, 4, 4, 2]], [[3, 4], [8, 9, 10], [5]]
    ref = []
    for p, n in zip(P, N):
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(torch.tensor([p + n])).logits[0].float(), -1)
        ref.append(float(np.mean([lp[len(p) - 1 + i, t] for i, t in enumerate(n)])))
    np.testing.assert_allclose(continuation_logprobs(lm, P, N), ref, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_pair(tiny_lm):
    """Every experiment on a tiny model; the second model is another tiny model (never a download)."""
    other = make_tiny_lm(seed=7, family="gemma3")
    return tiny_lm, (lambda name: other)          # the model provider, passed explicitly


@pytest.mark.parametrize("name", sorted(TINY_PARAMS))
def test_every_experiment_meets_the_contract_and_reproduces(tiny_pair, name):
    from latent.claims.figures import evidence_figure

    lm, provider = tiny_pair
    res = run(name, lm, seed=3, models=provider, **TINY_PARAMS[name])
    for fig in (get(name).figure(res), evidence_figure(res.evidence)):   # the page's two figures build
        assert len(fig.data) > 0
        for tr in fig.data:   # a band is a shaded area: no stray markers at its corners
            if getattr(tr, "fill", None) in ("toself", "tonexty"):
                assert tr.mode == "lines", (name, tr.name)
    a = res.to_json()
    b = run(name, lm, seed=3, models=provider, **TINY_PARAMS[name]).to_json()
    assert CONTRACT <= set(a) and a["dtype"] == "float32" and a["seed"] == 3
    a.pop("timing_seconds"), b.pop("timing_seconds")     # wall-clock time is measured, so not reproducible
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["verdict"] in claims.evidence.VERDICTS and a["tested"] and a["not_tested"]
    assert a["ci"][0] <= a["effect"] <= a["ci"][1]
    for f in a["findings"]:
        assert f["ci"][0] <= f["effect"] + 1e-9 and f["effect"] <= f["ci"][1] + 1e-9, f["measure"]
    if name in SENTENCES:                   # the tab's key sentence is written from the JSON's own numbers
        assert a["headline"] and a["headline"] == SENTENCES[name](a["numbers"])


def test_registry_names_every_experiment():
    assert set(registry()) == set(TINY_PARAMS)


def test_one_question_saves_nothing(tiny_lm):
    r = run("reuse", tiny_lm, lengths=(16, 24), questions=1, repeats=1)
    assert r.verdict == ARITHMETIC and r.evidence.finding.effect == 0.0
    assert r.numbers["identical_tokens_all_modes"]
    g = r.table.set_index(["history_tokens", "mode"])["gmacs"]
    assert g[(24, "KV cache per question")] == pytest.approx(g[(24, "persistent history cache")])
    r4 = run("reuse", tiny_lm, lengths=(16, 24), questions=4, repeats=1)
    assert 0 < r4.evidence.finding.effect < 0.75                   # (Q-1)/Q of the history share, at most


def test_random_model_reasoning_is_not_supported(tiny_pair):
    """A random model's own 'reasoning' cannot help it: the control lands in the null."""
    assert run("reasoning", tiny_pair[0], n_questions=10).verdict != SUPPORTED


def test_cousin_floor_is_fp32_and_exact(tiny_pair):
    r = run("cousins", tiny_pair[0], n_prompts=10, far=0)
    floor = r.numbers["by_cousin"]["fp32 copy (floor)"]
    assert floor["continuation_differs"] == 0 and floor["kl_mean"] < 1e-8 and floor["top1_agreement"] == 1
    assert all("fp32" in f.null_name for f in [r.evidence.finding] + r.evidence.more if "paired" not in f.null_name)


def test_keeping_every_neuron_keeps_every_prediction(tiny_pair):
    r = run("economy", tiny_pair[0], n_probes=6)
    full = [s for s in r.numbers["survival"] if s["k"] == tiny_pair[0].model.config.intermediate_size]
    assert [s["share"] for s in full] == [1.0, 1.0]                 # largest-|a| and random: all kept = baseline


@pytest.mark.parametrize("name,params,msg", [
    ("sparse-messages", {"ks": [0, 4], "layer": 2}, "k must be between 1 and d"),
    ("sparse-messages", {"ks": [4, 5000], "layer": 2}, "k must be between 1 and d"),
    ("sparse-messages", {"layer": 99}, "out of range"),
    ("reasoning", {"n_questions": 3}, "n_questions must be"),
    ("reuse", {"questions": 0, "lengths": (16, 24)}, "questions must be"),
    ("reuse", {"lengths": (16, 9999)}, "History lengths must be"),
    ("sparse-matrix", {"prompts": ["x" * 5000]}, "longer than the context window"),
    ("cousins", {"n_prompts": 5000}, "n_prompts must be"),
])
def test_bad_parameters(tiny_lm, name, params, msg):
    with pytest.raises(ExperimentError, match=msg):
        run(name, tiny_lm, **params)


def test_bad_seed_and_unknown_experiment(tiny_lm):
    with pytest.raises(ExperimentError, match="Seed"):
        run("reuse", tiny_lm, seed=-1)
    with pytest.raises(ExperimentError, match="Unknown experiment"):
        get("astrology")


