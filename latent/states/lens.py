"""The logit lens of one text, kept: the Hidden states page, a recipe and ``python -m latent lens``
read one table (the lens itself is :mod:`latent.core.lens`).

Example::

    >>> t = kept_lens(lm, "The queen of the hive", k=3)     # doctest: +SKIP
    >>> lens_tokens(t)                                      # doctest: +SKIP
    ['The', ' queen', ' of', ' the', ' hive']
"""
from __future__ import annotations

import pandas as pd

from latent.core.hidden import hidden_states
from latent.core.lens import lens_table
from latent.core.store import memo, store


def kept_lens(lm, text: str, k: int = 3) -> pd.DataFrame:
    """:func:`latent.core.lens.lens_table` of ``text`` (the LM head on every layer: ~1 s on SmolLM2 for a
    sentence), computed once per process and kept in the result store. Callers do not change the table."""
    k = int(k)
    return memo("lens", (text, k, lm.key), lambda: store().cached(
        "tokens.lens", {"text": text, "k": k}, lm, lambda: lens_table(lm, hidden_states(lm, [text])[0], k=k)))


def lens_tokens(table: pd.DataFrame) -> list[str]:
    """The text's input tokens, in order, from its lens table (none from an empty one: ``k = 0``)."""
    if table.empty:
        return []
    return table.drop_duplicates("position").sort_values("position")["token"].tolist()
