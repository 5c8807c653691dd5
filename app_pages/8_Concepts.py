"""Concepts: a dictionary of the model's own features (a sparse autoencoder), its quality card, and one page per
feature (``?feature=N``). The library computes (``latent.concepts.features``); this page only draws."""
import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.site import page as site_page
from app_pages.ui import models, widgets
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import plain_md
from latent.concepts.build import CARD, HELDOUT
from latent.concepts.card import kept_card
from latent.concepts.features import (
    MAX_TRY_CHARS,
    check_feature,
    kept_dictionary,
    kept_feature,
    probe_texts,
    read_text,
    shipped_folder,
    word_features,
)
from latent.concepts.figures import activation_table, card_table, density_figure, shaded
from latent.concepts.sae import DictionaryError
from latent.core.errors import InputError
from latent.recipes import make_recipe

st.caption("A sparse autoencoder rewrites one hidden state as a short list of active *features*, each a fixed direction "
           "with a size; it is learned from the model's own states at one layer. A feature is not a neuron and not a "
           "proven concept: its label below is a guess from its top tokens.")
lm = models.lm()
shipped = shipped_folder(lm.name)
folder_text = st.text_input("Dictionary folder (SAELens layout or Gemma Scope params.safetensors; empty: the one shipped "
                            "for this model)", key="co_folder", max_chars=500,
                            placeholder=str(shipped) if shipped else "a local folder with cfg.json and sae_weights.safetensors")
folder = folder_text.strip() or (str(shipped) if shipped else "")
if not folder:
    st.info(f"No dictionary ships for {lm.name} yet. Build one (collect, train and score it; minutes on a laptop) with "
            f"`python -m latent concepts build --model {lm.name} --out assets/concepts/{lm.name}`, or type the path of a "
            "dictionary folder above.")
    st.stop()
try:
    sae = kept_dictionary(lm, folder)
except DictionaryError as e:
    st.error(str(e).splitlines()[0])
    st.stop()
st.caption(f"Dictionary: {sae.architecture}, {sae.d_sae:,} features"
           + (f", k = {sae.k}" if sae.k else "") + f", layer {sae.layer} of {lm.n_layers}, from " + plain_md(folder))

# ------------------------------------------------------------------ the card
st.subheader("1 · Quality card: this dictionary beside a random one")
card = None
saved = Path(folder) / CARD
if saved.exists():
    try:
        card = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        card = None
    if card and card.get("dictionary", {}).get("fingerprint") != sae.fingerprint:
        card = None                           # the card of other weights: compute this one's
if card is None:
    held = Path(folder) / HELDOUT
    texts = [t for t in held.read_text(encoding="utf-8").splitlines() if t.strip()] if held.exists() else probe_texts()
    with st.spinner(f"Scoring the dictionary on {len(texts)} held-out texts (once per dictionary)…"):
        card = kept_card(lm, sae, texts).to_json()
st.dataframe(card_table(card), hide_index=True, key="co_card_table",
             column_config={"figure": st.column_config.TextColumn(width="medium")})
held = card.get("heldout", {})
st.caption(f"On {held.get('kept', 0):,} held-out tokens from {held.get('texts', 0)} texts the dictionary never trained on "
           f"({card.get('massive', {}).get('left_out', 0)} massive states left out). Means carry a 95 % bootstrap interval "
           "over texts; the dead and dense shares a Clopper-Pearson interval over features; n is tokens or features. "
           + ("" if held.get("enough_for_dead") else f"The dead share needs {held.get('dead_needs_tokens', 100_000):,} "
              "tokens to mean much; this is fewer. ")
           + "A dictionary's features are worth reading only where it clearly beats the random one on FVE and loss recovered.")
st.download_button("Save the card (JSON)", json.dumps(card, indent=1, ensure_ascii=False), "concepts-card.json",
                   key="do_co_card_json", on_click="ignore")

# ------------------------------------------------------------------ one feature (its URL: ?feature=N)
st.subheader("2 · One feature")


def open_feature(f: int) -> None:
    st.session_state["co_feature"] = int(f)


note = None
widgets.from_link("feature")                   # the page reads ?feature=N itself (the frame's link check leaves it)
raw = st.query_params.get("feature")
if raw is not None and raw != st.session_state.get("_co_feature_url"):       # a link or a reload: the URL decides
    st.session_state["co_feature"], note = check_feature(raw, sae.d_sae)
elif not 0 <= int(st.session_state.get("co_feature", 0)) < sae.d_sae:           # left from a bigger dictionary
    st.session_state["co_feature"], note = check_feature(st.session_state["co_feature"], sae.d_sae)
feature = int(st.number_input(f"Feature (0 to {sae.d_sae - 1})", 0, sae.d_sae - 1, step=1, key="co_feature"))
st.query_params["feature"] = str(feature)
st.session_state["_co_feature_url"] = str(feature)
if note:
    st.warning(note)
with st.spinner(f"Reading the seed dialogues through the dictionary at layer {sae.layer} (once per dictionary)…"):
    page = kept_feature(lm, sae, feature)
st.markdown(f"**Feature {feature}** · label from top tokens: " + plain_md(page.label))
st.caption(f"This page's link: ?feature={feature}. The label is the commonest tokens at its strongest activations, "
           "not a proven concept.")

recipe = lambda figure: make_recipe("concepts", {"folder": folder, "feature": feature, "figure": figure}, model=lm.name)  # noqa: E731
st.markdown("**Top activating contexts** (the seed dialogues' turns)")
if page.contexts:
    rows = [list(zip(c.tokens, c.activations)) for c in page.contexts]
    names = [f"#{i + 1} · {c.activation:.3g} · text {c.text}" for i, c in enumerate(page.contexts)]
    st.dataframe(shaded(rows, index=names), key="co_contexts")
    st.caption("One row per context, strongest first: the peak token with the tokens around it, each cell shaded by this "
               "feature's activation there (grey: a massive state, left out). "
               "A row's name is its rank, its peak activation and which seed turn it is from.")
else:
    st.info(f"Feature {feature} never fires on the {page.tokens:,} probe tokens.")
st.markdown("**Activation bins** (contexts from every range of activations, not only the top)")
if page.intervals:
    top_act = max(c.activation for c in page.contexts) if page.contexts else None
    for b in page.intervals:
        st.caption(f"Activation in ({b.lo:.3g}, {b.hi:.3g}]: {b.n:,} of the {page.fired:,} probe tokens where it fires"
                   + ("" if b.contexts else "; none here") + ".")
        if b.contexts:
            st.dataframe(shaded([list(zip(c.tokens, c.activations)) for c in b.contexts], top=top_act,
                                index=[f"{c.activation:.3g} · text {c.text}" for c in b.contexts]),
                         key=f"co_bin_{b.lo:.6g}")
    st.caption(f"The feature's activations where it fires, cut into {len(page.intervals)} equal ranges from 0 to its "
               "largest, strongest first; in each, a few contexts at evenly spaced ranks of that range (one per stretch of "
               "text), shaded on the same scale as the top contexts. Weak firing often looks different from the top.")
    export_buttons(density_figure(page, lang=lang()), page.intervals_table(), recipe("intervals"), key="co_x2",
                   stem=f"feature-{feature}-bins")
else:
    st.caption("No bins: it never fires on the probe.")

fig = density_figure(page, lang=lang())
chart(fig, key="co_density", caption="A bar is a range of activations; its height is how many probe tokens fall in it, "
      "counting only tokens where the feature fires (the title gives how many it fires on, of all).")
export_buttons(fig, page.histogram_table(), recipe("density"), key="co_x1", stem=f"feature-{feature}-density")

up, down, near = st.columns(3)
up.markdown("**Pushes up** (decoder · unembedding)")
up.dataframe(pd.DataFrame(page.up, columns=["token", "logit"]), hide_index=True, key="co_up")
down.markdown("**Pushes down**")
down.dataframe(pd.DataFrame(page.down, columns=["token", "logit"]), hide_index=True, key="co_down")
near.markdown("**Nearest features** (decoder cosine)")
for f, c in page.nearest:
    near.button(f"feature {f} · cos {c:.2f}", key=f"do_co_near_{f}", on_click=open_feature, args=(f,))
st.caption("Up and down: the tokens whose logits this feature's direction raises and lowers most, among the tokens "
           "of the probe texts. Nearest: the features whose directions point most the same way (itself left out).")
st.download_button("Save this feature's page (JSON)", json.dumps(page.to_json(), indent=1, ensure_ascii=False),
                   f"feature-{feature}.json", key="do_co_feature_json", on_click="ignore")



def steer_with(f: int) -> None:
    """The Latent walk, with this feature's decoder direction as its direction (and this dictionary)."""
    st.session_state["walk_source"] = "concept feature"
    st.session_state["walk_feature"] = int(f)
    st.session_state["walk_feature_folder"] = folder


if st.button("Steer with this feature", key="do_co_steer", type="primary",
             help="Opens the Latent walk with this feature's decoder direction, at the dictionary's layer"):
    steer_with(feature)
    st.switch_page(site_page("Latent walk").file, query_params={"walk_source": "concept feature", "walk_feature": str(feature)})
st.caption(f"Steer with this feature: the Latent walk adds its decoder direction at layer {sae.layer} while the model "
           "writes, and compares it with random directions of the same norm.")

# ------------------------------------------------------------------ live: your own text, a word's features
st.subheader("3 · Try your own text")
text = st.text_area(f"Text (up to {MAX_TRY_CHARS:,} characters)", "The queen of the hive makes honey, and the bees make wax.",
                    key="co_try", max_chars=MAX_TRY_CHARS, height=90)
try:
    reading = read_text(lm, sae, text)
    shade = reading.shade(feature)
    st.dataframe(shaded([shade]), key="co_try_shaded")
    st.caption(f"Each token of your text shaded by feature {feature}'s activation (grey: a massive state, left out).")
    st.download_button("Save these activations (CSV)", activation_table([shade]).to_csv(index=False),
                       f"feature-{feature}-text.csv", key="do_co_try_csv", on_click="ignore")
except InputError as e:
    st.error(str(e))

st.subheader("4 · Which features fire on a word?")
s1, s2 = st.columns([3, 1])
sentence = s1.text_input("Sentence", "The queen of the hive makes honey.", key="co_search_text", max_chars=MAX_TRY_CHARS)
word = s2.text_input("Word", "queen", key="co_search_word", max_chars=60)
try:
    found = word_features(lm, sae, sentence, word)
    if found.features:
        st.dataframe(pd.DataFrame(found.features, columns=["feature", "activation (summed over the word's tokens)"]),
                     hide_index=True, key="co_search_table")
        for f, _ in found.features[:5]:
            st.button(f"Open feature {f}", key=f"do_co_open_{f}", on_click=open_feature, args=(f,))
    else:
        st.info("No feature fires on that word here.")
    st.caption(f"The word's tokens: {', '.join(plain_md(t) for t in found.tokens)}.")
except InputError as e:
    st.error(str(e))
