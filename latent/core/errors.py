"""One base error for everything the app can explain to a user.

Every error the library raises on purpose derives from :class:`LatentError`, whose message is
one sentence that says what to change. Pages catch ``LatentError`` and show it; the CLI prints it
as one line and exits 2. Anything else is a bug.

Example::

    >>> issubclass(InputError, LatentError), str(InputError("Empty text."))
    (True, 'Empty text.')
"""
from __future__ import annotations


class LatentError(ValueError):
    """Base of every error the app explains to the user."""


class InputError(LatentError):
    """Input the model cannot take (empty, too long, too many); the message says what to change."""


class ModelError(LatentError):
    """A model that cannot be found or loaded; the message names it and says what to try."""


def check_layer(layer, n_layers: int, *, allow_zero: bool = True, error: type = InputError) -> int:
    """One layer index, validated against a model's ``0..n_layers`` (raising ``error``).

    >>> check_layer(3, 30)
    3
    """
    try:
        layer = int(layer)
    except (TypeError, ValueError):
        raise error(f"Layer {layer!r} is not a whole number.") from None
    lo = 0 if allow_zero else 1
    if not lo <= layer <= n_layers:
        raise error(f"Layer {layer} is out of range: this model has layers {lo}-{n_layers}.")
    return layer
