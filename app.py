"""Home: what the app is, the model card, and a link to every page."""
from pathlib import Path

import streamlit as st

from pages.ui import cache
from pages.ui.text import md_escape

st.set_page_config(page_title="Latent Dialogue Explorer", page_icon="🧭", layout="wide")
st.title("Latent Dialogue Explorer")
st.markdown(
    "See and steer the latent geometry of a language model. Every dialogue turn and every token "
    "becomes a point in the model's hidden space, which you can map, disambiguate and walk along. "
    "Everything runs offline on the model below, on your CPU or GPU."
)

PAGES = [("pages/1_Dialogues.py", "Dialogues", "read the five seed texts and map every turn"),
         ("pages/2_Hidden_states.py", "Hidden states", "every token through every layer, logit lens, custom axes"),
         ("pages/3_Senses.py", "Senses", "the 'queen' example: context pulls a word's meaning"),
         ("pages/4_Latent_walk.py", "Latent walk", "steer generation along a direction"),
         ("pages/5_Seed_claims.py", "Seed claims", "the dialogues' claims tested on the real model")]
here = Path(__file__).parent
for path, label, what in PAGES:
    if (here / path).exists():
        st.page_link(path, label=f"**{label}** — {what}")

st.subheader("Model")
name = st.text_input("Language model (Hugging Face id or local folder; offline)", value=cache.model_name(),
                     key="model_input", help="The default is embedded: " + cache.DEFAULT)
if st.button("Use this model", key="use_model"):
    st.session_state["model_name"] = name.strip() or cache.DEFAULT
lm = cache.lm()
card = lm.card()
cols = st.columns(4)
cols[0].metric("Parameters", f"{card['parameters'] / 1e6:.1f} M")
cols[1].metric("Layers", card["n_layers"])
cols[2].metric("Hidden size", card["d_model"])
cols[3].metric("Load time", f"{card['load_seconds']:.1f} s")
st.text(f"Model: {card['model']}   device: {card['device']}   dtype: {card['dtype']}")
st.caption("dtype 'auto' measured bf16 against fp32 on this machine and kept the faster one. "
           "Every text gets the model's start token prepended; it is dropped from all maps and "
           "statistics because position 0 acts as an attention sink.")
st.caption(md_escape(f"Model files: {card['source']}"))
cache.start_background_work()
