"""The one table of model-family facts. Nothing else in the app knows how a family is laid out.

Each :class:`Family` names, as dotted paths from ``model.base_model`` (the decoder stack without
the LM head), where the blocks, the final norm and the layer-0 residual stream live, and, from a
block, the module whose *input* is the MLP's hidden activation. Layer ``i`` of the residual
stream is the output of block ``i``; layer 0 is the stream that enters block 1:

- Llama / SmolLM2: the token embedding.
- Gemma 3: the token embedding *scaled by* ``sqrt(d_model)`` (the embedding module does it).
- GPT-2: token + position embeddings (``wte + wpe``), i.e. the output of ``transformer.drop``.
- GPT-NeoX: the token embedding (rotary positions), the output of ``gpt_neox.emb_dropout``.

To add a family: one row in :data:`FAMILIES`, then its tiny config in :mod:`latent.core.tiny` (a branch
of ``tiny_config`` and its name in ``tiny.FAMILIES``); ``tests/unit/test_families.py`` then runs on it
(hidden states against HF, steering 0 = baseline, lens = logits, KV cache).

Example::

    >>> FAMILIES["gpt2"].blocks, FAMILIES["gpt2"].resid0
    ('h', 'drop')
"""
from __future__ import annotations

from dataclasses import dataclass

from latent.core.errors import ModelError


@dataclass(frozen=True)
class Family:
    """Where one family keeps its parts (dotted paths; see the module docstring)."""

    name: str
    model_types: tuple[str, ...]   # config.model_type values of this family
    blocks: str                    # from base_model: the ModuleList of decoder blocks
    final_norm: str                # from base_model
    resid0: str                    # from base_model: the module whose output is layer 0
    mlp_in: str                    # from a block: the module whose input is the MLP activation
    typed_layers: bool = False     # blocks take their mask and rotary table by config.layer_types


FAMILIES: dict[str, Family] = {
    "llama": Family("llama", ("llama",), "layers", "norm", "embed_tokens", "mlp.down_proj"),
    "gemma3": Family("gemma3", ("gemma3_text",), "layers", "norm", "embed_tokens", "mlp.down_proj",
                     typed_layers=True),
    "gpt2": Family("gpt2", ("gpt2",), "h", "ln_f", "drop", "mlp.c_proj"),
    "gpt_neox": Family("gpt_neox", ("gpt_neox",), "layers", "final_layer_norm", "emb_dropout",
                       "mlp.dense_4h_to_h"),
}


def _get(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def family_of(model) -> Family:
    """The family of a loaded ``*ForCausalLM``, from ``config.model_type``."""
    mt = getattr(model.config, "model_type", None)
    for fam in FAMILIES.values():
        if mt in fam.model_types:
            return fam
    known = ", ".join(t for f in FAMILIES.values() for t in f.model_types)
    raise ModelError(f"Unknown model family {mt!r}. Must be one of: {known}")


def base_model(model):
    """The decoder stack without the LM head (``model.model``, ``transformer``, ``gpt_neox``)."""
    return model.base_model


def blocks(model) -> list:
    return list(_get(base_model(model), family_of(model).blocks))


def final_norm(model):
    return _get(base_model(model), family_of(model).final_norm)


def resid0_module(model):
    return _get(base_model(model), family_of(model).resid0)


def mlp_input_module(model, block):
    """The module whose forward input is this block's MLP hidden activation."""
    return _get(block, family_of(model).mlp_in)


def block_inputs(model, args: tuple, kwargs: dict, hidden, mask, pos) -> list[tuple[tuple, dict]]:
    """Every block's call inputs for one sequence batch, from the inputs the model gave block 1.

    Most families give every block the same mask and rotary table. Gemma 3 gives each block those of
    its ``config.layer_types`` entry (sliding-window or full attention, each with its own rotary
    base); the other type's are built here the way the model builds them (``mask``: the (B, T)
    padding mask, ``pos``: the position ids, ``hidden``: any (B, T, d) tensor of the batch)."""
    n = n_layers(model)
    if not family_of(model).typed_layers:
        return [(args, kwargs)] * n
    base, cfg = base_model(model), model.config
    if getattr(cfg, "use_bidirectional_attention", False):
        raise ModelError("Bidirectional Gemma 3 layers cannot be run from a middle layer.")
    from transformers import masking_utils  # noqa: PLC0415 - it imports torch._dynamo (1 s): only for Gemma 3's masks

    make = {"full_attention": masking_utils.create_causal_mask,
            "sliding_attention": masking_utils.create_sliding_window_causal_mask}
    typed = {}
    for kind in set(cfg.layer_types):
        m = make[kind](config=cfg, inputs_embeds=hidden, attention_mask=mask, past_key_values=None,
                       position_ids=pos)
        typed[kind] = (args, {**kwargs, "attention_mask": m,
                              "position_embeddings": base.rotary_emb(hidden, pos, kind)})
    return [typed[cfg.layer_types[i]] for i in range(n)]


def n_layers(model) -> int:
    return len(blocks(model))


def logit_softcap(model) -> float | None:
    """Gemma-style final logit soft-capping (``cap * tanh(logits / cap)``), else ``None``."""
    cap = getattr(model.config, "final_logit_softcapping", None)
    return float(cap) if cap else None
