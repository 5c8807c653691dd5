"""Seed claims: each claim from the dialogues, a live experiment, and a verdict from an interval against a null."""
import streamlit as st

from app_pages.ui import models, widgets
from app_pages.ui.classroom import answer_hidden, hidden_note
from app_pages.ui.export import chart, export_buttons
from app_pages.ui.live_class import lang
from app_pages.ui.text import md_escape
from latent.claims import ARITHMETIC, ExperimentError, kept_run, registry
from latent.claims.figures import evidence_figure
from latent.core.corpus import load_corpus
from latent.core.errors import LatentError
from latent.lessons.facts import claim_key
from latent.recipes import make_recipe

st.caption("Each claim is quoted from the dialogues and tested on the loaded model, in fp32 on the CPU with a seed, so "
           "the same seed gives the same numbers. Every verdict comes from a 95 % interval against a null or control "
           "measured in the same run: **supported** (the whole interval clears it), **not supported**, or "
           "**inconclusive** (the interval overlaps it). A number that follows from the settings alone is shown as "
           "arithmetic, not as a verdict.")
lm = models.lm()
EXPERIMENTS = registry()
BADGE = {"supported": st.success, "not supported": st.error, "arithmetic (not a verdict)": st.info}
titles = {d.id: d.title for d in load_corpus()}
seed = int(st.sidebar.number_input("Seed (sampling, shuffles, bootstraps)", 0, 2 ** 31 - 1, 0, key="cl_seed",
                                   bind="query-params"))


def goto(dialogue: str, turn: int):
    st.session_state["reader_choice"], st.session_state["reader_turn"] = dialogue, turn


# keyed and tracked, so a lesson step opens its experiment's tab (it sets ``cl_tab`` to the tab's title)
tabs = st.tabs([e.title for e in EXPERIMENTS.values()], key="cl_tab", on_change="rerun")
for (name, exp), tab in zip(EXPERIMENTS.items(), tabs):
    claim = exp.claim
    with tab:
        q, link = st.columns([4, 1])
        q.markdown(f"> {md_escape(claim.quote)}")
        q.caption(f"{titles.get(claim.dialogue, 'seed text')} · turn {claim.turn}")
        if link.button("Read it in context", key=f"do_cl_goto_{name}", on_click=goto, args=(claim.dialogue, claim.turn)):
            st.switch_page("app_pages/1_Dialogues.py")
        try:
            params = widgets.params(exp.params, lm, key=f"cl_{name}")
        except ExperimentError as e:
            st.error(str(e))
            continue
        key = (tuple(sorted(params.items())), seed)
        widgets.stopped_note(f"claim_{name}")
        if st.button(f"Run: {exp.title}", key=f"do_cl_run_{name}", type="primary"):
            box = widgets.dock()
            bar = box.progress(0.0, text=f"{exp.title}: running on the model (fp32, CPU)…")
            cancel = widgets.cancel_button(box, f"claim_{name}", f"the experiment '{exp.title}'")
            try:
                kept_run(name, lm, params=params, seed=seed, models=models.lm_named,
                         progress=lambda i, n: bar.progress(min(i / n, 1.0), text=f"{exp.title}: {i}/{n}"))
                st.session_state[f"cl_done_{name}"] = key
            except LatentError as e:
                st.error(str(e))
            except Exception as e:  # noqa: BLE001 - one tab fails alone, the others still render
                st.error(f"This experiment failed: {type(e).__name__}: {str(e)[:200]}")
            widgets.finished(f"claim_{name}", cancel)
            bar.empty()
        done = st.session_state.get(f"cl_done_{name}")
        quoted = lm.peek(claim_key(name)) if done is None else None     # the result a lesson's reveal quoted
        if answer_hidden(f"claim_verdict_{name}"):        # a lesson step asks for this verdict: not before its reveal
            hidden_note(key=f"cl_fig_{name}")
            continue
        if done is None and quoted is None:
            st.caption("Press Run to test this claim on the model (≈ 10-30 s on a laptop CPU).")
            continue
        if quoted is not None:
            st.caption("The result the lesson quoted: this experiment's default settings, seed 0. Press Run for the "
                       "settings above.")
            done = ((), 0)
        elif done != key:
            st.caption("The settings changed since this result: press Run to update it.")
        r = quoted if quoted is not None else kept_run(name, lm, params=dict(done[0]), seed=done[1], models=models.lm_named)
        j = r.to_json()
        f = r.evidence.finding
        BADGE.get(f.verdict, st.warning)(f"**{f.verdict}** · {lm.name}, {j['dtype']}, seed {j['seed']}")
        if j.get("headline"):          # the key sentence, written by the library from this result's numbers
            st.markdown(f"**What the numbers show:** {md_escape(j['headline'])}")
        st.markdown(f"**Tested:** {md_escape(r.evidence.tested)}")
        st.markdown(f"**Not tested:** {md_escape(r.evidence.not_tested)}")
        if f.verdict == ARITHMETIC:
            st.markdown(f"**{md_escape(f.measure)}:** {f.effect:.4g} (computed from the settings, not measured)")
        else:
            st.markdown(f"**{md_escape(f.measure)}:** {f.effect:.4g}, 95 % interval [{f.ci[0]:.4g}, {f.ci[1]:.4g}], "
                        f"n = {f.n}; null: {md_escape(f.null_name)}.")
        if r.timing:
            st.caption("Measured wall time on this machine (not reproducible, so not in the verdict): "
                       + md_escape(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r.timing.items())))
        st.caption(md_escape(f.rule))
        if r.evidence.caveat:
            st.warning(f"**But:** {md_escape(r.evidence.caveat)}")
        fig = exp.figure(r, lang=lang())
        chart(fig, key=f"cl_fig_{name}", theme=None, caption=exp.caption)
        recipe = make_recipe("claim", {"name": name, "params": dict(done[0]), "seed": done[1]}, model=lm.name,
                             numbers=r.numbers)
        export_buttons(fig, r.table, recipe, key=f"cl_x_{name}", stem=f"claim-{name}")
        ev_fig = evidence_figure(r.evidence, lang=lang())
        with st.expander(f"All findings of this experiment ({1 + len(r.evidence.more)}), each against its null"):
            chart(ev_fig, key=f"cl_ev_{name}", theme=None,
                        caption="A row is one finding: the coloured dot and bar are its effect and 95 % interval "
                                "(green supported, red not supported, orange inconclusive, grey arithmetic); grey "
                                "is the null it is judged against; a star is the claim's own target size.")
            for g in r.evidence.more:
                st.markdown(f"- {md_escape(g.measure)}: **{g.verdict}** — {md_escape(g.reason)}")
            export_buttons(ev_fig, r.table, dict(recipe, params=dict(recipe["params"], figure="evidence")),
                           key=f"cl_xe_{name}", stem=f"claim-{name}-evidence")
        with st.expander("Numbers (the CLI's JSON)"):
            st.caption(md_escape(r.method))
            st.json(j)
            st.dataframe(r.table, hide_index=True)
