"""The concept dictionary (latent/concepts): the TopK SAE recovers known directions, massive states are left out
and passed through, the card's arithmetic, the random control, the SAELens / Gemma Scope formats, bad folders,
and the pipeline end to end through the CLI on the tiny model."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import latent.cli as cli
from latent.concepts import io
from latent.concepts.card import loss_recovered, reconstruction_figures, splice_losses
from latent.concepts.sae import SAE, DictionaryError, random_like, splice_edit, train
from latent.core.hidden import encode, pad_batch
from latent.core.hooks import Plan, use
from latent.core.massive import MassiveRule, massive_rule


def sparse_data(n=4000, d=32, m=16, active=3, seed=0):
    """States made of ``active`` of ``m`` known unit directions each (sizes 1-3), plus an offset."""
    r = np.random.default_rng(seed)
    D = r.normal(size=(m, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    A = np.zeros((n, m))
    idx = np.argsort(r.random((n, m)), 1)[:, :active]
    np.put_along_axis(A, idx, r.uniform(1, 3, (n, active)), 1)
    return (A @ D + 0.5).astype(np.float32), D


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small matrices train faster on one thread (and the machine's other cores stay free)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def synthetic():
    X, D = sparse_data()
    run = train(X[:3000], d_sae=64, k=3, steps=400, batch=256, seed=0)
    return X, D, run


def test_the_sae_recovers_known_sparse_directions(synthetic):
    X, D, run = synthetic
    W = run.sae.W_dec.numpy()
    assert np.allclose(np.linalg.norm(W, axis=1), 1, atol=1e-5)          # unit-norm decoder rows
    best = (D @ W.T).max(1)                                                 # each true direction's closest feature
    assert best.min() > 0.9, best.round(3)
    assert run.loss[-1][1] < 0.1 and run.kept == 3000 and run.left_out == 0
    a = run.sae.encode(X[:5])
    assert ((a > 0).sum(1) <= 3).all()                                      # TopK: at most k active
    top = run.sae.top_features(X[0], 2)
    assert len(top) == 2 and top[0][1] >= top[1][1] > 0
    assert len(run.sae.top_features(X[:4], 2)) == 4


def test_training_is_seeded_and_reports_progress():
    X, _ = sparse_data(n=600)
    seen = []
    a = train(X, 32, 3, steps=10, batch=64, seed=1, progress=lambda d, t: seen.append((d, t)))
    b = train(X, 32, 3, steps=10, batch=64, seed=1)
    assert seen[0] == (1, 10) and seen[-1] == (10, 10)
    assert torch.equal(a.sae.W_dec, b.sae.W_dec) and torch.equal(a.sae.W_enc, b.sae.W_enc)
    assert not torch.equal(a.sae.W_dec, train(X, 32, 3, steps=10, batch=64, seed=2).sae.W_dec)


def test_the_auxiliary_loss_trains_dead_features():
    """A feature that never fires gets no gradient from the reconstruction loss: without AuxK its decoder row stays at
    its random start; with AuxK (dead after one batch without firing) every row has been trained."""
    X, _ = sparse_data(n=2000)
    g = torch.Generator().manual_seed(0)
    start = torch.randn(128, 32, generator=g)
    start /= start.norm(dim=1, keepdim=True)                                 # train()'s seeded initial decoder
    untouched = [int(((train(X, 128, 3, steps=100, batch=128, seed=0, aux_alpha=alpha, dead_after=128).sae.W_dec - start)
                      .norm(dim=1) < 1e-6).sum()) for alpha in (0.0, 1 / 32)]
    assert untouched[0] >= 1 and untouched[1] == 0, untouched


def test_the_random_dictionary_is_a_control(synthetic):
    X, _, run = synthetic
    held = X[3000:]
    figs = {}
    for name, d in (("trained", run.sae), ("random", random_like(run.sae, seed=0))):
        a = d.encode(held)
        figs[name] = reconstruction_figures(held, d.decode(a).numpy(), a.numpy())
    assert figs["trained"]["fve"].value > 0.9
    assert figs["random"]["fve"].value < figs["trained"]["fve"].value - 0.3
    assert figs["trained"]["fve"].lo > figs["random"]["fve"].hi                  # apart beyond their intervals
    rnd = random_like(run.sae, seed=0)
    assert rnd.k == run.sae.k and torch.equal(rnd.b_dec, run.sae.b_dec) and torch.allclose(rnd.W_enc, rnd.W_dec.T)


# ------------------------------------------------------------------ massive states
def test_massive_states_are_left_out_of_training():
    X, _ = sparse_data(n=800)
    planted = np.vstack([X[:5], 500 * np.ones((1, 32), np.float32), X[5:]])    # one huge state, second row
    rule = MassiveRule(4.0, (float(np.median(np.linalg.norm(X, axis=1))),) * 3)
    with_it = train(planted, 32, 3, steps=20, batch=64, seed=0, layer=1, rule=rule)
    without = train(X, 32, 3, steps=20, batch=64, seed=0)
    assert (with_it.tokens, with_it.kept, with_it.left_out) == (801, 800, 1)
    assert torch.equal(with_it.sae.W_dec, without.sae.W_dec)               # trained on exactly the other states


def test_a_massive_state_passes_through_a_splice_unchanged(tiny_lm):
    layer = 2
    X, _ = sparse_data(n=300, d=tiny_lm.d_model)
    rule = massive_rule(tiny_lm)
    sae = train(X, 32, 3, steps=5, batch=64, seed=0).sae
    sae.layer, sae.rule = layer, rule
    huge = torch.full((tiny_lm.d_model,), 50 * float(rule.threshold(layer)) / np.sqrt(tiny_lm.d_model))

    def plant(h):
        h = h.clone()
        h[:, 3] = huge
        return h
    ids, mask = pad_batch(tiny_lm, [encode(tiny_lm, "honey queen bee")[0]])
    records = {}
    for name, edits in (("clean", [plant]), ("spliced", [plant, splice_edit(sae, start=1)])):
        plan = Plan(edits={layer: edits}, record={layer}, stop_after=layer)
        with torch.inference_mode(), use(plan), pytest.raises(Exception) as stop:
            tiny_lm.model.base_model(input_ids=ids, attention_mask=mask, use_cache=False)
        assert type(stop.value).__name__ == "StopForward"
        records[name] = plan.records[layer][0]
    clean, spliced = records["clean"], records["spliced"]
    assert torch.equal(spliced[3], huge) and torch.equal(spliced[0], clean[0])    # the massive state and the start token
    others = [i for i in range(1, len(clean)) if i != 3]
    assert not torch.allclose(spliced[others], clean[others])                     # every other state was replaced
    assert torch.allclose(spliced[others], sae(clean[others]), atol=1e-5)


def test_when_every_state_is_massive_the_splice_changes_nothing(tiny_lm):
    X, _ = sparse_data(n=300, d=tiny_lm.d_model)
    sae = train(X, 32, 3, steps=5, batch=64, seed=0).sae
    sae.layer, sae.rule = 2, MassiveRule(0.0, (1.0,) * (tiny_lm.n_layers + 1))        # every norm is over 0
    out = splice_losses(tiny_lm, {"trained": sae}, ["honey queen", "a bee in the hive"], 2, np.zeros(tiny_lm.d_model))
    assert np.allclose(out["trained"], out["clean"]) and np.allclose(out["kl_trained"], 0, atol=1e-6)
    assert np.allclose(out["zero"], out["clean"]) and list(out["n"]) == [11, 17]      # byte tokens; first has no predecessor
    ids = torch.tensor([encode(tiny_lm, "honey queen")[0]])
    with torch.inference_mode():
        lp = torch.log_softmax(tiny_lm.model(ids).logits[0, :-1].float(), -1)
    assert out["clean"][0] == pytest.approx(float(-lp.gather(-1, ids[0, 1:, None]).sum()), rel=1e-5)


# ------------------------------------------------------------------ the card's arithmetic
def test_the_card_arithmetic_on_a_hand_computed_case():
    X = np.array([[2, 0], [0, 2], [2, 2], [0, 0]], float)            # mean (1, 1): total variance 8
    Xhat = np.array([[2, 0], [0, 1], [2, 2], [1, 0]], float)         # squared errors 0 + 1 + 0 + 1 = 2
    acts = np.zeros((4, 5))
    acts[:, 0] = 1                                                    # f0 on every token
    acts[1, 1] = acts[3, 2] = 0.5                                     # f1, f2 once each; f3, f4 never
    f = reconstruction_figures(X, Xhat, acts, np.array([0, 0, 1, 1]))
    assert f["fve"].value == pytest.approx(1 - 2 / 8)
    assert f["l0"].value == pytest.approx((1 + 2 + 1 + 2) / 4) and f["l0"].n == 4
    assert f["dead"].value == pytest.approx(2 / 5) and f["dead"].n == 5
    assert f["dense"].value == pytest.approx(3 / 5)                   # all three fire on > 10 % of 4 tokens
    assert f["l0"].lo <= f["l0"].value <= f["l0"].hi and f["dead"].lo < 0.4 < f["dead"].hi
    acts = np.zeros((20, 3))
    acts[:3, 0] = acts[:2, 1] = 1                                      # 3/20 = 15 % is dense, 2/20 = 10 % is not
    g = reconstruction_figures(np.ones((20, 2)), np.ones((20, 2)), acts)
    assert g["dense"].value == pytest.approx(1 / 3) and g["dead"].value == pytest.approx(1 / 3)
    assert loss_recovered(2.0, 2.1, 6.0) == pytest.approx(0.975) and loss_recovered(2.0, 6.0, 6.0) == 0
    assert json.loads(json.dumps(f["fve"].to_json()))["n"] == 4


# ------------------------------------------------------------------ formats
def test_ours_to_saelens_layout_and_back(tmp_path, synthetic):
    sae = synthetic[2].sae
    sae.layer, sae.model_name, sae.rule = 2, "tiny-llama", MassiveRule(4.0, (1.0, 2.0, 3.0, 4.0))
    io.save(sae, tmp_path / "d", extra={"note": "x"})
    cfg = json.loads((tmp_path / "d" / "cfg.json").read_text())
    assert (cfg["architecture"], cfg["d_in"], cfg["d_sae"], cfg["k"], cfg["dtype"]) == ("topk", 32, 64, 3, "float32")
    assert cfg["metadata"]["hook_name"] == cfg["hook_name"] == "blocks.1.hook_resid_post"
    assert cfg["metadata"]["model_name"] == "tiny-llama" and cfg["metadata"]["hook_layer"] == 1
    assert cfg["apply_b_dec_to_input"] is True and cfg["normalize_activations"] == "none"
    with safe_open(str(tmp_path / "d" / "sae_weights.safetensors"), "pt") as f:
        assert set(f.keys()) == {"W_enc", "W_dec", "b_enc", "b_dec"}
        assert f.get_tensor("W_dec").dtype == torch.float16 and tuple(f.get_tensor("W_enc").shape) == (32, 64)
    back = io.load(tmp_path / "d", d_model=32, n_layers=3)
    for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
        assert torch.equal(getattr(back, name), getattr(sae, name).half().float())      # exact to fp16
    assert (back.layer, back.k, back.model_name, back.rule) == (2, 3, "tiny-llama", sae.rule)
    X = synthetic[0][:50]
    assert torch.allclose(back(X), sae(X), atol=2e-2)


def write_saelens(folder: Path, cfg: dict, tensors: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "cfg.json").write_text(json.dumps(cfg))
    save_file({k: torch.as_tensor(v, dtype=torch.float32).contiguous() for k, v in tensors.items()},
              str(folder / "sae_weights.safetensors"))
    return folder


def tiny_weights(d=4, m=6, seed=0):
    r = np.random.default_rng(seed)
    return {"W_enc": r.normal(size=(d, m)), "W_dec": r.normal(size=(m, d)), "b_enc": r.normal(size=m) * 0.1,
            "b_dec": r.normal(size=d) * 0.1}


def test_loading_relu_and_jumprelu_saelens_folders(tmp_path):
    w = tiny_weights()
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    relu = io.load(write_saelens(tmp_path / "relu", {"architecture": "standard", "d_in": 4, "d_sae": 6,
                                                     "hook_name": "blocks.2.hook_resid_post", "model_name": "m"}, w))
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    assert relu.architecture == "relu" and relu.layer == 3
    assert np.allclose(relu.encode(x).numpy(), np.maximum(pre, 0), atol=1e-5)
    thr = np.full(6, 0.3)
    jump = io.load(write_saelens(tmp_path / "jump", {"architecture": "jumprelu", "d_in": 4, "d_sae": 6, "apply_b_dec_to_input": False,
                                                     "metadata": {"hook_name": "blocks.0.hook_resid_pre", "sae_lens_version": "6.1.0"}},
                                 {**w, "threshold": thr}))
    pre = x @ w["W_enc"] + w["b_enc"]
    assert jump.architecture == "jumprelu" and jump.layer == 0
    assert np.allclose(jump.encode(x).numpy(), pre * (pre > 0.3), atol=1e-5)
    assert np.allclose(jump.decode(jump.encode(x)).numpy(), (pre * (pre > 0.3)) @ w["W_dec"] + w["b_dec"], atol=1e-4)
    pre6 = io.load(write_saelens(tmp_path / "old-topk", {"architecture": "standard", "activation_fn_str": "topk",
                                                         "activation_fn_kwargs": {"k": 2}, "d_in": 4, "d_sae": 6}, w))
    assert (pre6.architecture, pre6.k) == ("topk", 2) and ((pre6.encode(x) > 0).sum(1) <= 2).all()


def test_loading_a_gemma_scope_params_file(tmp_path):
    w = tiny_weights()
    folder = tmp_path / "layer_1_width_16k_l0_small"
    folder.mkdir()
    save_file({k.lower(): torch.as_tensor(v, dtype=torch.float32) for k, v in {**w, "threshold": np.full(6, 0.2)}.items()},
              str(folder / "params.safetensors"))
    (folder / "config.json").write_text(json.dumps({"width": 6}))
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    for path in (folder, folder / "params.safetensors"):
        sae = io.load(path, d_model=4)
        pre = x @ w["W_enc"] + w["b_enc"]                    # Gemma Scope: no b_dec subtracted on the way in
        assert (sae.architecture, sae.layer, sae.apply_b_dec_to_input) == ("jumprelu", 2, False)
        assert np.allclose(sae.encode(x).numpy(), pre * (pre > 0.2), atol=1e-5)
    assert io.load(folder, layer=5).layer == 5


@pytest.mark.parametrize("fault, words", [
    ("missing_weights", "lacks sae_weights.safetensors"), ("missing_cfg", "lacks cfg.json"), ("empty", "holds no dictionary"),
    ("truncated", "truncated or corrupt"), ("garbage", "truncated or corrupt"), ("wrong_d_model", "d_model is 8"),
    ("missing_tensor", "lacks the tensor(s) b_dec"), ("nan", "NaN or infinite"), ("bad_json", "Cannot read"),
    ("mismatch", "the files do not match"), ("bad_k", "needs k between 1 and d_sae")])
def test_a_bad_folder_gets_one_clear_sentence(tmp_path, fault, words):
    w = tiny_weights()
    cfg = {"architecture": "topk", "k": 2, "d_in": 4, "d_sae": 6}
    d = write_saelens(tmp_path / "d", cfg, w)
    weights = d / "sae_weights.safetensors"
    if fault == "missing_weights":
        weights.unlink()
    elif fault == "missing_cfg":
        (d / "cfg.json").unlink()
    elif fault == "empty":
        weights.unlink()
        (d / "cfg.json").unlink()
    elif fault == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif fault == "garbage":
        weights.write_bytes(b"\x00\x01not a safetensors file")
    elif fault == "missing_tensor":
        save_file({k: torch.as_tensor(v, dtype=torch.float32) for k, v in w.items() if k != "b_dec"}, str(weights))
    elif fault == "nan":
        save_file({k: torch.full(np.shape(v), float("nan")) for k, v in w.items()}, str(weights))
    elif fault == "bad_json":
        (d / "cfg.json").write_text("{not json")
    elif fault == "mismatch":
        (d / "cfg.json").write_text(json.dumps({**cfg, "d_sae": 7}))
    elif fault == "bad_k":
        (d / "cfg.json").write_text(json.dumps({**cfg, "k": 60}))
    with pytest.raises(DictionaryError) as e:
        io.load(d, d_model=8 if fault == "wrong_d_model" else 4)
    msg = str(e.value)
    assert words in msg and "\n" not in msg and msg.endswith("."), msg


def test_the_cli_says_a_bad_folder_in_one_line(tmp_path, capsys):
    assert cli.main(["concepts", "card", "--dir", str(tmp_path / "nowhere"), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No dictionary folder at") and err.count("\n") == 1


def test_an_sae_refuses_what_does_not_fit():
    w = tiny_weights()
    with pytest.raises(DictionaryError, match="Unknown dictionary architecture"):
        SAE(**w, architecture="gated")
    with pytest.raises(DictionaryError, match="threshold"):
        SAE(**w, architecture="jumprelu")
    with pytest.raises(DictionaryError, match="W_dec has shape"):
        SAE(w["W_enc"], w["W_dec"].T, w["b_enc"], w["b_dec"], k=2)
    with pytest.raises(DictionaryError, match="does not fit this dictionary"):
        SAE(**w, k=2).top_features(np.zeros(5))


# ------------------------------------------------------------------ end to end
def test_the_pipeline_end_to_end_through_the_cli(tiny_lm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(f"The queen {i} of the hive makes honey, and the bees make wax." for i in range(20)) + "\n\n")
    out = tmp_path / "dict"
    argv = ["concepts", "build", "--texts", str(texts), "--out", str(out), "--layer", "2",
            "--d-sae", "64", "--k", "4", "--steps", "30", "--batch", "128"]
    assert cli.main(argv) == 0
    io_ = capsys.readouterr()
    assert "train" in io_.err and "ETA" in io_.err and "100.0%" in io_.err
    built = json.loads(io_.out.strip().splitlines()[-1])
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "cfg.json", "heldout.txt", "sae_weights.safetensors"]
    assert built["train"]["steps"] == 30 and built["train_texts"] == 18 and built["layer"] == 2
    assert len((out / "heldout.txt").read_text().splitlines()) == 2
    card = built["card"]
    for side in ("trained", "random"):
        for k in ("l0", "fve", "loss_recovered_zero", "loss_recovered_mean", "kl", "dead", "dense"):
            f = card[side][k]
            assert f["n"] > 0 and len(f["ci"]) == 2 and f["value"] is not None, (side, k, f)
    assert card["trained"]["l0"]["value"] <= 4 and card["random"]["l0"]["value"] <= 4
    assert card["massive"]["tokens"] == card["heldout"]["tokens"] and "left_out" in card["massive"]
    sae = io.load(out, d_model=tiny_lm.d_model, n_layers=tiny_lm.n_layers)
    assert (sae.layer, sae.d_sae, sae.k, sae.model_name) == (2, 64, 4, "tiny-llama") and sae.rule is not None

    assert cli.main(["concepts", "card", "--dir", str(out), "--json"]) == 0          # the card its build wrote
    assert json.loads(capsys.readouterr().out) == json.loads((out / "card.json").read_text())
    assert cli.main(["concepts", "card", "--dir", str(out), "--model", "tiny", "--json"]) == 0   # recomputed: the same
    again = json.loads(capsys.readouterr().out)
    for k in ("fve", "l0", "loss_recovered_zero", "kl", "dead"):
        assert again["trained"][k]["value"] == pytest.approx(card["trained"][k]["value"], abs=1e-6), k
    assert cli.main(["concepts", "card", "--dir", str(out), "--model", "tiny"]) == 0
    assert "fve" in capsys.readouterr().out

    limited = tmp_path / "limited"
    assert cli.main([*argv[:4], "--out", str(limited), *argv[6:], "--splice-tokens", "60"]) == 0
    lim = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["card"]
    assert lim["heldout"]["splice"]["limit"] == 60 and lim["heldout"]["splice"]["tokens"] <= 60
    assert lim["trained"]["kl"]["n"] == lim["heldout"]["splice"]["tokens"] < card["trained"]["kl"]["n"]
    assert lim["trained"]["fve"]["n"] == card["trained"]["fve"]["n"]               # reconstruction figures: every held-out token
    assert cli.main(["concepts", "card", "--dir", str(limited), "--model", "tiny", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["heldout"]["splice"] == lim["heldout"]["splice"]

    assert cli.main([*argv[:-8], "--layer", "9"]) == 2
    assert "Layer 9 is out of range" in capsys.readouterr().err


def test_the_hand_written_gradients_are_autograds_through_the_dense_form():
    """train() writes each step's gradients by hand, through the active features only; they must equal autograd's
    through the dense TopK form (the reconstruction loss and the AuxK loss on the dead features)."""
    from latent.concepts.sae import _step_grads  # noqa: PLC0415 - a private helper, checked here

    X, _ = sparse_data(n=64, d=16, m=8)
    x = torch.from_numpy(X)
    g = torch.Generator().manual_seed(3)
    W = torch.randn(40, 16, generator=g)
    W /= W.norm(dim=1, keepdim=True)
    sae = SAE(W.T.clone() * 0.7, W, torch.randn(40, generator=g) * 0.1, x.mean(0) + 0.05, k=4)
    var = ((x - x.mean(0)) ** 2).sum(1).mean()
    since = torch.tensor([0] * 30 + [1000] * 10)                   # the last ten features: dead unless they fire now
    with torch.no_grad():
        err, fired = _step_grads(sae, x, 4, var, since, 1000, 6, 0.5)
    hand = {n: getattr(sae, n).grad.clone() for n in ("W_enc", "W_dec", "b_enc", "b_dec")}

    for p in (sae.W_enc, sae.W_dec, sae.b_enc, sae.b_dec):
        p.grad = None
        p.requires_grad_(True)
    pre = sae.pre_acts(x)
    a = sae.activate(pre)
    e = x - (a @ sae.W_dec + sae.b_dec)
    loss = (e ** 2).sum(1).mean() / var
    dead = ~(a > 0).any(0) & (since + len(x) >= 1000)
    assert dead.sum() > 0 and torch.equal(fired, (a > 0).any(0))
    masked = torch.where(dead[None], pre, torch.full_like(pre, -float("inf")))
    top = torch.topk(masked, min(6, int(dead.sum())), dim=-1)
    za = torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values))
    loss = loss + 0.5 * ((e.detach() - za @ sae.W_dec) ** 2).sum(1).mean() / var
    loss.backward()
    assert torch.allclose(err, e.detach(), atol=1e-5)
    for n, h in hand.items():
        assert torch.allclose(h, getattr(sae, n).grad, atol=1e-5, rtol=1e-4), n


def test_the_splice_share_is_a_seeded_sample_of_whole_texts_under_the_limit(tiny_lm):
    from latent.concepts.card import splice_share  # noqa: PLC0415 - checked here only
    from latent.concepts.collect import collect  # noqa: PLC0415 - checked here only

    texts = [f"Text number {i} " + "and more words " * (i % 5) for i in range(30)]
    st = collect(tiny_lm, texts, 2)
    n = np.bincount(st.text_index, minlength=30)
    assert splice_share(st, None) == list(range(30)) and splice_share(st, 10 ** 9) == list(range(30))
    share = splice_share(st, int(n.sum()) // 3, seed=0)
    assert n[share].sum() <= n.sum() // 3 and len(share) >= 5 and share == sorted(share)
    assert share == splice_share(st, int(n.sum()) // 3, seed=0) != splice_share(st, int(n.sum()) // 3, seed=1)


def test_the_learning_rate_decays_linearly_over_the_last_share_of_the_steps(monkeypatch):
    X, _ = sparse_data(n=600)
    seen = []
    step = torch.optim.Adam.step

    def record(self, *a, **kw):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", record)
    run = train(X, 32, 3, steps=10, batch=64, lr=1e-3, seed=1, lr_decay=0.4)
    assert seen[:6] == [1e-3] * 6 and seen[6:] == pytest.approx([1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    assert run.to_json()["lr_decay"] == 0.4
    seen.clear()
    const = train(X, 32, 3, steps=10, batch=64, lr=1e-3, seed=1)
    assert seen == [1e-3] * 10 and not torch.equal(const.sae.W_dec, run.sae.W_dec)
