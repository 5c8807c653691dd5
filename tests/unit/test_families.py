"""Every family in the architecture table, on a tiny random model built from its config (no files).

Checked on each: hidden states equal HF ``output_hidden_states``; layer 0 is the family's true
residual stream; steering at strength 0 equals the baseline; the logit lens at the last layer
equals the model's logits; our KV-cached batched decoding equals full recomputation; the MLP hook
sits on the MLP's hidden activation.
"""
import numpy as np
import pytest
import torch
from conftest import FAMILIES, make_tiny_lm

from latent.core import arch, hidden
from latent.core.direction import Direction
from latent.core.generate import generate
from latent.core.hidden import hidden_states
from latent.core.hooks import Plan, use
from latent.core.lens import lens_logits
from latent.walk.steer import steering

TEXT = "the queen of the hive hums"   # longer than Gemma's test sliding window (6)


@pytest.fixture(scope="module", params=FAMILIES)
def lm(request):
    return make_tiny_lm(family=request.param)


def test_family_is_recognised(lm):
    assert lm.family.name == lm.name.removeprefix("tiny-")
    assert lm.n_layers == 3 and lm.d_model == 32


def test_hidden_states_match_hf(lm):
    ids = torch.tensor([hidden.encode(lm, TEXT)[0]])
    with torch.no_grad():
        ref = lm.model(ids, output_hidden_states=True).hidden_states
    ts = hidden_states(lm, [TEXT])[0]
    assert ts.states.shape == (lm.n_layers + 1, len(TEXT), 32)
    for layer in range(lm.n_layers):
        np.testing.assert_allclose(ts.at(layer), ref[layer][0, 1:].numpy(), atol=1e-5, err_msg=f"layer {layer}")
    # HF's last entry is the last block's output, or (most families) that output after the final norm
    last = torch.as_tensor(ts.at(lm.n_layers))
    normed = arch.final_norm(lm.model)(last).numpy()
    assert np.allclose(last.numpy(), ref[-1][0, 1:].numpy(), atol=1e-5) or \
        np.allclose(normed, ref[-1][0, 1:].numpy(), atol=1e-5)


def test_layer0_is_the_residual_stream(lm):
    ids = torch.tensor(hidden.encode(lm, TEXT)[0])
    emb = lm.model.get_input_embeddings()(ids[None])[0]
    if lm.family.name == "gpt2":  # token + position embeddings
        emb = emb + lm.model.transformer.wpe(torch.arange(len(ids)))
    np.testing.assert_allclose(hidden_states(lm, [TEXT], layers=[0])[0].at(0), emb[1:].numpy(), atol=1e-6)


def test_steering_at_zero_equals_baseline(lm):
    d = Direction(np.random.default_rng(0).normal(size=32), layer=2)
    base = generate(lm, [TEXT], max_new_tokens=6).token_ids[0]
    with steering(lm, d, 0.0):
        assert generate(lm, [TEXT], max_new_tokens=6).token_ids[0] == base
    with steering(lm, d, 8.0):  # and a large strength does change something (the hook is live)
        assert lens_changed(lm, d)


def lens_changed(lm, d) -> bool:
    ids = torch.tensor([hidden.encode(lm, TEXT)[0]])
    with torch.no_grad():
        steered = lm.model(ids).logits
    with use(Plan()):
        with torch.no_grad():
            plain = lm.model(ids).logits
    return not torch.allclose(steered, plain)


def test_lens_at_last_layer_equals_logits(lm):
    ids = torch.tensor([hidden.encode(lm, TEXT)[0]])
    with torch.no_grad():
        logits = lm.model(ids).logits[0, 1:].float()
    lens = lens_logits(lm, hidden_states(lm, [TEXT])[0].at(lm.n_layers))
    torch.testing.assert_close(lens, logits, atol=1e-4, rtol=1e-4)


def naive_greedy(lm, prompt: str, n: int) -> list[int]:
    """Full recomputation every step: no KV cache, no padding."""
    ids = hidden.encode(lm, prompt)[0]
    out = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(lm.model(torch.tensor([ids + out]), use_cache=False).logits[0, -1].argmax())
            out.append(nxt)
            if nxt == lm.tokenizer.eos_token_id:
                break
    return out


def test_kv_cache_generation_equals_recomputation(lm):
    prompts = [TEXT, "a bee"]  # different lengths: the short one is left-padded in the batch
    gen = generate(lm, prompts, max_new_tokens=8)
    for p, got in zip(prompts, gen.token_ids):
        assert got == naive_greedy(lm, p, 8), p


def test_mlp_hook_reads_the_mlp_activation(lm):
    ids = torch.tensor([hidden.encode(lm, TEXT)[0]])
    plan = Plan(mlp_record={1})
    with use(plan), torch.no_grad():
        ref = lm.model(ids).logits
    act = plan.mlp_records[1][0]
    block = arch.blocks(lm.model)[0]
    assert act.shape[-1] == 64 or act.shape[-1] == 4 * 32  # the MLP's hidden width, not d_model
    # the out-projection of the recorded activation is the MLP's output
    out_proj = arch.mlp_input_module(lm.model, block)
    mlp_out = out_proj(act)
    assert mlp_out.shape[-1] == 32
    with use(Plan(mlp_edits={1: [torch.zeros_like]})), torch.no_grad():
        assert not torch.allclose(lm.model(ids).logits, ref)


def test_lens_rank_of_the_final_prediction(lm):
    from latent.core.lens import lens_table

    t = lens_table(lm, hidden_states(lm, [TEXT])[0], k=2)
    last = t[t["layer"] == lm.n_layers]
    assert (last["final_rank"] == 0).all()                          # the last layer ranks its own top-1 first
    assert (t["final_rank"] >= 0).all() and (t["final_rank"] < lm.model.config.vocab_size).all()
    top = last[last["rank"] == 0]
    assert np.allclose(top.groupby("position")["prob"].max(), top["prob"])


def test_partial_rescoring_equals_full_rescoring(lm):
    """Typicality re-scored from the steering layer up (the layers below kept from the decode) equals
    re-running the whole unsteered model: rows of different lengths, steered at two layers, unsteered,
    sampled, and cut to two lengths."""
    from latent.core.decode import decode_rows
    from latent.core.requests import GenerateRequest

    d = lm.d_model
    rng = np.random.default_rng(0)
    reqs = [
        GenerateRequest.make([TEXT, "a bee", "hums"], [0, 1, 2], layer=1,
                             added=rng.normal(0, 3, (3, d)).astype(np.float32), max_new_tokens=6,
                             do_sample=True, typicality=True),
        GenerateRequest.make(["a bee", TEXT], [3, 4], layer=2,
                             added=rng.normal(0, 3, (2, d)).astype(np.float32), max_new_tokens=6,
                             do_sample=True, typicality=True),
        GenerateRequest.make([TEXT, "a bee"], [5, 6], max_new_tokens=3, do_sample=True, typicality=True),
    ]
    part = decode_rows(lm, reqs, partial=True)
    full = decode_rows(lm, reqs, partial=False)
    for p, f in zip(part, full):
        assert p.token_ids == f.token_ids
        assert np.isfinite(p.extra["typicality"]).all()
        np.testing.assert_allclose(p.extra["typicality"], f.extra["typicality"], atol=1e-4, rtol=1e-5)
    # the check can fail: starting every row at the deepest kept layer (above layer 1, where the first
    # request's vectors were added) scores those rows under a partly steered model, and differs
    import latent.core.decode as dec
    right = dec._score_from_layers

    def too_high(lm_, g, want, raw, layer_of):
        return right(lm_, g, want, raw, {i: max(raw) for i in layer_of})
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(dec, "_score_from_layers", too_high)
    try:
        wrong = decode_rows(lm, reqs, partial=True)
    finally:
        monkeypatch.undo()
    assert not np.allclose(wrong[0].extra["typicality"], full[0].extra["typicality"], atol=1e-4)
    np.testing.assert_allclose(wrong[1].extra["typicality"], full[1].extra["typicality"], atol=1e-4)


def _sweep_plan(lm, B):
    """Rows as a sweep has them: two prompts, each steered with several vectors at layers 1 and 2, one
    row unsteered, the steering layer's raw residual kept (as typicality re-scoring asks)."""
    from latent.core.decode import rows_plan

    rng = np.random.default_rng(1)
    a1 = rng.normal(0, 3, (B, lm.d_model)).astype(np.float32)
    a1[-1] = 0                                   # the last row: unsteered
    a2 = np.zeros_like(a1)
    a2[1] = rng.normal(0, 3, lm.d_model)         # one row steered at layer 2 as well
    plan = Plan(keep_raw={1, 2}).merged(rows_plan(lm, 1, a1)).merged(rows_plan(lm, 2, a2))
    plan.keep_raw = {1, 2}
    return plan


def _prefill_both(lm, prompts, plan_of, block: int = 0):
    """Both prompt passes under ``plan_of()``: (cache, logits, kept raw residuals, the batch sizes that
    block ``block + 1`` saw)."""
    from latent.core import generate as gen

    ids = [hidden.encode(lm, p)[0] for p in prompts]
    inp, mask, pos = hidden.left_pad(lm, ids)
    seen = []
    h = arch.blocks(lm.model)[block].register_forward_pre_hook(lambda m, a, kw: seen.append(a[0].shape[0] if a else
                                                           kw["hidden_states"].shape[0]), with_kwargs=True)
    out = {}
    try:
        for shared in (True, False):
            seen.clear()
            with torch.inference_mode(), use(plan_of()) as plan:
                cache, logits = gen.prefill(lm, inp, mask, pos, shared=shared)
            out[shared] = (cache, logits, {k: torch.cat(v, 1) for k, v in plan.raw.items()}, list(seen))
    finally:
        h.remove()
    return out


def _assert_same_decode(lm, prompts, plan_of):
    """The whole decode (sampled rows with their own seeds, steered under ``plan_of()``) continued from the
    shared prompt pass gives the whole pass's tokens and first log-probs."""
    from latent.core import generate as gen

    whole = []
    real = gen.prefill
    for fn in (real, lambda *a, **kw: real(*a, shared=False)):
        mp = pytest.MonkeyPatch()
        mp.setattr(gen, "prefill", fn)
        try:
            with use(plan_of()):
                whole.append(generate(lm, prompts, max_new_tokens=5, do_sample=True, seeds=list(range(len(prompts)))))
        finally:
            mp.undo()
    assert whole[0].token_ids == whole[1].token_ids
    np.testing.assert_allclose(whole[0].first_logprobs, whole[1].first_logprobs, atol=1e-4)


def test_shared_prompt_prefill_equals_whole_prefill(lm):
    """A sweep's prompt pass run once per distinct prompt below the steering layer, then per row above it,
    gives the whole pass's logits, cache (every layer, Gemma's sliding ones too) and kept raw residuals;
    and the decode continued from it gives the same tokens."""

    prompts = [TEXT, TEXT, "a bee", TEXT, "a bee", TEXT]
    out = _prefill_both(lm, prompts, lambda: _sweep_plan(lm, len(prompts)))
    (c1, l1, r1, seen1), (c0, l0, r0, seen0) = out[True], out[False]
    assert seen1 == [2] and seen0 == [len(prompts)]     # block 1 ran once per distinct prompt
    torch.testing.assert_close(l1, l0, atol=1e-5, rtol=1e-5)
    for a, b in zip(c1.layers, c0.layers):
        torch.testing.assert_close(a.keys, b.keys, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.values, b.values, atol=1e-5, rtol=1e-5)
    assert set(r1) == set(r0) == {1, 2}
    for k in r0:
        torch.testing.assert_close(r1[k], r0[k], atol=1e-5, rtol=1e-5)
    # the whole decode: sampled rows with their own seeds, steered, continued from either prefill
    _assert_same_decode(lm, prompts, lambda: _sweep_plan(lm, len(prompts)))


def _seeds_plan(lm):
    """A sweep's rows at one layer: each (prompt, vector) twice, as with two seeds (a zero vector too)."""
    from latent.core.decode import rows_plan

    v = np.random.default_rng(2).normal(0, 3, (2, lm.d_model)).astype(np.float32)
    zero = np.zeros(lm.d_model, np.float32)
    plan = rows_plan(lm, 1, np.stack([v[0], v[0], v[1], zero, v[1], zero]))
    plan.keep_raw = {1}
    return plan


def test_rows_equal_after_their_edits_run_the_upper_blocks_once(lm):
    """Rows with one prompt and one vector (a sweep's seeds) are equal above the steering layer too: the
    blocks above it run once per such group, and the logits, every layer's cache, the kept raw residual
    and the sampled decode equal the whole pass's."""

    prompts = [TEXT, TEXT, "a bee", TEXT, "a bee", TEXT]
    out = _prefill_both(lm, prompts, lambda: _seeds_plan(lm), block=1)
    (c1, l1, r1, seen1), (c0, l0, r0, seen0) = out[True], out[False]
    assert seen1 == [3] and seen0 == [6]          # block 2 ran once per (prompt, vector)
    torch.testing.assert_close(l1, l0, atol=1e-5, rtol=1e-5)
    for a, b in zip(c1.layers, c0.layers):
        torch.testing.assert_close(a.keys, b.keys, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(a.values, b.values, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r1[1], r0[1], atol=1e-5, rtol=1e-5)
    _assert_same_decode(lm, prompts, lambda: _seeds_plan(lm))
    # the control: every row its own vector (and a second steered layer), so block 2 sees every row
    other = _prefill_both(lm, prompts, lambda: _sweep_plan(lm, len(prompts)), block=1)
    assert other[True][3] == [6]


def test_shared_prefill_with_nothing_edited_and_the_check_can_fail(lm):
    """Unsteered rows of one prompt (sampled baselines, one seed each) share the whole pass; and sharing
    one layer too high (above where the vectors are added) gives other logits, so the check above bites."""
    from latent.core import generate as gen

    prompts = [TEXT, TEXT, "a bee", TEXT]
    out = _prefill_both(lm, prompts, lambda: Plan())
    assert out[True][3] == [2] and out[False][3] == [4]     # the distinct prompts ran once each
    torch.testing.assert_close(out[True][1], out[False][1], atol=1e-5, rtol=1e-5)
    mp = pytest.MonkeyPatch()
    mp.setattr(gen, "shared_below", lambda lm_, plan: 2)     # the vectors are added at layer 1
    try:
        wrong = _prefill_both(lm, prompts, lambda: _sweep_plan(lm, len(prompts)))
    finally:
        mp.undo()
    assert not torch.allclose(wrong[True][1], wrong[False][1], atol=1e-3)


def test_the_lm_head_gets_contiguous_states_and_the_same_last_logits(lm):
    """transformers' ``logits_to_keep`` hands the LM head a strided view of the last columns, which torch's
    CPU matmul runs several times slower; the permanent hooks hand it a contiguous copy, and the last
    column's logits equal the whole pass's. The control: a model without the hooks gets the view."""
    ids = torch.tensor([hidden.encode(lm, TEXT)[0]] * 2)
    seen = []
    h = lm.model.get_output_embeddings().register_forward_pre_hook(lambda m, a: seen.append(a[0].is_contiguous()))
    try:
        with torch.no_grad():
            full = lm.model(ids).logits[:, -1]
            last = lm.model(ids, logits_to_keep=1).logits[:, -1]
    finally:
        h.remove()
    assert seen == [True, True] and torch.allclose(full, last, atol=1e-5)
    bare = make_tiny_lm(family=lm.name.removeprefix("tiny-"))
    head = bare.model.get_output_embeddings()
    head._forward_pre_hooks.clear()              # our contiguity hook gone: the view reaches the head
    seen.clear()
    head.register_forward_pre_hook(lambda m, a: seen.append(a[0].is_contiguous()))
    with torch.no_grad():
        bare.model(ids, logits_to_keep=1)
    assert seen == [False]


def test_the_word_as_text_shares_its_prompt_and_equals_whole_passes(lm):
    """Two models talking: the 'word as text' baseline runs the shared prompt once and each word's own
    tokens after it, one batch per length; its answers equal one whole left-padded pass per row."""
    from latent.claims.experiments.talking import PATCH_PROMPT, PATCH_TAIL, text_next
    from latent.core.hidden import left_pad, start_ids

    words = ["queen", "bee", "a", "hive", "monarchy", "x"]
    got = text_next(lm, words)
    ids = [start_ids(lm.tokenizer) + lm.tokenizer(PATCH_PROMPT + w + PATCH_TAIL[1], add_special_tokens=False).input_ids
           for w in words]
    want = []
    for x in ids:
        inp, mask, pos = left_pad(lm, [x])
        with torch.no_grad():
            want.append(int(lm.model(input_ids=inp, attention_mask=mask, position_ids=pos).logits[0, -1].argmax()))
    assert got.tolist() == want and len({len(w) for w in words}) > 1


def test_next_token_logprobs_of_a_left_padded_batch_equal_each_prompt_alone(lm):
    """The sparse next-token matrix reads each prompt's next-token distribution from one left-padded batch
    that sends only the last column to the LM head: equal to each prompt run alone, whatever its length."""
    from latent.claims.experiments.sparse_matrix import next_logprobs

    prompts = ["the queen", "a bee in the hive hums", "x"]
    got = next_logprobs(lm, prompts)
    for p, row in zip(prompts, got):
        ids = torch.tensor([hidden.encode(lm, p)[0]])
        with torch.no_grad():
            want = torch.log_softmax(lm.model(ids).logits[0, -1].float(), -1).numpy()
        assert abs(row - want).max() < 1e-4, p


def test_last_token_activations_of_a_left_padded_batch_equal_each_prompt_alone(lm):
    """Computational economy reads each prompt's last-position MLP activations and next-token entropy from
    one left-padded batch with only the last column at the LM head: equal to each prompt run alone."""
    from latent.claims.experiments.economy import last_token_acts

    prompts = ["the queen", "a bee in the hive hums", "x"]
    acts, ents = last_token_acts(lm, prompts)
    for i, p in enumerate(prompts):
        a1, e1 = last_token_acts(lm, [p])
        assert abs(acts[i] - a1[0]).max() < 1e-4 and abs(ents[i] - e1[0]) < 1e-4, p


def test_reasoning_scores_from_the_questions_shared_heads_equal_whole_prompts(lm):
    """Reasoning as steering runs each question's beginning once for all seven conditions and continues
    each condition's text from its cache: the answers' log-probabilities and the greedy answers equal
    one whole left-padded prefill (where a sliding window is shorter than the prompts, the whole path)."""
    from latent.claims.experiments import reasoning as R

    qs = ["Which insect makes honey?", "What is the capital of France?", "Who rules a hive?"]
    bodies = [None, " It makes honey in a hive, so", " Paris."]
    prompts = [R.prompt(lm, q, b) for q, b in zip(qs, bodies)]
    heads = R.Heads(lm, [R.chat(lm, q + R.ASK, "") for q in qs])
    shared = heads.prefill(lm, [hidden.encode(lm, p)[0] for p in prompts])
    window = getattr(lm.model.config, "sliding_window", None)
    assert (shared is None) == bool(window and window < 40)
    (lp, lpw), outs = R.score(lm, prompts, ["bee", "Paris", "queen"], ["ant", "Rome", "king"], heads=heads)
    (lp0, lpw0), outs0 = R.score(lm, prompts, ["bee", "Paris", "queen"], ["ant", "Rome", "king"])
    assert abs(lp - lp0).max() < 1e-4 and abs(lpw - lpw0).max() < 1e-4 and outs == outs0
