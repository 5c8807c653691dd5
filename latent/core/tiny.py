"""Tiny random models of every family in the architecture table, built in memory from a config (no files).

Tests, benchmarks and a cluster's workers build the same model from the same ``(family, seed, n_layers)``:
the weights come from ``torch.manual_seed(seed)``, so two processes get equal weights (and an equal
weight fingerprint). The tokenizer is byte-level, one token per byte plus ``<s>`` and ``</s>``.

Example::

    >>> lm = make_tiny_lm(family="gpt2")                     # doctest: +SKIP
    >>> lm.name, lm.n_layers, lm.d_model                     # doctest: +SKIP
    ('tiny-gpt2', 3, 32)
"""
from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, GPTNeoXConfig, LlamaConfig, PreTrainedTokenizerFast

from latent.core import hooks
from latent.core.models import LM


def byte_tokenizer():
    """A byte-level tokenizer built in memory: one token per byte, plus <s> and </s>."""

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<s>": 0, "</s>": 1}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="</s>")


FAMILIES = ("llama", "gemma3", "gpt2", "gpt_neox")   # one tiny model per family of latent.core.arch


def tiny_config(family: str, vocab: int, n_layers: int = 3):
    """A tiny random config of each supported family (d_model 32), built in memory."""

    ids = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1)
    if family == "llama":
        return LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           tie_word_embeddings=False, **ids)
    if family == "gemma3":  # sliding-window layers with a window shorter than the test texts
        return Gemma3TextConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                                num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=6,
                                layer_types=["sliding_attention", "full_attention", "sliding_attention"][:n_layers],
                                max_position_embeddings=256, **ids)
    if family == "gpt2":
        return GPT2Config(vocab_size=vocab, n_embd=32, n_layer=n_layers, n_head=4, n_positions=256, **ids)
    if family == "gpt_neox":
        return GPTNeoXConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                             num_attention_heads=4, max_position_embeddings=256, rotary_pct=0.5, **ids)
    raise ValueError(family)


def make_tiny_lm(seed: int = 0, n_layers: int = 3, family: str = "llama"):
    """A tiny random model of ``family`` wrapped like a loaded model (hooks installed)."""


    tok = byte_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(family, len(tok), n_layers)).eval()
    model.requires_grad_(False)
    hooks.install_hooks(model)
    lm = LM(model, tok, f"tiny-{family}", "cpu", "float32", 0.0, "config")
    lm._derived["load_spec"] = {"kind": "tiny", "family": family, "seed": seed, "n_layers": n_layers}
    return lm
