"""Hidden states: every token through every layer on one stable map, logit lens, custom axes."""
import time

import pandas as pd
import streamlit as st

from app_pages.ui import concepts, models, queue, widgets
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import plain_md
from latent.chart_words import tr
from latent.concepts.beside import kept_reading, token_features
from latent.core import project
from latent.core.direction import DirectionError
from latent.core.hidden import InputError
from latent.core.lens import lens_topk
from latent.core.project import ProjectionError
from latent.recipes import make_recipe
from latent.states.figures import COLOR_BY, lens_heatmap, token_map_figure
from latent.states.lens import kept_lens
from latent.states.map import axis_view, kept_token_map, nearest, parse_layers, place
from latent.states.presets import presets

lm = models.lm()
models.warm_umap()          # this page offers UMAP: its code compiles in the background from now on

PRESETS = presets()
preset = st.selectbox("Preset from the seeds", ["(type your own)"] + list(PRESETS), key="states_preset", bind="query-params")
if preset != "(type your own)" and st.session_state.get("states_last_preset") != preset:
    st.session_state["states_prompts"] = "\n".join(PRESETS[preset])
st.session_state["states_last_preset"] = preset
st.session_state.setdefault("states_prompts", "\n".join(PRESETS["queen (seed thread)"][2:]))
text = st.text_area("Prompts, one per line", key="states_prompts", bind="query-params", height=130, max_chars=50_000)

c = st.columns([2, 2, 1.5, 2, 1.2])
layer_spec = c[0].text_input("Layers", f"0-{lm.n_layers}", key="states_layers", bind="query-params", max_chars=200,
                             help=f"e.g. 0-{lm.n_layers}, 0,6,12 or 0-{lm.n_layers}:3")
method = widgets.choice(c[1], "radio", "Projection", ["pca", "umap"], key="states_method", horizontal=True, format_func=str.upper)
dims = c[2].radio("Dimensions", [2, 3], key="states_dims", bind="query-params", horizontal=True)
color = c[3].selectbox("Colour by", COLOR_BY, key="states_color", bind="query-params")
seed = int(c[4].number_input("Seed", 0, 10_000, 0, key="states_seed", bind="query-params"))

prompts = [p for p in text.splitlines() if p.strip()]
try:
    layers = parse_layers(layer_spec, lm.n_layers)
except InputError as e:          # a bad layer list (typed or from a link): say so, and draw the default layers
    st.warning(f"{e} Showing layers 0-{lm.n_layers} instead.")
    layers = parse_layers(f"0-{lm.n_layers}", lm.n_layers)
if method == "umap" and not project.is_warm():
    st.info("UMAP's code is still compiling in the background (once per start, up to a minute on two cores): "
            "this map waits for it. PCA draws at once.")
try:
    bar = st.progress(0.0, text="Hidden states…")
    tm = kept_token_map(lm, prompts, layers, method=method, dims=dims, seed=seed,
                        progress=lambda i, n: bar.progress(i / n, text=f"Hidden states: chunk {i}/{n}"))
    bar.empty()
except (InputError, ProjectionError) as e:
    st.error(str(e))
    st.stop()

axes = {}
table, axis_titles = tm.table, ("", "")
title = tr("Token map · {model} · {method}", lang(), model=lm.name, method=tm.projector.method_used_.upper())
with st.expander("Custom axes from text (like the Embedding Projector's custom projection)"):
    a = st.columns(4)
    pos = a[0].text_input("x axis: toward", "bee", key="ax_pos", max_chars=500)
    neg = a[1].text_input("x axis: away from", "monarch", key="ax_neg", max_chars=500)
    ax_layer = a[2].slider("Direction layer", 0, lm.n_layers, lm.depth(0.4), key=f"ax_layer_{lm.n_layers}")
    use_axes = a[3].toggle("Use these axes", key="ax_on")
    ypos = a[0].text_input("y axis: toward (optional)", "", key="ax_ypos", max_chars=500)
    yneg = a[1].text_input("y axis: away from", "", key="ax_yneg", max_chars=500, help="empty: y is the map's first coordinate")
    if use_axes:
        try:
            d = queue.direction((pos,), (neg,), ax_layer, "mean", lm)
            dy = queue.direction((ypos,), (yneg,), ax_layer, "mean", lm) if ypos and yneg else None
            table = axis_view(tm, d, dy)
            axes = {"x_axis": d.to_dict(), "y_axis": dy.to_dict() if dy else None}
            axis_titles = (f"{d.label} (layer {ax_layer})", f"{dy.label} (layer {ax_layer})" if dy else "map coordinate 1")
            title = f"Custom axes · {d.label}" + (f" × {dy.label}" if dy else "")
        except (DirectionError, InputError) as e:
            st.error(str(e))
with st.expander("Place new text on this map (transform, no refit)"):
    new = st.text_input("Text to place", key="states_place_text", max_chars=5000)
    if st.button("Place", key="do_states_place") and new.strip():
        try:
            st.session_state["states_placed"] = (id(tm), place(tm, lm, new))
        except (InputError, ProjectionError) as e:
            st.error(str(e))
placed = st.session_state.get("states_placed")
if placed and placed[0] == id(tm) and not use_axes:
    table = pd.concat([table, placed[1]], ignore_index=True)

if "states_next_layer" in st.session_state:  # ▶ play advances the one layer slider, one rerun per layer
    st.session_state["states_layer"] = st.session_state.pop("states_next_layer")
if st.session_state.get("states_layer") not in layers:
    st.session_state.pop("states_layer", None)
p1, p2, p3, p4 = st.columns([1, 1, 5, 1.6])
all_layers = p1.toggle("All layers", key="states_all")
n_massive = int(tm.table["massive"].sum())
hide_massive = p4.toggle("Leave out massive tokens", key="states_no_massive",
                         help=f"{n_massive} of {len(tm.table):,} points have a norm over {tm.rule.multiple:g}× their layer's "
                              "median (attention sinks: on SmolLM2 a text's first word at layers 3-9). They are marked "
                              "with a black ring; on, they leave the map and the nearest-neighbour list.")
if hide_massive:
    table = table[~table["massive"].astype(bool)]
playing = st.session_state.get("states_playing", False) and not all_layers
if p2.button("■ stop" if playing else "▶ play", key="do_states_play", disabled=all_layers):
    playing = st.session_state["states_playing"] = not playing
    if playing and st.session_state.get("states_layer") == layers[-1]:
        st.session_state["states_layer"] = layers[0]
layer = None if all_layers else p3.select_slider("Layer", options=layers, value=layers[len(layers) // 2],
                                                 key="states_layer")
fig = token_map_figure(table, prompts, layer=layer, color=color, dims=dims, title=title,
                       axis_titles=axis_titles, note=tm.note, animate=False, massive_multiple=tm.rule.multiple,
                       lang=lang())
event = chart(fig, key="token_map", on_select="rerun", selection_mode="points", theme=None,
                    caption=f"A point is one token at one layer ({len(tm.table):,} in all), fitted once on all chosen layers, so the "
                            "slider and ▶ play only change which layer is shown; grey lines join a token's layers; colour is the "
                            f"{color}. Axes have no units. Prompts that begin alike share those tokens' states exactly (the model "
                            "reads left to right), so their points coincide. A black ring marks a massive token "
                            f"({n_massive} here: a norm over {tm.rule.multiple:g}× its layer's median, an attention sink whose "
                            "state is mostly one shared huge vector" + ("; left out now" if hide_massive else "") + "). "
                            "Click a point for its neighbours and logit lens.")
recipe = make_recipe("states_map", {"prompts": prompts, "layers": layers, "method": method, "dims": dims,
                                   "seed": seed, "layer": layer, "color": color, **axes,
                                   **({"hide_massive": True} if hide_massive else {})}, model=lm.name)
export_buttons(fig, table, recipe, key="export-tm", stem="token-map")

sel = [p.get("customdata") for p in ((event.selection.points if event and event.selection else []) or [])]
sel = [int(s) for s in sel if s is not None and int(s) < len(tm.table) and int(s) in table.index
       and not table.loc[int(s), "placed"]]
if sel:
    row = tm.table.loc[sel[0]]
    st.subheader(f"Token {row['token']!r} · prompt {row['text_index']} · layer {row['layer']}"
                 + (" · massive" if row["massive"] else ""))
    k1, k2 = st.columns(2)
    k1.caption("Nearest other tokens (cosine in the full space, not in 2D; the token's own path is left out"
               + ("; massive tokens left out)" if hide_massive else "; massive: a massive token, see the map's ring)"))
    nn = nearest(tm, sel[0], k=10, other_tokens=True, massive=not hide_massive).drop(columns="row")
    k1.dataframe(nn.rename(columns={"text_index": "prompt", "token_index": "position"}), hide_index=True)
    k2.caption("Logit lens: what the model would predict from this point")
    k2.dataframe(pd.DataFrame(lens_topk(lm, tm.vectors[sel[0]][None], k=10)[0], columns=["token", "prob"]),
                 hide_index=True)

st.subheader("Concepts: a token's top features")
got = concepts.dictionary(lm)
if got:
    sae, co_folder = got
    if sel and st.session_state.get("_states_co_sel") != sel[0]:      # a clicked point picks the token below
        st.session_state["_states_co_sel"] = sel[0]
        st.session_state["states_co_prompt"] = int(tm.table.loc[sel[0], "text_index"])
        st.session_state["states_co_token"] = int(tm.table.loc[sel[0], "token_index"])
    if st.session_state.get("states_co_prompt") not in range(len(prompts)):
        st.session_state["states_co_prompt"] = 0
    o1, o2 = st.columns([3, 2])
    co_prompt = o1.selectbox("Prompt", range(len(prompts)), format_func=lambda i: prompts[i][:80], key="states_co_prompt")
    try:
        toks = kept_reading(lm, sae, prompts[co_prompt]).tokens        # the model's tokens, as the map numbers them
    except InputError as e:
        st.caption(str(e))
        toks = []
    if st.session_state.get("states_co_token") not in range(len(toks)):
        st.session_state["states_co_token"] = max(len(toks) - 1, 0)
    co_token = o2.selectbox("Token", range(len(toks)), format_func=lambda i: f"{i}: {toks[i]!r}", key="states_co_token")
    try:
        if co_token is None:
            raise InputError("That prompt has no tokens to read.")
        tf = token_features(lm, sae, prompts[co_prompt], co_token)
    except InputError as e:
        st.caption(str(e))
    else:
        shown = ("; the map shows that layer too" if layer == sae.layer else
                 f"; the map shows layer {layer}, a different one" if layer is not None else "; the map shows every layer")
        st.caption(f"The concept dictionary's features most active on token {co_token} ("
                   + plain_md(repr(toks[co_token])) + f"), read at "
                   f"layer {sae.layer}, the dictionary's own layer, which may differ from the map's{shown}. n = 1 token; "
                   "each value is the feature's "
                   "activation there. Click a feature for its page (click a point on the map to pick its token here).")
        concepts.links(tf)
        concepts.figure(tf, tr("Top features of token {token} at layer {layer}", lang(), token=repr(toks[co_token]),
                               layer=sae.layer),
                        concepts.recipe(lm, co_folder, "token", lang(), text=prompts[co_prompt], position=co_token),
                        key="states_concepts", stem=f"token-{co_token}-features", lang=lang(),
                        caption="A bar is one feature of the dictionary; its length is the feature's activation on this token.")

st.header("Logit lens")
st.info(f"Readable next tokens appear only in the last few of {lm.n_layers} layers; early layers decode to noise, "
        "which is expected, not a bug. Early-layer probabilities are not calibrated. At layer 0 a model with tied "
        "input and output embeddings (SmolLM2, Gemma 3) reads back the input token itself with p ≈ 1: that is the "
        "tying, not a prediction.")
l1, l2 = st.columns([3, 2])
which = l1.selectbox("Prompt", range(len(prompts)), format_func=lambda i: prompts[i][:80], key="lens_prompt")
view = l2.radio("Colour", ["prob", "final_rank"], key="lens_view", horizontal=True,
                format_func={"prob": "probability of the top token", "final_rank": "rank of the final prediction"}.get)
lt = kept_lens(lm, prompts[which])
lfig = lens_heatmap(lt, title=tr("Logit lens · {model}", lang(), model=lm.name), value=view, lang=lang())
chart(lfig, key="lens_heatmap", theme=None,
            caption="A cell is one layer (row) at one input position (column); its text is the token the lens reads there. "
                    "Rank view: how far down this layer ranks the token the last layer predicts (0 = already top).")
export_buttons(lfig, lt, make_recipe("lens", {"text": prompts[which], "value": view}, model=lm.name), key="export-lens",
               stem="logit-lens")
if playing and layer is not None:  # next frame: the slider moves, the map follows
    time.sleep(0.4)
    i = layers.index(layer)
    if i + 1 < len(layers):
        st.session_state["states_next_layer"] = layers[i + 1]
    else:
        st.session_state["states_playing"] = False
    st.rerun()
