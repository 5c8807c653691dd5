"""One permanent hook per layer, reading a ``ContextVar``: safe steering for a shared model.

Hooks are installed once, when the model loads (:func:`install_hooks`). Each reads the current
:class:`Plan` from a ``contextvars.ContextVar``; with no plan it returns at once and changes
nothing. A request that wants to edit or record the residual stream does ``with use(plan):``.
Streamlit runs every browser session in its own thread, so one session's plan is invisible to
every other. A worker thread must run under ``contextvars.copy_context().run``.

Layer ``i`` is the residual stream after decoder block ``i`` (``0`` = embedding output), raw,
before the final norm.

Example::

    >>> plan = Plan(record={3, 5}, stop_after=5)
    >>> run_plan(lambda: base_model(lm.model)(ids), plan)   # doctest: +SKIP
    >>> plan.records[5].shape  # (batch, tokens, d)  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

import torch

from latent.core import arch
from latent.core.arch import blocks

Edit = Callable[[torch.Tensor], torch.Tensor]  # (batch, tokens, d) -> same shape


@dataclass
class Plan:
    """What one request wants from the hooks."""

    edits: dict[int, list[Edit]] = field(default_factory=dict)       # resid layer -> edits
    record: set[int] = field(default_factory=set)                     # resid layers to keep
    stop_after: int | None = None                                     # raise StopForward after it
    mlp_edits: dict[int, list[Edit]] = field(default_factory=dict)    # block -> edits of MLP acts
    mlp_record: set[int] = field(default_factory=set)
    records: dict[int, torch.Tensor] = field(default_factory=dict)
    mlp_records: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    keep_raw: set[int] = field(default_factory=set)     # resid layers whose raw output (before this
    raw: dict[int, list[torch.Tensor]] = field(default_factory=dict)  # plan's edits) is kept, one chunk per call
    inputs_of: int | None = None                      # block (1-based): keep its call's inputs, then stop
    inputs: tuple | None = None                       # (args, kwargs) of that block's call

    def merged(self, other: "Plan | None") -> "Plan":
        """This plan plus ``other``'s edits (records and stop stay this plan's)."""
        if other is None:
            return self
        edits = {k: list(v) for k, v in other.edits.items()}
        for k, v in self.edits.items():
            edits.setdefault(k, []).extend(v)
        mlp = {k: list(v) for k, v in other.mlp_edits.items()}
        for k, v in self.mlp_edits.items():
            mlp.setdefault(k, []).extend(v)
        return Plan(edits, set(self.record), self.stop_after, mlp, set(self.mlp_record),
                    keep_raw=set(self.keep_raw), inputs_of=self.inputs_of)


class StopForward(Exception):
    """Raised by a hook once every recorded layer is done (skips the rest of the model)."""


_PLAN: ContextVar[Plan | None] = ContextVar("latent_hook_plan", default=None)


def current() -> Plan | None:
    return _PLAN.get()


@contextlib.contextmanager
def use(plan: Plan):
    """Make ``plan`` active in this context (thread); always restored, also on exceptions."""
    token = _PLAN.set(plan)
    try:
        yield plan
    finally:
        _PLAN.reset(token)


def decoder_layers(model) -> list:
    """The decoder blocks, from the family table (:mod:`latent.core.arch`)."""

    return blocks(model)


def _apply(layer: int, out):
    plan = _PLAN.get()
    if plan is None:
        return None
    hs = out[0] if isinstance(out, tuple) else out
    if layer in plan.keep_raw:          # what an unsteered model computes at this layer (see decode)
        plan.raw.setdefault(layer, []).append(hs.detach())
    edits = plan.edits.get(layer)
    if edits:
        for fn in edits:
            hs = fn(hs)
    if layer in plan.record:
        plan.records[layer] = hs.detach()
    if plan.stop_after is not None and layer >= plan.stop_after:
        raise StopForward()
    if edits:
        return (hs,) + tuple(out[1:]) if isinstance(out, tuple) else hs
    return None


def at_layer(layer: int, hidden: torch.Tensor) -> torch.Tensor:
    """What the layer-``layer`` hook does to ``hidden`` under the active plan (keep its raw copy, apply
    its edits, record it), for code that runs the blocks above a layer itself (a shared prefill)."""
    out = _apply(layer, hidden)
    return hidden if out is None else out


def _mlp_pre(block: int, module, args):
    plan = _PLAN.get()
    if plan is None:
        return None
    act = args[0]
    edits = plan.mlp_edits.get(block)
    if edits:
        for fn in edits:
            act = fn(act)
    if block in plan.mlp_record:
        plan.mlp_records.setdefault(block, []).append(act.detach())
    return (act,) + tuple(args[1:]) if edits else None


def _block_pre(block: int, args, kwargs):
    plan = _PLAN.get()
    if plan is None or plan.inputs_of != block:
        return None
    plan.inputs = (args, kwargs)
    raise StopForward()


def _contiguous(module, args):
    """The LM head's input as a contiguous tensor. transformers' ``logits_to_keep`` hands the head a view
    of the last columns (``h[:, -k:, :]``), and torch's CPU ``linear`` on a 3-D strided view runs 3-12×
    slower than on a copy (Gemma 3's 262k-row head, 1 thread: 18.8 s against 1.5 s for 256 rows' last
    column); the copy costs ``rows × k × d`` floats."""
    x = args[0] if args else None
    if isinstance(x, torch.Tensor) and x.dim() == 3 and not x.is_contiguous():
        return (x.contiguous(), *args[1:])
    return None


def install_hooks(model) -> None:
    """Install the permanent hooks once (idempotent): layer 0 on the family's residual-0 module,
    layer ``i`` on block ``i``, a pre-hook on each block's MLP output projection, and a pre-hook on
    each block that keeps the block's call inputs when a plan asks (:mod:`latent.core.upper`), and one on
    the LM head that hands it contiguous hidden states (:func:`_contiguous`)."""

    if getattr(model, "_latent_hooks", False):
        return
    out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if out is not None:
        out.register_forward_pre_hook(_contiguous)
    arch.resid0_module(model).register_forward_hook(lambda m, a, out: _apply(0, out))
    for i, block in enumerate(arch.blocks(model), start=1):
        block.register_forward_hook(lambda m, a, out, i=i: _apply(i, out))
        block.register_forward_pre_hook(lambda m, a, kw, i=i: _block_pre(i, a, kw), with_kwargs=True)
        arch.mlp_input_module(model, block).register_forward_pre_hook(lambda m, a, i=i: _mlp_pre(i, m, a))
    model._latent_hooks = True


def run_plan(fn: Callable[[], object], plan: Plan):
    """Run ``fn()`` (a forward pass) under ``plan`` merged with any active edits; return the plan.

    A :class:`StopForward` from the early-exit is swallowed.
    """
    full = plan.merged(current())
    with use(full):
        try:
            fn()
        except StopForward:
            pass
    plan.records, plan.mlp_records = full.records, full.mlp_records
    plan.raw, plan.inputs = full.raw, full.inputs
    return plan
