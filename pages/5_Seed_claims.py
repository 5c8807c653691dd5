"""Seed claims: each claim from the dialogues, a live experiment, and a verdict computed from numbers."""
import streamlit as st

from latent.corpus import load_corpus
from latent.experiments import NAMES, ExperimentError, module
from latent.export import make_recipe
from latent.figures_claims import figure
from latent.hidden import InputError
from pages.ui import cache
from pages.ui.export import export_buttons
from pages.ui.text import md_escape

cache.page("The seeds' claims, tested live", "Seed claims")
st.caption("Each claim is quoted from the dialogues; the experiment runs on the loaded model; the verdict is computed "
           "from the numbers with the thresholds stated in its method. No verdict is written by hand.")
lm = cache.lm()
TITLES = {"sparse-messages": "Sparse messages", "economy": "Computational economy", "reuse": "Reuse vs recomputation",
          "sparse-matrix": "The giant sparse matrix", "reasoning": "Reasoning as steering"}
BADGE = {"holds": st.success, "holds partly": st.warning, "does not hold": st.error}
titles = {d.id: d.title for d in load_corpus()}


def goto(dialogue: str, turn: int):
    st.session_state["reader_choice"], st.session_state["reader_turn"] = dialogue, turn


def params_for(name: str, box) -> dict:
    if name == "sparse-messages":
        ks = box.text_input("k values", "1,2,4,8,16,32,64,128,256,576", key="cl_ks")
        return {"layer": box.slider("Layer", 1, lm.n_layers, min(12, lm.n_layers), key="cl_sm_layer"),
                "ks": tuple(int(x) for x in ks.replace(" ", "").split(",") if x.lstrip("-").isdigit())}
    if name == "economy":
        return {"tau": box.slider("Active if |a| > τ × RMS, τ =", 0.5, 3.0, 1.0, 0.25, key="cl_tau")}
    if name == "reuse":
        return {"lengths": tuple(box.multiselect("History lengths (tokens)", [16, 32, 64, 128, 256, 512],
                                                 [32, 64, 128], key="cl_lengths"))}
    if name == "sparse-matrix":
        text = box.text_area("Prompt set (one per line; empty = 40 prompts from the seeds)", "", key="cl_prompts")
        return {"prompts": tuple(p for p in text.splitlines() if p.strip()) or None}
    return {"layer": box.slider("Layer", 0, lm.n_layers, min(20, lm.n_layers), key="cl_rs_layer")}


for name, tab in zip(NAMES, st.tabs([TITLES[n] for n in NAMES])):
    claim = module(name).CLAIM
    with tab:
        q, link = st.columns([4, 1])
        q.markdown(f"> {md_escape(claim.quote)}")
        q.caption(f"{titles.get(claim.dialogue, claim.source)} · turn {claim.turn} · {claim.source}")
        if link.button("Read it in context", key=f"cl_goto_{name}", on_click=goto, args=(claim.dialogue, claim.turn)):
            st.switch_page("pages/1_Dialogues.py")
        params = params_for(name, st)
        if st.button(f"Run: {TITLES[name]}", key=f"cl_run_{name}", type="primary"):
            bar = st.progress(0.0, text="Running on the model…")
            try:
                cache.experiment(name, tuple(sorted(params.items())), lm.name, lm,
                                 progress=lambda i, n: bar.progress(i / n, text=f"Running… {i}/{n}"))
                st.session_state[f"cl_done_{name}"] = tuple(sorted(params.items()))
            except (ExperimentError, InputError, ValueError) as e:
                st.error(str(e))
            bar.empty()
        done = st.session_state.get(f"cl_done_{name}")
        if done is None:
            st.caption("Press Run to test this claim on the model (≈ 1-15 s on a laptop CPU).")
            continue
        r = cache.experiment(name, done, lm.name, lm)
        BADGE[r.verdict](f"Verdict on {lm.name}: **{r.verdict}**")
        st.caption(r.method)
        fig = figure(r)
        st.plotly_chart(fig, key=f"cl_fig_{name}", theme=None)
        export_buttons(fig, r.table, make_recipe(f"experiment:{name}", dict(done), model=lm.name, numbers=r.numbers),
                       key=f"cl_x_{name}", stem=f"claim-{name}")
        with st.expander("Numbers"):
            st.json(r.numbers)
            st.dataframe(r.table, hide_index=True)
cache.start_background_work()
