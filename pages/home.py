"""Home: what the app is, the model card, and a link to every page (routed by app.py)."""
from pathlib import Path

import streamlit as st

from latent.core import models
from latent.dialogues.figures import tour_figure
from pages.ui import cache, classroom
from pages.ui.text import md_escape

st.set_page_config(page_title="Latent Dialogue Explorer", page_icon="🧭", layout="wide")
cache.keep_inputs()
cache.route_model_work()
cache.glossary()
st.title("Latent Dialogue Explorer")
classroom.preamble("Home")
st.markdown(
    "See and steer the latent geometry of a language model. Every dialogue turn and every token "
    "becomes a point in the model's hidden space, which you can map, disambiguate and walk along. "
    "Everything runs offline on the model below, on your CPU or GPU."
)

PAGES = [("pages/1_Dialogues.py", "Dialogues", "read the five seed texts and map every turn"),
         ("pages/2_Hidden_states.py", "Hidden states", "every token through every layer, logit lens, custom axes"),
         ("pages/3_Senses.py", "Senses", "the 'queen' example: context pulls a word's meaning"),
         ("pages/4_Latent_walk.py", "Latent walk", "steer generation along a direction"),
         ("pages/5_Seed_claims.py", "Seed claims", "the dialogues' claims tested on the real model"),
         ("pages/6_Lessons.py", "Lessons", "guided tours for a class, and lesson links")]
st.button("Start a lesson: the queen and her hive", key="home_lesson_goto", type="primary",
          on_click=classroom.start, args=("queen-hive",))
st.caption("Four guided lessons (the queen and her hive, a conversation as a path, walking a direction, do the seed "
           "claims hold?) are on the Lessons page, with a link builder for teachers.")
tour = cache.tour()
cache.chart(tour_figure(tour), key="home_map", theme=None, caption=tour.caption())
here = Path(__file__).parent.parent
for path, label, what in PAGES:
    if (here / path).exists():
        st.page_link(path, label=f"**{label}** — {what}")

st.subheader("Model")
OTHER = "another model…"
embedded = list(models.EMBEDDED)
current = cache.model_name()
choice = st.radio("Language model", embedded + [OTHER], key="model_choice", horizontal=True,
                  index=embedded.index(current) if current in embedded else len(embedded),
                  help="Both embedded models ship inside Python packages and run offline.")
name = choice
if choice == OTHER:
    name = st.text_input("Hugging Face id (already in your local cache) or a local folder", key="model_input",
                         max_chars=500, value="" if current in embedded else current)
if st.button("Use this model", key="use_model"):
    st.session_state["model_name"] = name.strip() or cache.DEFAULT
lm = cache.lm()
card = lm.card()
cols = st.columns(4)
cols[0].metric("Parameters", f"{card['parameters'] / 1e6:.1f} M")
cols[1].metric("Layers", card["n_layers"])
cols[2].metric("Hidden size", card["d_model"])
cols[3].metric("Load time", f"{card['load_seconds']:.1f} s")
st.text(f"Model: {card['model']}   family: {card['family']}   device: {card['device']}   dtype: {card['dtype']}\n"
        f"Weights: {card['weights']}   licence: {card['licence']}")
st.caption("On a CPU every number is computed in fp32, so results do not depend on the machine; on a GPU "
           "dtype 'auto' picks bf16 for speed. Every text gets the model's start token prepended; it is dropped "
           "from all maps and statistics because position 0 acts as an attention sink.")
st.caption(md_escape(f"Model files: {card['source']}"))
cache.start_background_work()
