"""Seed claims: each claim from the dialogues, a live experiment, and a verdict computed from numbers."""
import streamlit as st

from latent.core.corpus import load_corpus
from latent.claims import ExperimentError, registry
from latent.recipes import make_recipe
from latent.core.errors import LatentError
from pages.ui import cache, widgets
from pages.ui.export import export_buttons
from pages.ui.text import md_escape

cache.page("The seeds' claims, tested live", "Seed claims")
st.caption("Each claim is quoted from the dialogues; the experiment runs on the loaded model; the verdict is computed "
           "from the numbers with the thresholds stated in its method. No verdict is written by hand.")
st.warning("Read these verdicts as provisional. They come from fixed thresholds, not from an interval measured "
           "against a null or control in the same run, and some follow from the chosen parameters alone (reuse). "
           "They do not yet meet this app's evidence standard; the Senses and Latent walk pages do.")
lm = cache.lm()
EXPERIMENTS = registry()
BADGE = {"holds": st.success, "holds partly": st.warning, "does not hold": st.error}
titles = {d.id: d.title for d in load_corpus()}


def goto(dialogue: str, turn: int):
    st.session_state["reader_choice"], st.session_state["reader_turn"] = dialogue, turn


for (name, exp), tab in zip(EXPERIMENTS.items(), st.tabs([e.title for e in EXPERIMENTS.values()])):
    claim = exp.claim
    with tab:
        q, link = st.columns([4, 1])
        q.markdown(f"> {md_escape(claim.quote)}")
        q.caption(f"{titles.get(claim.dialogue, 'seed text')} · turn {claim.turn}")
        if link.button("Read it in context", key=f"cl_goto_{name}", on_click=goto, args=(claim.dialogue, claim.turn)):
            st.switch_page("pages/1_Dialogues.py")
        try:
            params = widgets.params(exp.params, lm, key=f"cl_{name}")
        except ExperimentError as e:
            st.error(str(e))
            continue
        if st.button(f"Run: {exp.title}", key=f"cl_run_{name}", type="primary"):
            bar = st.progress(0.0, text="Running on the model…")
            try:
                cache.experiment(name, tuple(sorted(params.items())), lm,
                                 progress=lambda i, n: bar.progress(i / n, text=f"Running… {i}/{n}"))
                st.session_state[f"cl_done_{name}"] = tuple(sorted(params.items()))
            except LatentError as e:
                st.error(str(e))
            except Exception as e:  # noqa: BLE001 - one tab fails alone, the others still render
                st.error(f"This experiment failed: {type(e).__name__}: {str(e)[:200]}")
            bar.empty()
        done = st.session_state.get(f"cl_done_{name}")
        if done is None:
            st.caption("Press Run to test this claim on the model (≈ 1-15 s on a laptop CPU).")
            continue
        r = cache.experiment(name, done, lm)
        BADGE[r.verdict](f"Verdict on {lm.name}: **{r.verdict}**")
        st.caption(r.method)
        fig = exp.figure(r)
        st.plotly_chart(fig, key=f"cl_fig_{name}", theme=None)
        export_buttons(fig, r.table, make_recipe("claim", {"name": name, "params": dict(done)}, model=lm.name, numbers=r.numbers),
                       key=f"cl_x_{name}", stem=f"claim-{name}")
        with st.expander("Numbers"):
            st.json(r.numbers)
            st.dataframe(r.table, hide_index=True)
cache.start_background_work()
