"""Steering: add a :class:`Direction` to the residual stream while the model generates.

``with steering(lm, direction, strength):`` goes through the permanent per-layer hooks
(:mod:`latent.core.hooks`): nothing is registered per request, so concurrent sessions never see each
other's steering, and an exception inside the block leaves the model unsteered.

**Strength is relative**: the added vector is ``strength × typical_norm(layer) × unit(direction)``,
where ``typical_norm`` is the median token norm at that layer over reference text. One scale then
works across layers and models; the absolute coefficient (``strength × typical_norm``) is reported.

Example::

    >>> d = Direction.from_texts(lm, LOVE, HATE, layer=6)                  # doctest: +SKIP
    >>> with steering(lm, d, 0.3):  # doctest: +SKIP
    ...     print(generate(lm, ["I think that you"]).texts[0])  # doctest: +SKIP
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from latent.core.decode import add_plan
from latent.core.direction import Direction, DirectionError
from latent.core.hooks import Plan, current, use
from latent.core.massive import typical_norms  # measured in core: the massive-token rule reads it too

MAX_STRENGTHS = 32


def coefficient(lm, direction: Direction, strength: float) -> float:
    """The absolute size of the added vector for a relative strength."""
    return float(strength) * float(typical_norms(lm)[direction.layer])


def _added(lm, direction: Direction, strengths) -> "torch.Tensor":
    direction.check(d_model=lm.d_model, n_layers=lm.n_layers)
    if direction.layer == 0:
        raise DirectionError("Steer at layer 1 or deeper (layer 0 is the token embedding).")
    # a zero vector (e.g. v - v) steers nowhere: it adds exactly nothing
    u = direction.unit() if direction.norm > 1e-8 else np.zeros_like(direction.vector)
    unit = torch.as_tensor(u, dtype=lm.model.dtype, device=lm.model.device)
    s = torch.as_tensor(np.atleast_1d(np.asarray(strengths, dtype=np.float32)), dtype=lm.model.dtype,
                        device=lm.model.device) * float(typical_norms(lm)[direction.layer])
    return s[:, None] * unit[None, :]  # (rows or 1, d)


def steering_plan(lm, direction: Direction, strengths, positions: str = "all") -> Plan:
    """A hook plan adding ``strength`` (one per batch row, or one for all) at ``direction.layer``."""
    return add_plan(lm, direction.layer, _added(lm, direction, strengths), positions)


@contextlib.contextmanager
def steering(lm, direction: Direction | None, strength=0.0, positions: str = "all"):
    """Add the direction while the block runs (this context only); ``None`` or 0 adds nothing."""
    if direction is None:
        yield
        return
    plan = steering_plan(lm, direction, strength, positions).merged(current())
    with use(plan):
        yield


def check_strengths(strengths) -> list[float]:
    s = [float(x) for x in strengths]
    if not s:
        raise DirectionError("Give at least one strength.")
    if len(s) > MAX_STRENGTHS:
        raise DirectionError(f"{len(s)} strengths is too many for one sweep; the limit is {MAX_STRENGTHS}.")
    if not all(np.isfinite(s)) or max(abs(x) for x in s) > 10:
        raise DirectionError("Strengths must be finite numbers between -10 and 10 (times the layer norm).")
    return s


def parse_strengths(text: str) -> list[float]:
    """'-0.4,-0.2,0,0.2,0.4' -> floats, validated.

    >>> parse_strengths("-0.2, 0, 0.2")
    [-0.2, 0.0, 0.2]
    """
    try:
        vals = [float(x) for x in str(text).replace(" ", "").split(",") if x]
    except ValueError:
        raise DirectionError(f"Cannot read strengths {text!r}: use numbers separated by commas.") from None
    return check_strengths(vals)
