"""Run a model from a middle layer: its upper blocks, final norm and LM head on a given residual stream.

A steering vector added at layer ``L`` changes nothing at or below ``L`` (the hooks add it to block
``L``'s output). So scoring a steered text under the *unsteered* model can start from the raw layer-``L``
residual the steered decode already computed (kept by a plan's ``keep_raw``), and run only blocks
``L+1 … N``. :func:`run_from` does that for every family in :mod:`latent.core.arch`: block 1's call
inputs (masks, rotary tables) are taken from the model itself, cheaply (the forward stops before
block 1 runs), and :func:`latent.core.arch.block_inputs` gives each upper block its own.

Example::

    >>> logits = run_from(lm, 10, resid10, mask, pos, keep=4)   # doctest: +SKIP
    >>> logits.shape                                          # (rows, 4, vocab)  # doctest: +SKIP
"""
from __future__ import annotations

import torch

from latent.core import arch
from latent.core.hooks import Plan, StopForward, use


def run_from(lm, layer: int, hidden: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor,
             keep: int) -> torch.Tensor:
    """Logits (float32, soft-capped where the family does) of the last ``keep`` columns, computed from
    the layer-``layer`` residual ``hidden (B, T, d)`` by blocks ``layer+1 …`` with no steering.
    ``mask (B, T)`` is the padding mask and ``pos (B, T)`` the position ids of the same batch."""
    model = lm.model
    n = arch.n_layers(model)
    if not 0 <= layer <= n:
        raise ValueError(f"Layer {layer} is out of range 0-{n}.")
    dev = model.device
    hidden, mask, pos = hidden.to(dev), mask.to(dev), pos.to(dev)
    with torch.inference_mode():
        h = hidden.to(model.dtype)
        if layer < n:
            per_block = block_call_inputs(lm, h, mask, pos)
            with use(Plan()):                  # no edits, whatever the caller's context holds
                h = run_blocks(lm, layer, h, per_block)
        return head(lm, h[:, -keep:])


def block_call_inputs(lm, hidden: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor,
                      cache=None) -> list[tuple[tuple, dict]]:
    """Every block's call inputs (masks, rotary tables, and ``cache`` to fill, if given) for a batch of
    ``mask``/``pos`` (B, T) with nothing cached yet, taken from the model itself: a forward on zero token
    ids that stops before block 1 runs (the token ids do not enter these inputs)."""
    model = lm.model
    plan = Plan(inputs_of=1)
    ids = torch.zeros(mask.shape, dtype=torch.long, device=mask.device)
    with use(plan):
        try:
            arch.base_model(model)(input_ids=ids, attention_mask=mask, position_ids=pos,
                                   past_key_values=cache, use_cache=cache is not None)
        except StopForward:
            pass
    args, kwargs = plan.inputs
    return arch.block_inputs(model, args, kwargs, hidden, mask, pos)


def run_blocks(lm, layer: int, hidden: torch.Tensor, per_block: list[tuple[tuple, dict]]) -> torch.Tensor:
    """Blocks ``layer+1 … N`` on the layer-``layer`` residual, under whatever hook plan is active."""
    blocks = arch.blocks(lm.model)
    h = hidden
    for i in range(layer, len(blocks)):
        a, kw = per_block[i]
        out = blocks[i](h, *a[1:], **kw)
        h = out[0] if isinstance(out, tuple) else out
    return h


def head(lm, hidden: torch.Tensor) -> torch.Tensor:
    """The model's output: final norm, LM head and (where the family has it) logit soft-capping, float32."""
    model = lm.model
    logits = model.get_output_embeddings()(arch.final_norm(model)(hidden)).float()
    cap = arch.logit_softcap(model)
    return cap * torch.tanh(logits / cap) if cap else logits
