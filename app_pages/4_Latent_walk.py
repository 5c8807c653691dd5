"""Latent walk: add a direction to the residual stream while the model writes; meters; interpolation."""
import streamlit as st

from app_pages.ui import concepts, models, queue, widgets
from app_pages.ui.classroom import answer_hidden, hidden_note, hidden_text
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import md_escape
from latent.concepts.beside import walk_feature
from latent.concepts.features import check_feature, kept_dictionary
from latent.core.direction import Direction
from latent.core.errors import LatentError
from latent.lessons.facts import walk_key
from latent.recipes import make_recipe
from latent.walk.figures import interpolation_figure, meters_figure, steered_map_figure
from latent.walk.null import neutral_lines
from latent.walk.paths import interpolate, steered_map
from latent.walk.presets import load_presets
from latent.walk.spec import METHODS, POSITIONS, SweepSpec
from latent.walk.steer import coefficient, parse_strengths

lm, enc = models.lm(), models.encoder()
PRESETS = load_presets()
ERRORS = (LatentError,)
# a lesson step that asks whether the direction beats random ones keeps the texts and the verdict off screen
hide_texts, hide_verdict = answer_hidden("walk_texts"), answer_hidden("walk_verdict")

FEATURE = "concept feature"            # a dictionary feature's decoder direction (the Concepts page's "Steer with this feature")
linked_feature = widgets.from_link("walk_feature")       # ?walk_source=concept+feature&walk_feature=N
if linked_feature is not None:
    st.session_state["walk_feature_link"] = linked_feature
sources = ["preset", "two sets of texts", "direction file"] + (
    ["from the Senses page"] if "walk_direction" in st.session_state else []) + [FEATURE]
source = st.radio("Direction from", sources, key="walk_source", bind="query-params", horizontal=True)
c = st.columns(4)
from_texts = source in ("preset", "two sets of texts")      # the method, and the data-shaped null, apply to these only
method = c[1].radio("Vector", list(METHODS), index=METHODS.index(SweepSpec.method), key="walk_method", horizontal=True,
                    help="mean difference of the two sets, or the first principal component of paired differences (repeng)"
                    ) if from_texts else SweepSpec.method
positions = c[2].radio("Add at", list(POSITIONS), index=POSITIONS.index(SweepSpec.positions), key="walk_positions", horizontal=True,
                       format_func={"all": "every position", "first": "first position (ActAdd)"}.get)
if positions == "first":
    c[2].warning("Single-position ActAdd (the paper's recipe) did nothing measurable on SmolLM2-135M; "
                 "the meters below will show it. Every position is what steers this model.")
try:
    if source == "preset":
        name = st.selectbox("Preset", list(PRESETS), key="walk_preset", bind="query-params")
        p, spec = PRESETS[name], SweepSpec.default(lm, name)         # every default below comes from the spec
        layer = c[0].slider("Layer", 1, lm.n_layers, spec.layer, key=f"walk_layer_{name}_{lm.n_layers}")
        st.caption(spec.setting(lm).source() + (f" Original ActAdd setting: {p['paper']['model']}, layer {p['paper']['layer']}, "
                                  f"coefficient {p['paper']['coefficient']}, pair {p['paper']['pair']}."
                                  if p.get("paper") else ""))
        keep_massive = st.toggle("Keep massive tokens in the means", False, key="walk_keep_massive",
                                 help="A text's first word can carry a norm 5-10x its layer's median (an attention sink) "
                                      "and pull a mean toward it; the means leave such tokens out unless this is on.")
        direction = queue.preset(name, layer, method, lm, keep_massive)
        spec = spec.replace(keep_massive=keep_massive)
        if direction.pooling_note:
            st.caption(direction.pooling_note)
    elif source == "two sets of texts":
        spec = SweepSpec.default(lm, None, source="texts")
        layer = c[0].slider("Layer", 1, lm.n_layers, spec.layer, key=f"walk_layer_texts_{lm.n_layers}")
        t1, t2 = st.columns(2)
        pos = t1.text_area("Toward (one text per line)", "\n".join(spec.positive), key="walk_pos", height=100,
                           max_chars=20_000)
        neg = t2.text_area("Away from (one text per line)", "\n".join(spec.negative), key="walk_neg", height=100,
                           max_chars=20_000)
        pl, nl = [x for x in pos.splitlines() if x.strip()], [x for x in neg.splitlines() if x.strip()]
        direction = queue.direction(tuple(pl), tuple(nl), layer, method, lm)
        # queue.direction pools each text's last token (Direction.from_texts' default), where the CLI's
        # texts and the presets pool by the mean: recorded, not changed
        spec = spec.replace(positive=tuple(pl), negative=tuple(nl), pooling="last")
    elif source == "direction file":
        up = st.file_uploader("Direction (.npz saved from this page)", type=["npz"], key="do_walk_file")
        if up is None:
            st.info("Upload a .npz direction to walk along it.")
            st.stop()
        direction = Direction.from_npz_bytes(up.getvalue(), d_model=lm.d_model, n_layers=lm.n_layers)
        layer = direction.layer
        spec = SweepSpec.default(lm, None, source="direction")
    elif source == FEATURE:
        folder = str(st.session_state.get("walk_feature_folder") or "") or concepts.folder_for(lm.name)
        if not folder:
            st.info(f"No concept dictionary for {lm.name} yet, so there is no feature to steer with (the Concepts page says "
                    "how to build one).")
            st.stop()
        sae = kept_dictionary(lm, folder)
        raw = st.session_state.pop("walk_feature_link", None)
        if raw is not None or not 0 <= int(st.session_state.get("walk_feature", 0)) < sae.d_sae:
            st.session_state["walk_feature"], feature_note = check_feature(
                raw if raw is not None else st.session_state.get("walk_feature"), sae.d_sae)
            if feature_note:
                st.warning(feature_note)
        feature = int(c[0].number_input(f"Feature (0 to {sae.d_sae - 1})", 0, sae.d_sae - 1, step=1, key="walk_feature"))
        st.query_params["walk_feature"] = str(feature)
        direction, fp = walk_feature(lm, sae, feature)
        layer = direction.layer
        spec = SweepSpec.default(lm, None, source="direction").replace(source="feature", feature=feature)
        st.caption(f"Feature {feature} of the concept dictionary (label from top tokens: " + md_escape(fp.label)
                   + f"): its decoder direction, added at layer {layer}, the dictionary's own layer. Strength is a fraction "
                   "of that layer's typical token norm, as for every source. The verdict compares it with random directions "
                   f"of the same norm ({spec.n_random}, on the same prompts, seeds and strengths); the data-shaped null "
                   "mirrors a direction built from two sets of texts, so it does not apply here. The concept meter reads "
                   "toward the tokens the feature pushes up and away from those it pushes down.")
    else:
        direction = st.session_state["walk_direction"]
        layer = direction.layer
        spec = SweepSpec.default(lm, None, source="direction").replace(prompts=("The queen",))   # the Senses page's word
        st.caption(f"Sense direction {direction.label} at layer {layer}, from the Senses page.")
except ERRORS as e:
    st.error(str(e))
    st.stop()
c[3].metric("Layer norm", f"{coefficient(lm, direction, 1.0):.1f}", help="median token norm at this layer: strength 1")
c[3].download_button("Save (.npz)", direction.to_npz_bytes(), "direction.npz", key="do_walk_save", help="save this direction")

prompt_default, strengths_default = "\n".join(spec.prompts), ",".join(f"{x:g}" for x in spec.strengths)
linked = widgets.from_link("walk_prompt")       # the typed prompts travel in the link
if linked is not None:
    st.session_state[f"walk_prompt_{source}"] = linked[:4000]
prompt_text = st.text_area("Prompts (one per line: each is one unit of the evidence)",
                           None if linked is not None else prompt_default, key=f"walk_prompt_{source}", max_chars=4000, height=110)
widgets.to_link("walk_prompt", prompt_text, prompt_default)
prompts = [x for x in prompt_text.splitlines() if x.strip()] or [prompt_default.splitlines()[0]]
g = st.columns(4)
strength_text = g[0].text_input("Strengths (× layer norm)", strengths_default, key=f"walk_strengths_{source}",
                                max_chars=400)
tokens = g[1].slider("New tokens", 5, 120, spec.max_new_tokens, key="walk_tokens", bind="query-params")
seed = int(g[2].number_input("First seed", 0, 10_000, spec.seeds[0], key="walk_seed"))
n_seeds = int(g[3].number_input("Seeds per prompt", 1, 3, len(spec.seeds), key="walk_seeds"))
sample = g[3].toggle("Sample", value=spec.do_sample, key="walk_sample", help="Off: greedy decoding, which makes the seeds one.")
neutral_text = ""
if from_texts:
    with st.expander("Data-shaped null: its neutral texts"):
        neutral_text = st.text_area(
            "Neutral sentences, one per line (empty: the shipped set of everyday sentences)", "", key="walk_neutral",
            max_chars=50_000, height=120,
            help="A direction built from two sets of texts is also compared with directions built the same way from two "
                 f"random halves of these sentences ({spec.n_splits} splits). Use sentences about nothing in particular.")
neutral = neutral_lines(neutral_text)
inputs = (tuple(prompts), strength_text, tokens, seed, n_seeds, sample, positions, direction.layer,
          direction.vector.tobytes(), neutral)
widgets.stopped_note("walk")
if st.button("Walk: generate the sweep", type="primary", key="do_walk_run"):
    cancel = widgets.cancel_button(widgets.dock(), "walk", "the sweep")
    progress, live = st.empty(), st.empty()
    try:
        strengths = parse_strengths(strength_text)
        run = spec.replace(layer=direction.layer, method=method, prompts=tuple(prompts), strengths=tuple(strengths),
                           seeds=tuple(range(seed, seed + n_seeds)), max_new_tokens=tokens, positions=positions,
                           do_sample=sample, neutral=neutral)
        sw = run.run(lm, enc, direction=direction, runner=queue.scheduled(lm, progress),
                     on_token=None if hide_texts else widgets.stream_cards(live, prompts[0], strengths, tokens))
        st.session_state["walk_result"] = (sw, direction, steered_map(lm, sw, direction))
        st.session_state["walk_inputs"] = inputs
    except ERRORS as e:
        st.error(str(e))
    widgets.finished("walk", cancel)
    progress.empty()
    live.empty()

result = st.session_state.get("walk_result")
quoted = lm.peek(walk_key(name)) if result is None and source == "preset" else None   # the sweep a lesson's answer ran
if quoted is not None:
    result = (quoted, None, None)
if result is None and hide_verdict:
    hidden_note(key="walk_meters")            # where the answer's chart comes once revealed
if result is not None:
    sw, d, smap = result
    if quoted is not None:
        st.caption("The sweep the lesson's answer ran: this preset's default settings. Press Walk for the settings above.")
    elif st.session_state.get("walk_inputs") != inputs:
        st.warning("Out of date: these results are for earlier settings. Press Walk to run the current ones.")
    if hide_verdict:
        st.info(hidden_text())
    else:
        st.info(sw.finding())
    if hide_texts:
        hidden_note()
    else:
        cards = st.columns(len(sw.strengths))
        for col, r in zip(cards, sw.per_strength()):
            with col.container(border=True):
                st.markdown(f"**{'unsteered' if r.baseline else f'strength {r.strength:+g}'}**")
                st.markdown(md_escape(sw.prompt + r.text))      # the largest text in the card; escaped, never HTML
                vs = ("" if r.baseline else f"; vs random directions: {r.difference:+.3f} "
                      f"[{r.difference_ci[0]:+.3f}, {r.difference_ci[1]:+.3f}], their null {r.difference_null[0]:+.3f} "
                      f"to {r.difference_null[1]:+.3f}")
                verdict = "" if hide_verdict else f"{r.verdict}{vs}; "
                st.caption(f"{verdict}distinct-2 {r.distinct2:.2f}" +
                           (f" · {r.degenerate} of {r.n} texts degenerate" if r.degenerate else ""))
    tbl = sw.table()
    if not hide_verdict:
        with st.expander("Numbers per strength (means, 95 % intervals, the random directions' means and the difference)"):
            st.dataframe(tbl.round(4), hide_index=True)
    st.caption(sw.rows_text(lm.device))
    recipe = lambda figure: make_recipe("walk", {**sw.recipe, "figure": figure}, model=lm.name)  # noqa: E731
    f1 = meters_figure(sw, hide_answer=hide_verdict, lang=lang())
    chart(f1, key="walk_meters", theme=None, note=hidden_text() if hide_verdict else "",
                caption="x is the strength; each panel is one meter. Error bars: 95 % intervals over prompt × seed; grey "
                        "band in every panel: where one random direction's mean lies (mean ± 2 sd of the random "
                        "directions' means over the same prompts, seeds and strengths; at 0: the unsteered rows); "
                        "orange dotted band in the concept panel, for a direction built from texts: the same for "
                        "directions built the same way from random halves of neutral sentences (the data-shaped null); "
                        "dashed red lines: where texts start to repeat. KL's n is the prompts: the first token does "
                        "not depend on the seed.")
    if not hide_verdict:
        export_buttons(f1, tbl, recipe("meters"), key="walk_x1", stem="steering-meters")
    if smap is not None and not hide_texts:       # (a lesson's quoted sweep has no map: Walk draws it)
        f2 = steered_map_figure(smap, d.label, lang=lang())
        chart(f2, key="walk_map", theme=None,
                    caption="A point is one text: x is its position along the direction, y the main remaining variation; "
                            "colour is the strength; triangles are the two poles' texts.")
        export_buttons(f2, smap, recipe("steered_map"), key="walk_x2", stem="steered-map")

st.header("Interpolate between two prompts")
i1, i2, i3 = st.columns([2, 2, 1])
pa = i1.text_input("Prompt A", "I love walking my dog in the park.", key="walk_a", max_chars=2000)
pb = i2.text_input("Prompt B", "The stock market crashed this morning.", key="walk_b", max_chars=2000)
il = i3.slider("Layer", 1, lm.n_layers, lm.depth(0.4), key=f"walk_ilayer_{lm.n_layers}")
if st.button("Interpolate", key="do_walk_interp"):
    with st.spinner("Generating at t = 0, 0.2, …, 1"):
        try:
            st.session_state["walk_interp"] = (interpolate(lm, enc, pa, pb, il), il, pa, pb)
        except ERRORS as e:
            st.error(str(e))
if "walk_interp" in st.session_state:
    it, il2, pa2, pb2 = st.session_state["walk_interp"]
    st.info(it.finding)
    st.dataframe(it.table, hide_index=True, column_config={"text": st.column_config.TextColumn(width="large")})
    f3 = interpolation_figure(it.path, il2, lang=lang())
    chart(f3, key="walk_ipath", theme=None,
                caption="A point is one token state of prompt A or B, or a mixed state on the way (t); PCA axes have no units.")
    export_buttons(f3, it.table, make_recipe("interpolation", {"a": pa2, "b": pb2, "layer": il2}, model=lm.name),
                   key="walk_x3", stem="interpolation")
