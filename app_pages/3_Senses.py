"""Senses: the seed thread's "queen" example live — context pulls a word's meaning."""
import pandas as pd
import streamlit as st

from app_pages.ui import concepts, models
from app_pages.ui.classroom import answer_hidden, hidden_note, hidden_text
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import md_escape, plain_md
from latent.chart_words import tr
from latent.concepts.beside import sense_features
from latent.core.hidden import InputError
from latent.core.models import EMBEDDED
from latent.recipes import make_recipe, sense_map_title
from latent.senses.figures import (
    dose_response_figure,
    next_tokens_table,
    probs_heatmap,
    reliability_figure,
    sense_map_figure,
    separability_figure,
)
from latent.senses.sets import MAX_SENSES, SenseError, SenseSet, builtin_sets
from latent.senses.study import QUEEN_STEPS, context_words, kept_orders, kept_report, sense_map

st.caption("From the seed thread: “Is this the monarch, the bee, the playing card, the drag entertainer? By adding "
           "more relevant tokens (honey, worker, hive, beeswax) we steer the token generation…”")
lm = models.lm()
SETS = builtin_sets()
# a lesson step that asks where a context lands keeps the answer off screen until its reveal
hide_stars, hide_readouts = answer_hidden("sense_stars"), answer_hidden("sense_readouts")

c1, c2 = st.columns([1, 2])
choice = c1.selectbox("Word", list(SETS) + ["(new word)"], key="sn_word", bind="query-params")
upload = c1.file_uploader("…or load a senses JSON", type=["json"], key="do_sn_upload")
word = c1.text_input("New word", key="sn_new_word", max_chars=40) if choice == "(new word)" else choice
base = SETS.get(choice, SenseSet(word, {}))
if upload is not None:
    try:
        base = SenseSet.from_json(upload.getvalue())
        word = base.word
        c1.info(f"Using the uploaded set for '{word}' (the word box above is ignored while a file is loaded).")
    except SenseError as e:
        c1.error(str(e))
rows = c2.data_editor(pd.DataFrame(base.to_rows() or [{"sense": "", "sentence": ""}]), num_rows="dynamic",
                      key=f"do_sn_rows_{choice}_{word}", height=260, width="stretch")
readout = c1.radio("Readout", ["echo", "word"], key="sn_readout", bind="query-params", horizontal=True)
c1.caption("**echo** (default): the text, a newline and “The <word>”, read at that appended token. It has seen "
           "the whole text, so it carries mostly the sentence's topic (the “The weather” control below shows how much). "
           "**word**: the word's own last sub-token, which in a causal model sees only the context to its left — "
           "context written after the word cannot move it.")

default_steps = QUEEN_STEPS if word == "queen" else [word] + [s[0] for s in base.senses.values()][:3]
steps_key = f"sn_steps_{word}"
st.session_state.setdefault(steps_key, "\n".join(default_steps))
steps_text = st.text_area("Context steps, one per line (each is read separately)", key=steps_key, height=140, max_chars=5000)


def add_step():
    """Append a step: the new word in front of the last step (runs before the widgets redraw)."""
    extra = st.session_state.get("sn_add_word", "").strip()
    steps = [s for s in st.session_state[steps_key].splitlines() if s.strip()]
    if extra:
        st.session_state[steps_key] = "\n".join(steps + [f"{extra} {steps[-1] if steps else word}"])


a1, a2, a3 = st.columns([2, 1, 2])
a1.text_input("Add a context word", key="sn_add_word", placeholder="nectar", max_chars=40)
a2.button("Add step", key="do_sn_add", on_click=add_step)
pick_layer = a3.toggle("Choose the layer (default: best)", key="sn_pick")
layer = st.slider("Layer", 0, lm.n_layers, lm.depth(0.3), key=f"sn_layer_{lm.n_layers}") if pick_layer else None

try:
    sset = SenseSet.from_rows(word, rows.to_dict("records")).validate()
    with st.spinner(f"Reading '{word}' in {sum(map(len, sset.senses.values()))} sentences at every layer…"):
        contexts = tuple(s for s in steps_text.splitlines() if s.strip())
        rep = kept_report(lm, sset, contexts, readout=readout, layer=layer, encoder=models.encoder(), orders=False)
except (SenseError, InputError) as e:
    st.error(str(e))
    st.stop()
st.download_button("Save this sense set (JSON)", sset.to_json(), f"senses-{word}.json", key="do_sn_save")

params = {"word": word, "senses": sset.senses, "contexts": [s.context for s in rep.steps], "readout": readout,
          "layer": layer, "encoder_baseline": True}
recipe = lambda figure, **kw: make_recipe("senses", {**params, "figure": figure, **kw}, model=lm.name)  # noqa: E731
st.subheader("1 · Where do the senses separate?")
compare = st.toggle("Compare models (by relative depth)", key="sn_compare")
others = {}
if compare:
    for name in EMBEDDED:
        m = lm if name == lm.name else models.lm_named(name)
        others[name] = kept_report(m, sset, [rep_s.context for rep_s in rep.steps], readout=readout, orders=False)
f1 = separability_figure(rep, others or None, lang=lang())
chart(f1, key="sn_sep", theme=None,
            caption="A point is one layer; the y axis is how often a held-out sentence lands nearest its own sense's "
                    "centroid. Grey: what shuffled senses reach at their best layer. Dashed: controls measured in the "
                    "same run.")
st.info(rep.separability_summary())
export_buttons(f1, rep.separability_table(), recipe("separability"), key="sn_x1", stem=f"separability-{word}")
f5 = reliability_figure(rep, lang=lang())
chart(f5, key="sn_rel", theme=None,
            caption="A point is one bin of held-out predictions: x is the stated probability, y how often that sense "
                    "was right (dashed diagonal: perfect calibration; marker size and label: the bin's count). "
                    + rep.calibration_summary())
export_buttons(f5, rep.reliability_table(), recipe("reliability"), key="sn_x5", stem=f"reliability-{word}")

st.subheader("2 · Context pulls the meaning")
pull_slot, orders_slot = st.empty(), st.empty()     # the word-order control fills in after the rest is drawn
rep_orders_pending = not hide_readouts and context_words(list(contexts), sset.word) is not None
if hide_readouts:               # each step's sense, its probabilities and the pull name the answer
    hidden_note(key="sn_dose")
else:
    pull_slot.info(rep.pull(pending=rep_orders_pending))
    if rep_orders_pending:
        orders_slot.caption("Controls still computing: which word pulls, over the orders the words can come in…")
    f2 = dose_response_figure(rep, lang=lang())
    chart(f2, key="sn_dose", theme=None,
                caption="A point is one context step (x, in the order added) read at the chosen layer; colour is the "
                        "sense. Left: probability of each sense (softmax of the cosines at the fitted temperature); "
                        "right: the raw cosines, with the grey band the sense-free contexts reach.")
    export_buttons(f2, rep.probs_table(), recipe("dose_response"), key="sn_x2", stem=f"dose-response-{word}")
    st.caption("What each step is named, by how much it clears the sense-free cut-off, and the p as printed. "
               + rep.readings_note())
    st.dataframe(rep.readings_table(), hide_index=True)
    target = st.selectbox("Sense to follow across layers", rep.senses, index=rep.senses.index(rep.target()),
                          key="sn_target")
    f3 = probs_heatmap(rep, target, lang=lang())
    chart(f3, key="sn_heat", theme=None,
                caption="A cell is one context step (row) at one layer (column); colour is the probability of the chosen "
                        "sense.")
    export_buttons(f3, rep.probs_table(), recipe("probabilities", target=target), key="sn_x3",
                   stem=f"sense-probabilities-{word}")

m1, m2 = st.columns([3, 2])
smap = sense_map(rep)
f4 = sense_map_figure(smap, rep.senses, sense_map_title(rep, lang()), hide_answer=hide_stars, lang=lang())
chart(f4, where=m1, key="sn_map", theme=None, note=hidden_text("★") if hide_stars else "", share=0.65,   # 3/5 of the column
            caption="A point is one sense sentence (colour = its sense) or a context step (★, numbered in order), at "
                    "the chosen layer; PCA axes have no units.")
with m1:
    export_buttons(f4, smap, recipe("sense_map"), key="sn_x4", stem=f"sense-map-{word}")
m2.caption("Top next tokens after each step's text (the model's own prediction)")
if hide_readouts:
    hidden_note(m2)
else:
    m2.dataframe(next_tokens_table(rep), hide_index=True, height=420)

st.subheader("3 · Hand the sense direction to steering")
if hide_readouts:                   # its defaults are the sense the context lands on
    hidden_note()
else:
    d1, d2, d3 = st.columns(3)
    toward = d1.selectbox("Toward", rep.senses, index=rep.senses.index(rep.target()), key="sn_toward")
    away = d2.selectbox("Away from", rep.senses, index=0 if rep.target() != rep.senses[0] else 1, key="sn_away")
    if d3.button("Use on the Latent walk page", key="do_sn_send"):
        try:
            st.session_state["walk_direction"] = rep.direction(toward, away)
            st.session_state["walk_prompt_from the Senses page"] = f"The {word}"   # a prompt about this word
            st.session_state["walk_source"] = "from the Senses page"
            d3.success(f"Direction '{toward} − {away}' at layer {rep.layer} is ready on the Latent walk page.")
        except Exception as e:  # noqa: BLE001 - a zero direction, or equal senses
            d3.error(str(e))
st.subheader("4 · Concepts: the features that fire on " + plain_md(word) + " in each sense")
got = concepts.dictionary(lm)
if got and hide_readouts:            # a sense's features name the answer as its readouts do
    hidden_note()
elif got:
    sae, co_folder = got
    try:
        with st.spinner(f"Reading {sum(map(len, sset.senses.values()))} sentences through the concept dictionary…"):
            found = sense_features(lm, sae, word, {k: list(v) for k, v in sset.senses.items()})
    except InputError as e:
        st.caption(str(e))
    else:
        st.caption(f"Per sense, the concept dictionary's features with the largest mean activation on '{word}' over that "
                   f"sense's sentences (a sentence's value: the activation summed over the word's tokens), read at layer "
                   f"{sae.layer}, the dictionary's own layer (the readouts above use layer {rep.layer}). n is the sentences "
                   "where the word was found. Click a feature for its page.".replace(f"'{word}'", plain_md(word)))
        cols = st.columns(min(len(found), 3))
        for i, (sense, tf) in enumerate(found.items()):
            with cols[i % len(cols)]:
                st.markdown(f"**{md_escape(sense)}** · n = {tf.n} sentences")
                concepts.links(tf, per_row=1)
        concepts.figure(found, tr("Features on '{word}' per sense at layer {layer}", lang(), word=word, layer=sae.layer),
                        concepts.recipe(lm, co_folder, "senses", lang(), word=word, senses=sset.senses),
                        key="sn_concepts", stem=f"sense-features-{word}", lang=lang(),
                        caption="A bar is one feature; its length is the feature's mean activation on the word over one "
                                "sense's sentences (colour: the sense; n in the legend).")

if len(rep.senses) >= MAX_SENSES:
    st.caption(f"At most {MAX_SENSES} senses per word.")

if rep_orders_pending:                   # the word-order control, now that everything else is on screen
    try:
        rep.orders = kept_orders(lm, sset, contexts, readout=readout, layer=layer, encoder=models.encoder())
    except (SenseError, InputError) as e:
        orders_slot.error(str(e))
    else:
        pull_slot.info(rep.pull())
        if rep.orders is not None:
            orders_slot.dataframe(rep.orders.table(), hide_index=True)
elif not hide_readouts:
    pull_slot.info(rep.pull())
