"""Home: what the app is, the annotated map, a link to every page (from the registry), the model card."""
import streamlit as st

from app_pages.site import PAGES
from app_pages.ui import class_access, classroom, live_class, models, queue
from app_pages.ui.export import chart
from app_pages.ui.text import md_escape
from latent.core.corpus import load_corpus
from latent.core.models import EMBEDDED
from latent.dialogues.figures import tour_figure
from latent.dialogues.tour import kept_first_screen

st.markdown(
    "See and steer the latent geometry of a language model. Every dialogue turn and every token "
    "becomes a point in the model's hidden space, which you can map, disambiguate and walk along. "
    "Everything runs offline on the model below, on your CPU or GPU."
)

b = st.columns(3, vertical_alignment="center")
b[0].button("Start a lesson: the queen and her hive", key="do_home_lesson", type="primary",
            on_click=classroom.start, args=("queen-hive",))
with b[1]:
    class_access.start_button("queen-hive", "Start a class: the queen and her hive", where="home")
b[2].page_link(class_access.JOIN.file, label="Join a class with its code")
class_access.current_class_box()
st.caption("Four guided lessons (the queen and her hive, a conversation as a path, walking a direction, do the seed "
           "claims hold?) are on the Lessons page, with a link builder for teachers.")
tour = kept_first_screen(load_corpus(), encoder=models.encoder)   # shipped encoder vectors: no model wait
chart(tour_figure(tour, lang=live_class.lang()), key="home_map", theme=None, caption=tour.caption())
for p in PAGES:
    if not p.home:
        st.page_link(p.file, label=f"**{p.title}** — {p.blurb}", icon=p.icon or None)

st.subheader("Model")
OTHER = "another model…"
embedded = list(EMBEDDED)
current = models.model_name()
choice = st.radio("Language model", embedded + [OTHER], key="model_choice", horizontal=True,
                  index=embedded.index(current) if current in embedded else len(embedded),
                  help="Both embedded models ship inside Python packages and run offline.")
name = choice
if choice == OTHER:
    name = st.text_input("Hugging Face id (already in your local cache) or a local folder", key="model_input",
                         max_chars=500, value="" if current in embedded else current)
if st.button("Use this model", key="do_use_model"):
    st.session_state["model_name"] = name.strip() or models.DEFAULT
lm = models.lm()
card = lm.card()
cols = st.columns(4)
cols[0].metric("Parameters", f"{card['parameters'] / 1e6:.1f} M")
cols[1].metric("Layers", card["n_layers"])
cols[2].metric("Hidden size", card["d_model"])
wall = models.load_wall_seconds()
cols[3].metric("Load time", f"{wall if wall is not None else card['load_seconds']:.1f} s",
               help="Wall time from the request (your click, or the app's start for the default model) until the "
                    f"model was usable, waits included; the load itself (code, weights, tokenizer) took {card['load_seconds']:.1f} s.")
st.text(f"Model: {card['model']}   family: {card['family']}   device: {card['device']}   dtype: {card['dtype']}\n"
        f"Weights: {card['weights']}")
emb = EMBEDDED.get(card["model"])
if emb is not None and emb.licence_url:
    st.markdown(f"Licence: [{emb.licence}]({emb.licence_url})")
else:
    st.text(f"Licence: {card['licence']}")
st.caption("On a CPU every number is computed in fp32, so results do not depend on the machine; on a GPU "
           "dtype 'auto' picks bf16 for speed. Every text gets the model's start token prepended; it is dropped "
           "from all maps and statistics because position 0 acts as an attention sink.")
st.caption(md_escape(f"Model files: {card['source']}"))
where, fell_back = queue.backend_status(lm)
if fell_back:
    st.warning(md_escape(fell_back))
st.caption(md_escape(where))
