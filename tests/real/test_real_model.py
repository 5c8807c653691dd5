"""Tests on the embedded SmolLM2-135M-Instruct, Gemma 3 270M and all-MiniLM-L6-v2."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from latent.core import models
from latent.core.hidden import hidden_states


def test_model_card(real_lm):
    card = real_lm.card()
    assert (card["n_layers"], card["d_model"]) == (30, 576)
    assert 134e6 < card["parameters"] < 135e6
    assert card["dtype"] == "float32"  # auto is fp32 on CPU: numbers don't depend on the machine
    assert card["weights"] == "Q4_1 GGUF dequantised to fp32" and card["family"] == "llama"


def test_first_words_are_massive_at_smollm2s_middle_layers(real_lm):
    """The audit's case (docs/models.md, "Massive tokens"): a text's first word ("Hello", "Water") carries
    5-10x its layer's median norm at layers 3-9 and is flagged; an ordinary word of the same text is not,
    nor is the first word at layer 1 or 12."""
    from latent.core.massive import massive_mask, massive_rule

    rule = massive_rule(real_lm)
    for ts in hidden_states(real_lm, ["Hello, how are you today?", "Water boils at a hundred degrees."],
                            layers=[1, 3, 6, 12]):
        m = massive_mask(ts.states, ts.layers, rule)                  # (layers, tokens)
        assert m[1, 0] and m[2, 0], ts.tokens                         # the first word at layers 3 and 6
        assert not m[[0, 3], 0].any()                                 # not at layers 1 and 12
        assert ts.tokens[-1] in ("?", ".") and not m[:, -1].any()     # an ordinary token: never
        ratio = np.linalg.norm(ts.states[2, 0]) / rule.layer_median[6]
        assert 5 < ratio < 12


def test_hidden_states_shape_and_no_sink(real_lm):
    ts = hidden_states(real_lm, ["The queen of the hive"])[0]
    assert ts.states.shape == (31, 5, 576)
    assert ts.tokens == ["The", " queen", " of", " the", " hive"]
    # the prepended start token absorbs the attention sink; kept tokens have ordinary norms
    assert np.linalg.norm(ts.states[12], axis=-1).max() < 2000


def test_greedy_generation_is_deterministic(real_lm):
    ids = real_lm.tokenizer("The capital of France is", return_tensors="pt").input_ids
    outs = [real_lm.model.generate(ids, max_new_tokens=12, do_sample=False) for _ in range(2)]
    assert torch.equal(outs[0], outs[1])


def test_unknown_model_gets_clear_error():
    with pytest.raises(models.ModelError, match="Cannot load model 'no-such/model-xyz'"):
        models.load_lm("no-such/model-xyz")


def test_bad_device_and_dtype():
    with pytest.raises(models.ModelError, match="Unknown device"):
        models.load_lm(device="tpu")
    with pytest.raises(models.ModelError, match="Unknown dtype"):
        models.load_lm(dtype="int3")


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    """A cache whose weights are garbage is detected, removed and rebuilt from the GGUF."""
    src = models._gguf_cache(models.embedded_gguf())
    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))
    dst = models._gguf_cache(models.embedded_gguf())
    shutil.copytree(src, dst)
    (dst / "model.safetensors").write_bytes(b"garbage")
    lm = models.load_lm()
    assert lm.n_layers == 30
    assert (dst / "model.safetensors").stat().st_size > 100_000_000
    assert not list(tmp_path.glob(".tmp-*"))  # no half-written temp dir left behind
    # the rebuild (one GGUF parse shared by the tokenizer, config and weights) equals the cache it replaced
    from safetensors.numpy import load_file

    old, new = load_file(src / "model.safetensors"), load_file(dst / "model.safetensors")
    assert sorted(old) == sorted(new) and all(np.array_equal(old[k], new[k]) for k in old)
    assert (src / "tokenizer.json").read_bytes() == (dst / "tokenizer.json").read_bytes()


def test_encoder_embeds(encoder):
    v = encoder.encode(["a bee in a hive", "honey bees", "the stock market"], normalize_embeddings=True)
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "latent", *args], capture_output=True, text=True, timeout=300)


def test_cli_info_json():
    r = run_cli("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["model"] == "SmolLM2-135M-Instruct" and info["n_layers"] == 30 and info["d_model"] == 576
    assert set(info) == {"model", "family", "n_layers", "d_model", "device", "dtype", "weights", "licence",
                         "load_seconds", "backend", "workers", "per_worker"}
    assert info["backend"] == "inprocess" and info["workers"] == 1          # the default: no cluster
    assert info["per_worker"][0]["device"] == "cpu" and len(info["per_worker"][0]["fingerprint"]) == 16


def test_cli_info_gemma_json(gemma_lm, monkeypatch, capsys):
    """Gemma's card through ``main(argv)`` on the session's Gemma (the fresh-process entry point is
    test_cli_info_json's; a fresh process here only loaded Gemma a second time)."""
    import latent.cli as cli

    monkeypatch.setattr(cli, "_lm", lambda a: gemma_lm)
    assert cli.main(["info", "--model", "gemma-3-270m", "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (info["model"], info["family"], info["n_layers"], info["d_model"]) == ("gemma-3-270m", "gemma3", 18, 640)
    assert info["weights"] == "Q4_K_M GGUF dequantised to fp32" and info["licence"] == "Gemma Terms of Use"


def test_gemma_card_tokens_and_continuation(gemma_lm):
    from latent.core.generate import generate

    assert (gemma_lm.n_layers, gemma_lm.d_model, gemma_lm.family.name) == (18, 640, "gemma3")
    assert 260e6 < gemma_lm.n_params < 275e6
    ts = hidden_states(gemma_lm, ["The queen of the hive"])[0]
    assert ts.states.shape == (19, 5, 640) and ts.tokens == ["The", " queen", " of", " the", " hive"]
    assert generate(gemma_lm, ["The queen bee lives in the"], max_new_tokens=2).texts[0].startswith(" hive")


def test_gemma_hidden_states_and_lens_match_hf(gemma_lm):
    from latent.core.hidden import encode
    from latent.core.lens import lens_logits

    text = "Honey bees serve their queen"
    ids = torch.tensor([encode(gemma_lm, text)[0]])
    with torch.no_grad():
        out = gemma_lm.model(ids, output_hidden_states=True)
    ts = hidden_states(gemma_lm, [text])[0]
    for layer in (0, 6, 17):
        np.testing.assert_allclose(ts.at(layer), out.hidden_states[layer][0, 1:].numpy(), rtol=1e-4, atol=1e-2)
    torch.testing.assert_close(lens_logits(gemma_lm, ts.at(18)), out.logits[0, 1:].float(), atol=2e-3, rtol=1e-4)


# the CLI's code is the same for every model: Gemma's half runs in `make test-all` (Gemma's own hidden states,
# lens, senses and talking are checked on the real Gemma in CI by the tests above and in test_senses_real.py)
@pytest.mark.parametrize("model", ["SmolLM2-135M-Instruct", pytest.param("gemma-3-270m", marks=pytest.mark.full)])
@pytest.mark.parametrize("args", [
    ["lens", "--text", "The queen", "--k", "2", "--json"],
    ["states", "--text", "The queen", "--text", "A bee", "--method", "pca", "--json"],
    ["senses", "--word", "queen", "--context", "queen", "--context", "honey hive queen"],
    ["walk", "--prompt", "I think", "--toward", "Love", "--away", "Hate", "--strengths=-0.2,0,0.2", "--tokens", "4"],
    ["claims", "reuse", "--param", "questions=1", "--param", "lengths=16,32", "--seed", "2", "--json"],
    ["dialogues", "--out", "{tmp}/map.csv", "--method", "pca"],
])
def test_every_cli_command_on_both_models(model, args, tmp_path, monkeypatch, capsys, real_lm, gemma_lm, encoder):
    """In-process (``main(argv)``) with the session's loaded models, so the matrix does not reload a model
    12 times; the fresh-process entry point is tested by the info and error tests around it."""
    import latent.cli as cli

    monkeypatch.setattr(cli, "_lm", lambda a: {"SmolLM2-135M-Instruct": real_lm, "gemma-3-270m": gemma_lm}[a.model])
    monkeypatch.setattr(cli, "load_encoder", lambda *a, **k: encoder)
    rc = cli.main([*[a.replace("{tmp}", str(tmp_path)) for a in args], "--model", model])
    out_text, err = capsys.readouterr()
    assert rc == 0, err
    if args[0] == "dialogues":
        import pandas as pd
        assert len(pd.read_csv(tmp_path / "map.csv")) == 112  # one row per turn
    else:
        out = json.loads(out_text.strip().splitlines()[-1])
        if args[0] == "claims":       # the CLI contract
            assert {"name", "claim", "tested", "not_tested", "verdict", "effect", "ci", "null", "n", "model", "dtype",
                    "seed"} <= set(out)
            assert out["effect"] == 0 and out["seed"] == 2 and out["dtype"] == "float32" and out["model"] == model
        if args[0] == "walk":        # every meter with its interval and the random directions' band
            for r in out["results"]:
                for m in ("typicality", "distinct2", "kl"):
                    assert set(r[m]) == {"value", "ci", "random_band"} and len(r[m]["random_band"]) == 2
            zero = next(r for r in out["results"] if r["strength"] == 0)
            assert zero["kl"]["random_band"] == [0.0, 0.0]
            m = out["massive"]                                        # "Love", "Hate": mean-pooled, massive tokens out
            assert m["kept"] is False and m["tokens"] >= 2 and 0 <= m["left_out"] < m["tokens"] and m["multiple"] == 4
        if args[0] == "states":       # the CLI contract: per point massive, and the rule
            assert set(out["massive_rule"]) == {"multiple", "layer_median"}
            assert len(out["massive_rule"]["layer_median"]) == len({p["layer"] for p in out["points"]})
            assert all(isinstance(p["massive"], bool) for p in out["points"])


@pytest.mark.parametrize("args,msg,fresh", [
    (["info", "--model", "no-such/model"], "Cannot load model", True),
    (["dialogues", "--out", "x.xyz", "--method", "pca"], "Unknown output type", False),
    (["dialogues", "--out", "x.csv", "--layer", "99"], "out of range", False),
    (["replay", "/nonexistent.json", "--out", "x.csv"], "Cannot read recipe", False),
])
def test_cli_errors_are_one_line(args, msg, fresh, monkeypatch, capsys, request):
    """One line on stderr and a non-zero exit: the first in a fresh ``python -m latent`` process (the entry
    point's own exit code and stream), the others through ``main(argv)`` on the session's model (the same
    code below the entry point, without a process and a model load each)."""
    if fresh:
        r = run_cli(*args)
        rc, err = r.returncode, r.stderr
    else:
        import latent.cli as cli

        monkeypatch.setattr(cli, "_lm", lambda a: request.getfixturevalue("real_lm"))
        rc, err = cli.main(list(args)), capsys.readouterr().err
    assert rc != 0
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and msg in lines[0], err
    assert "Traceback" not in err
