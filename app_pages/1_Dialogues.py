"""Dialogues: read the seed texts as transcripts and see every turn as a point on a map."""
import streamlit as st

from app_pages.ui import concepts, models, widgets
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import md_escape, plain_md
from latent.chart_words import tr
from latent.core import project
from latent.core.corpus import MAX_USER_CHARS, CorpusError, Dialogue, load_corpus, parse_upload, parse_user_text
from latent.core.errors import LatentError
from latent.core.models import DEFAULT_ENCODER
from latent.dialogues.figures import dialogue_map_figure
from latent.dialogues.map import MapSpec, kept_map
from latent.recipes import make_recipe, map_title

corpus = load_corpus()
models.warm_umap()          # this page offers UMAP: its code compiles in the background from now on
extra = st.session_state.setdefault("user_dialogues", [])

with st.sidebar:
    st.header("Map settings")
    source = widgets.choice(st, "radio", "Turn vectors from", ["encoder", "lm"], key="map_source", horizontal=True,
                            format_func={"encoder": "sentence encoder", "lm": "language model"}.get)
    layer, pooling = 12, "mean"
    if source == "lm":
        n = models.lm().n_layers
        layer = st.slider("Layer", 0, n, round(0.4 * n), key="map_layer", bind="query-params")
        pooling = st.radio("Pooling", ["mean", "last"], key="map_pooling", bind="query-params", horizontal=True)
    method = widgets.choice(st, "radio", "Projection", ["umap", "pca"], key="map_method", horizontal=True,
                            format_func=str.upper)
    dims = st.radio("Dimensions", [2, 3], key="map_dims", bind="query-params", horizontal=True)
    color = st.radio("Colour by", ["speaker", "dialogue"], key="map_color", bind="query-params", horizontal=True)
    seed = st.number_input("Seed", 0, 10_000, 0, key="map_seed", bind="query-params")

with st.expander("Add your own dialogue to the map"):
    pasted = st.text_area("One turn per line, as `Name: text`", key="paste", height=120, max_chars=MAX_USER_CHARS,
                          placeholder="Ada: What is a latent space?\nBob: A map of meanings.")
    upload = st.file_uploader("…or upload .txt / .json", type=["txt", "json"], key="do_upload_dialogue")
    if st.button("Add to map", key="do_add_dialogue"):
        try:
            if upload is not None and pasted.strip():
                raise CorpusError("Both a pasted text and an uploaded file are given: clear one of them first.")
            if upload is not None:
                d = parse_upload(upload.getvalue(), upload.name)
            else:
                d = parse_user_text(pasted)
            d.id = f"user{len(extra) + 1}"
            extra.append(d.to_dict())
            st.success(f"Added {len(d.turns)} turns as '{d.title}'.")
        except CorpusError as e:
            st.error(str(e))
    if extra and st.button("Remove added dialogues", key="do_clear_dialogues"):
        extra.clear()
        st.rerun()

spec = MapSpec(source=source, layer=layer, pooling=pooling, method=method, dims=dims, seed=int(seed),
               color=color)
if method == "umap" and not project.is_warm():
    # UMAP's numba code compiles in the background for ~15-50 s after a start: draw PCA now and
    # offer UMAP once it is ready; the map never changes shape by itself
    spec = MapSpec(**{**spec.to_dict(), "method": "pca"})
    st.info("UMAP is still compiling in the background (once per start); showing PCA until you switch.")

    @st.fragment(run_every=2)
    def switch_when_warm():
        if project.is_warm() and st.button("UMAP is ready: show the UMAP map", key="do_map_umap"):
            st.rerun()

    switch_when_warm()
lm = models.lm() if source == "lm" else None
enc = models.encoder if source == "encoder" else None  # called only if the vectors are not cached
model = lm.name if lm else DEFAULT_ENCODER
bar = st.progress(0.0, text="Computing turn vectors…")
try:
    df, note = kept_map(spec, [Dialogue.from_dict(d) for d in extra], lm=lm, encoder=enc,
                        progress=lambda i, n: bar.progress(i / n, text=f"Turn vectors: batch {i}/{n}"))
except LatentError as e:
    bar.empty()
    st.error(str(e))
    st.stop()
bar.empty()
if note:
    st.info(note)
prev = st.session_state.get("dialogue_map")  # the click from the last run, so the map can highlight it
picked = [p["customdata"] for p in ((prev.selection.points if prev and prev.selection else []) or [])
          if p.get("customdata")]
picked = (picked[0][0], int(picked[0][1])) if picked else None
if picked is not None:
    row = df[(df["dialogue"] == picked[0]) & (df["turn"] == picked[1])]
    if len(row):
        row = row.iloc[0]
        st.subheader(f"Selected: {row['speaker']} · {row['title']} · turn {picked[1]}")
        st.text(row["text"])
fig = dialogue_map_figure(df, color=color, dims=dims, title=map_title(spec, lm, lang()), method=spec.method, highlight=picked,
                          lang=lang())
chart(fig, key="dialogue_map", on_select="rerun", selection_mode="points", theme=None,
            config={"toImageButtonOptions": {"format": "png", "scale": 2}},
            caption=f"A point is one turn ({len(df)} from {df['dialogue'].nunique()} texts); lines join consecutive "
                    f"turns, so each conversation reads as a path; colour is the {color}; the axes are "
                    f"{spec.method.upper()} components (no units). Click a point to read the whole turn above the map. "
                    "Added dialogues are placed on the fitted map (ringed), not fitted, so it keeps its shape.")
recipe = make_recipe("dialogue_map", {**spec.to_dict(), "extra_dialogues": extra}, model=model)
export_buttons(fig, df, recipe, key="export-map", stem="dialogue-map")


st.subheader("Concepts: a turn's most active features")
if not concepts.folder_for(models.model_name()):          # (no model load for a caption)
    st.caption(f"No concept dictionary for {models.model_name()} yet, so no concepts beside this view (the Concepts page "
               "says how to build one).")
else:
    co_lm = models.lm()
    got = concepts.dictionary(co_lm)
    if got:
        sae, co_folder = got
        turn_keys = [f"{r.dialogue}:{int(r.turn)}" for r in df.itertuples()]
        names = {f"{r.dialogue}:{int(r.turn)}": f"{r.title} · turn {int(r.turn)} · {r.speaker}" for r in df.itertuples()}
        if picked is not None and st.session_state.get("_map_co_picked") != picked:   # a clicked point picks the turn
            st.session_state["_map_co_picked"] = picked
            st.session_state["map_co_turn"] = f"{picked[0]}:{picked[1]}"
        if st.session_state.get("map_co_turn") not in names:
            st.session_state.pop("map_co_turn", None)
        co_turn = st.selectbox("Turn", turn_keys, format_func=names.get, key="map_co_turn")
        row = df.iloc[turn_keys.index(co_turn)]
        from latent.concepts.beside import text_features  # noqa: PLC0415 - torch: only with a dictionary

        try:
            tf = text_features(co_lm, sae, str(row["text"]))
        except LatentError as e:
            st.caption(str(e))
        else:
            st.caption(f"The concept dictionary's features with the largest mean activation over this turn's {tf.n} tokens "
                       f"(massive ones left out), read by {co_lm.name} at layer {sae.layer}, the dictionary's own layer"
                       + (f" (the map's vectors come from layer {spec.layer})" if spec.source == "lm" else
                          " (the map's vectors come from the sentence encoder)")
                       + ". A value is the mean over all n tokens (0 where it does not fire); click a feature for its page.")
            st.caption("Turn: " + plain_md(str(row["text"])[:200]))
            concepts.links(tf)
            concepts.figure(tf, tr("Most active features of this text at layer {layer} · n = {n} tokens", lang(),
                                   layer=sae.layer, n=tf.n),
                            concepts.recipe(co_lm, co_folder, "text", lang(), text=str(row["text"])),
                            key="map_concepts", stem=f"turn-{co_turn.replace(':', '-')}-features", lang=lang(),
                            caption="A bar is one feature of the dictionary; its length is the feature's mean activation over "
                                    "the turn's tokens.")

st.header("Read a dialogue")
options = [d.id for d in corpus] + [d["id"] for d in extra]
titles = {d.id: d.title for d in corpus} | {d["id"]: d["title"] for d in extra}
choice = st.selectbox("Dialogue", options, format_func=titles.get, key="reader_choice")
dialogue = next((d for d in corpus if d.id == choice), None)
jump = st.session_state.pop("reader_turn", None)
if jump is not None and dialogue is not None and jump < len(dialogue.turns):
    t = dialogue.turns[jump]
    st.info(f"From Seed claims: {t.speaker}, turn {jump}")
    st.text(t.text)
turns = dialogue.turns if dialogue else next(d for d in extra if d["id"] == choice)["turns"]
for t in turns:
    t = t if isinstance(t, dict) else t.__dict__
    if t.get("section"):
        st.markdown(f"#### {md_escape(t['section'])}")
    with st.chat_message("user" if t["index"] % 2 == 0 else "assistant"):
        st.markdown(f"**{md_escape(t['speaker'])}** · turn {t['index']}")
        for q in t.get("quotes", ()):
            st.caption("> " + md_escape(q))
        st.markdown(md_escape(t["text"]))
