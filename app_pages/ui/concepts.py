"""Concepts beside a page (Hidden states, Dialogues, Senses): the session model's concept dictionary, when one
exists, and a list of its features, each a link to its page on the Concepts page (``?feature=N``). The library
computes the lists (``latent.concepts.beside``); this only draws them."""
from __future__ import annotations

import streamlit as st

from app_pages.site import page
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.text import plain_md
from latent.recipes import make_recipe

CONCEPTS = page("Concepts")


def folder_for(model_name: str) -> str:
    """The dictionary folder the Concepts page reads for this model: its box if typed, else the shipped one
    (``$LATENT_CONCEPTS_DIR`` or ``assets/concepts``); "" when there is none."""
    from latent.concepts.features import shipped_folder  # noqa: PLC0415 - torch: only where a page shows concepts

    typed = str(st.session_state.get("co_folder") or "").strip()
    shipped = shipped_folder(model_name)
    return typed or (str(shipped) if shipped else "")


def dictionary(lm, where=st):
    """``(sae, folder)`` for ``lm``, or None after one quiet caption (no dictionary, or one that does not fit)."""
    from latent.concepts.features import kept_dictionary  # noqa: PLC0415 - torch: only where a page shows concepts
    from latent.concepts.sae import DictionaryError  # noqa: PLC0415 - as above

    folder = folder_for(lm.name)
    if not folder:
        where.caption(f"No concept dictionary for {lm.name} yet, so no concepts beside this view (the Concepts page "
                      "says how to build one).")
        return None
    try:
        return kept_dictionary(lm, folder), folder
    except DictionaryError as e:
        where.caption("Concepts: " + plain_md(str(e).splitlines()[0]))
        return None


def links(tf, where=st, *, per_row: int = 4) -> None:
    """Each feature of ``tf`` (:class:`latent.concepts.beside.TopFeatures`) as a link to its Concepts page; the
    label is the feature number and its value (numbers only: no user text in a link)."""
    if tf.note:
        where.caption(plain_md(tf.note))
    if not tf.features:
        return
    cols = where.columns(min(per_row, len(tf.features)))
    for i, (f, v, _) in enumerate(tf.features):
        cols[i % len(cols)].page_link(CONCEPTS.file, label=f"feature {int(f)} · {v:.3g}", query_params={"feature": str(int(f))})


def figure(found, title: str, recipe: dict, *, key: str, stem: str, caption: str, lang: str = "en", where=st) -> None:
    """The features as bars (one chart), with its caption and export buttons (PNG … CSV, the recipe)."""
    from latent.concepts.figures import features_figure  # noqa: PLC0415 - as in dictionary()

    fig = features_figure(found, title, lang=lang)
    table = found.table() if hasattr(found, "table") else None
    if table is None:
        from latent.concepts.beside import senses_table  # noqa: PLC0415 - only the Senses page's lists need it

        table = senses_table(found)
    chart(fig, where=where, key=key, caption=caption)
    if where is st:
        export_buttons(fig, table, recipe, key=f"{key}_x", stem=stem)
    else:
        with where:
            export_buttons(fig, table, recipe, key=f"{key}_x", stem=stem)


def recipe(lm, folder: str, figure: str, lang: str, **params) -> dict:
    """The ``concepts`` recipe of a list beside a view (replays the same list and figure)."""
    return make_recipe("concepts", {"folder": folder, "figure": figure, "lang": lang, **params}, model=lm.name)
