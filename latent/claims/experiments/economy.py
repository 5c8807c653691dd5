"""Computational economy: are MLP activations sparse, does a dense activation signal confusion,
and do the few largest neurons carry the computation?

Claim (003, GPT): "Sparse activation is the economic signal" (dense activation = confusion).

Method: a neuron (an input of an MLP's down-projection) is *active* when |a| exceeds ``tau``
times the RMS of that token's activations at that layer. Per layer we show the active fraction at
the last position beside the fraction a Gaussian vector would have (2·(1−Φ(τ))). Over ≥ 100 prompts
we correlate the mean active fraction with the next-token entropy (Spearman r), with a bootstrap
interval and a shuffled-pairing null, at every τ the slider offers: the verdict must not depend on
τ, so the headline and the per-τ table read one rule (the interval against r = 0) and, where τ
changes the verdict, the headline is the least favourable τ's row. Over probe prompts we keep only
the k largest-|a| neurons in **every** block at once (k = 0 allowed) at the predicting position,
against k random neurons, and count how often the top-1 prediction survives.

Example::

    >>> density(np.array([[3.0, 0.1, -0.1, 0.1]]), 1.0).tolist()
    [0.25]
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from scipy.stats import norm

from latent.chart_words import tr
from latent.claims.evidence import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Evidence, Finding, judge, paired_finding
from latent.claims.framework import Claim, Experiment, ExperimentError, ExperimentResult, Param, check_prompts, corpus_prompts
from latent.core.hidden import encode, left_pad
from latent.core.hooks import Plan, run_plan, use
from latent.core.stats import band, clopper_pearson, rng
from latent.style import claim_style

CLAIM = Claim("003_2c80f816de8fa259.txt", "003", 26, "Sparse activation is the economic signal.")
TAUS = tuple(np.round(np.arange(0.5, 3.01, 0.25), 2))      # the τ slider's range and step
K_GRID = (0, 16, 64, 256)                                     # + all neurons
K_HEAD = 64


def density(act: np.ndarray, tau: float) -> np.ndarray:
    """Fraction of neurons with |a| > tau * RMS over the last axis."""
    rms = np.sqrt((act ** 2).mean(-1, keepdims=True)) + 1e-12
    return (np.abs(act) > tau * rms).mean(-1)


def gaussian_density(tau: float) -> float:
    """The active fraction of a Gaussian vector: P(|z| > τ) = 2·(1 − Φ(τ))."""

    return float(2 * norm.sf(tau))


def last_token_acts(lm, prompts: list[str], chunk: int = 16):
    """Per prompt: MLP activations at the last position ``(P, blocks, neurons)`` and next-token entropy."""

    blocks = list(range(1, lm.n_layers + 1))
    acts, ents = [], []
    for s in range(0, len(prompts), chunk):
        ids = [encode(lm, p)[0] for p in prompts[s:s + chunk]]
        x, mask, pos = left_pad(lm, ids)          # every prompt's last token in the last column
        plan = Plan(mlp_record=set(blocks))
        out = {}
        with torch.inference_mode():
            run_plan(lambda: out.setdefault("r", lm.model(input_ids=x, attention_mask=mask, position_ids=pos,
                                                          logits_to_keep=1)), plan)     # the LM head on it only
        acts.append(np.stack([plan.mlp_records[b][0][:, -1].float().cpu().numpy() for b in blocks], 1))
        lp = torch.log_softmax(out["r"].logits[:, -1].float(), -1)
        ents.append((-(lp.exp() * lp).sum(-1)).cpu().numpy())
    return np.concatenate(acts), np.concatenate(ents)


def _ranks(x: np.ndarray) -> np.ndarray:
    return x.argsort(-1).argsort(-1).astype(float)


def spearman_boot(x: np.ndarray, y: np.ndarray, seed: int, n: int = 2000):
    """Spearman r, its bootstrap 95 % interval, the 95 % band of r under shuffled pairing, and the
    one-sided permutation p-value."""
    def r_rows(a, b):  # Pearson of rank rows
        a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
        return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1) + 1e-30)
    r = float(r_rows(_ranks(x), _ranks(y)))
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n, len(x)))
    boot = r_rows(_ranks(x[idx]), _ranks(y[idx]))
    perm = np.argsort(np.random.default_rng(seed + 1).random((n, len(x))), -1)
    null = r_rows(_ranks(x)[None].repeat(n, 0), _ranks(y)[perm])
    p = float(((null >= r - 1e-12).sum() + 1) / (n + 1))
    return r, (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))), band(null), p


def ablation_agreement(lm, prompts: list[str], seed: int, grid=K_GRID) -> pd.DataFrame:
    """Per probe prompt and k: does the top-1 prediction survive when only the k largest-|a| (or k
    random) neurons of every block are kept at the predicting position? k = all keeps everything."""

    n_neurons = lm.model.config.intermediate_size
    ks = [k for k in grid if k < n_neurons] + [n_neurons]
    kinds = [("largest |a|", k) for k in ks] + [("random", k) for k in ks]
    keep = torch.tensor([k for _, k in kinds])[:, None, None]
    is_rand = torch.tensor([kind == "random" for kind, _ in kinds])[:, None, None]
    dev = lm.model.device
    rows = []
    for i, p in enumerate(prompts):
        ids = encode(lm, p)[0]
        g = torch.Generator().manual_seed(int(rng(seed, "ablate", i).integers(2 ** 31)))
        with torch.inference_mode():
            pre = lm.model.base_model(input_ids=torch.tensor([ids[:-1]], device=dev), use_cache=True)   # the cache only
            ref = lm.model(input_ids=torch.tensor([ids[-1:]], device=dev), past_key_values=copy.deepcopy(pre.past_key_values),
                           position_ids=torch.tensor([[len(ids) - 1]], device=dev)).logits[0, -1].argmax()
            rand_rank = {b: torch.rand((1, 1, n_neurons), generator=g).argsort(-1).argsort(-1) for b in range(1, lm.n_layers + 1)}

            def edit(b):
                def ablate(a):
                    top_rank = a.abs().argsort(-1, descending=True).argsort(-1)
                    rank = torch.where(is_rand, rand_rank[b].expand_as(top_rank), top_rank)
                    return a * (rank < keep).to(a.dtype)
                return ablate
            cache = pre.past_key_values
            cache.batch_repeat_interleave(len(kinds))
            with use(Plan(mlp_edits={b: [edit(b)] for b in range(1, lm.n_layers + 1)})):
                lg = lm.model(input_ids=torch.tensor([ids[-1:]] * len(kinds), device=dev), past_key_values=cache,
                              position_ids=torch.full((len(kinds), 1), len(ids) - 1, device=dev)).logits[:, -1]
        ok = (lg.argmax(-1) == ref).cpu().numpy()
        rows += [{"prompt": i, "kept": kind, "k": k, "survives": float(o)} for (kind, k), o in zip(kinds, ok)]
    return pd.DataFrame(rows)


RANK = {NOT_SUPPORTED: 0, INCONCLUSIVE: 1, SUPPORTED: 2}


def weakest(rows: list[dict]) -> dict:
    """The per-τ row least favourable to the claim: the lowest verdict, then the lowest interval."""
    return min(rows, key=lambda r: (RANK.get(r["verdict"], 1), r["ci_lo"]))


def by_verdict(rows: list[dict]) -> str:
    """"supported at τ = 0.5–2, inconclusive at τ = 2.25–3": each verdict with its runs of consecutive τ."""
    runs: list[list] = []
    for r in sorted(rows, key=lambda r: r["tau"]):
        if runs and runs[-1][0] == r["verdict"]:
            runs[-1][2] = r["tau"]
        else:
            runs.append([r["verdict"], r["tau"], r["tau"]])
    return ", ".join(f"{v} at τ = {a:g}" + (f"–{b:g}" if b != a else "") for v, a, b in runs)


def tau_sentence(numbers: dict) -> str:
    """The tab's key sentence, from the result's numbers alone: the headline and the per-τ table read one
    rule (an interval against r = 0), and where τ changes the verdict the headline takes the least
    favourable τ.

    >>> rows = [{"tau": 1.0, "r": 0.25, "ci_lo": 0.06, "ci_hi": 0.43, "verdict": SUPPORTED},
    ...         {"tau": 3.0, "r": 0.05, "ci_lo": -0.14, "ci_hi": 0.24, "verdict": INCONCLUSIVE}]
    >>> tau_sentence({"tau": 1.0, "prompts": 104, "r_by_tau": rows, "headline_tau": 3.0})[:30]
    'The verdict depends on τ (supp'
    """
    rows = numbers["r_by_tau"]
    n = numbers["prompts"]

    def at(t):
        r = next(r for r in rows if abs(r["tau"] - t) < 1e-9)
        return r, f"r = {r['r']:+.2f} [{r['ci_lo']:+.2f}, {r['ci_hi']:+.2f}], n = {n}"
    here, here_s = at(numbers["tau"])
    lo, hi = min(r["tau"] for r in rows), max(r["tau"] for r in rows)
    if len({r["verdict"] for r in rows}) == 1:
        return (f"Every τ from {lo:g} to {hi:g} gives the same verdict, {here['verdict']}: at τ = {here['tau']:g}, "
                f"{here_s} (the null is r = 0).")
    head, head_s = at(numbers["headline_tau"])
    mine = "" if head is here else f"; at the τ chosen above ({here['tau']:g}), {here_s}: {here['verdict']}"
    return (f"The verdict depends on τ ({by_verdict(rows)}). The headline reads the table's rule at the least favourable "
            f"τ = {head['tau']:g}: {head_s}, {head['verdict']}{mine}." + (
                " So denser activation goes with a less sure prediction only for some definitions of 'active'."
                if any(r["verdict"] == SUPPORTED for r in rows) else ""))


def run(lm, *, prompts=None, tau: float = 1.0, n_probes: int = 40, seed: int = 0, progress=None) -> ExperimentResult:
    if not 4 <= int(n_probes) <= 200:
        raise ExperimentError("n_probes must be 4-200.")
    tau = float(tau)
    if not 0.1 <= tau <= 5:
        raise ExperimentError("τ must be between 0.1 and 5.")
    prompts = check_prompts(lm, prompts or corpus_prompts(104, max_chars=100))
    acts, ent = last_token_acts(lm, prompts)
    if progress:
        progress(1, 2)
    taus = sorted(set(TAUS) | {round(tau, 2)})
    per_tau = []
    for t_ in taus:
        dens = density(acts, t_).mean(1)
        r, ci, nb, p = spearman_boot(dens, ent, seed)
        v, why = judge(ci, (0.0, 0.0))
        per_tau.append({"tau": t_, "r": r, "ci_lo": ci[0], "ci_hi": ci[1], "null_lo": nb[0], "null_hi": nb[1], "p": p,
                        "verdict": v, "gaussian_fraction": gaussian_density(t_)})
    pt = pd.DataFrame(per_tau)
    here = pt[pt["tau"] == round(tau, 2)].iloc[0]
    row = here if pt["verdict"].nunique() == 1 else weakest(pt.to_dict("records"))
    verdict, reason = judge((row["ci_lo"], row["ci_hi"]), (0.0, 0.0))      # the per-τ table's own rule, on one row
    if pt["verdict"].nunique() == 1:
        reason = f"at every τ from {taus[0]} to {taus[-1]} the same: at τ = {tau:g}, {reason}"
    else:
        reason = (f"the verdict depends on τ ({by_verdict(pt.to_dict('records'))}), so the headline takes the least "
                  f"favourable τ = {row['tau']:g}, where {reason}")

    def finding(r_, what):
        return Finding(f"Spearman r between a prompt's active fraction (|a| > τ·RMS, τ = {r_['tau']:g}{what}) and its "
                       "next-token entropy", float(r_["r"]), (r_["ci_lo"], r_["ci_hi"]), len(prompts),
                       "no correlation (r = 0; the shuffled-pairing null is drawn)", (0.0, 0.0), null_effect=0.0,
                       spread=(r_["null_lo"], r_["null_hi"]), p=float(r_["p"]))
    same = float(row["tau"]) == float(here["tau"])
    head = finding(row, "" if same else ": the least favourable τ, as the verdict must hold at every τ")
    head.verdict, head.reason = verdict, reason
    at_tau = [] if same else [finding(here, ": the τ chosen above")]
    probes = prompts[:: max(1, len(prompts) // int(n_probes))][: int(n_probes)]
    ab = ablation_agreement(lm, probes, seed)
    if progress:
        progress(2, 2)
    top = ab[(ab["kept"] == "largest |a|") & (ab["k"] == K_HEAD)]["survives"].to_numpy()
    rnd = ab[(ab["kept"] == "random") & (ab["k"] == K_HEAD)]["survives"].to_numpy()
    n_neurons = lm.model.config.intermediate_size
    more = at_tau + [paired_finding(f"top-1 survives when only the {K_HEAD} largest-|a| neurons of every block are kept "
                           f"({K_HEAD / n_neurons:.1%}), minus the same with {K_HEAD} random neurons", top - rnd, seed,
                           control=f"{K_HEAD} random neurons per block")]
    agg = ab.groupby(["kept", "k"], as_index=False, sort=False).agg(survives=("survives", "mean"), count=("survives", "sum"))
    ci = np.array([clopper_pearson(int(c), len(probes)) for c in agg["count"]])
    agg["ci_lo"], agg["ci_hi"], agg["n"] = ci[:, 0], ci[:, 1], len(probes)
    layers = list(range(1, lm.n_layers + 1))
    fractions = density(acts, tau).mean(0)          # (blocks,)
    ev = Evidence(
        tested=(f"Whether prompts whose last token activates more MLP neurons are the ones the model is less sure about "
                f"(Spearman r of active fraction against next-token entropy, {len(prompts)} prompts), judged at every τ "
                f"from {taus[0]} to {taus[-1]}; and whether the {K_HEAD} largest neurons of each block carry the "
                f"prediction better than {K_HEAD} random ones ({len(probes)} probes, all blocks ablated together)."),
        not_tested=("Compute or energy savings (nothing here skips work: the zeroed neurons are still computed); "
                    "'confusion' beyond next-token entropy; other positions than the predicting one; models with "
                    "explicit sparsity (mixture of experts)."),
        finding=head, more=more)
    table = pd.DataFrame({"layer": layers, "active_fraction": fractions, "gaussian_fraction": gaussian_density(tau)})
    numbers = {"tau": tau, "prompts": len(prompts), "probes": len(probes), "neurons_per_layer": int(n_neurons),
               "active_fraction_per_layer": [round(float(x), 4) for x in fractions],
               "gaussian_active_fraction": round(gaussian_density(tau), 4),
               "r_by_tau": [{k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in row.items()}
                            for row in pt.to_dict("records")],
               "survival": [{"kept": r.kept, "k": int(r.k), "share": round(float(r.survives), 4),
                             "ci": [round(float(r.ci_lo), 4), round(float(r.ci_hi), 4)]} for r in agg.itertuples()]}
    numbers["headline_tau"] = float(row["tau"])
    ev.headline = tau_sentence(numbers)
    method = ("Active = |a| > τ × the RMS of that token's MLP activations. Spearman r (active fraction vs entropy) with a "
              "bootstrap interval and a shuffled-pairing null at every τ on the slider; cumulative ablation keeps the k "
              "largest or k random neurons in every block at the predicting position.")
    return ExperimentResult("economy", CLAIM, ev, numbers, method, table, {"tau": tau, "n_prompts": len(prompts)})


CAPTION = ("Left: a bar is one layer's share of MLP neurons above τ·RMS (dashed: a Gaussian vector). Middle: a point is one τ, y the "
           "Spearman r between density and next-token entropy (grey band: shuffled pairings). Right: a point is one k, y the share of "
           "probes whose top-1 survives keeping k neurons per block (green: the largest, grey: random ones).")


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    t = r.table
    pt = pd.DataFrame(r.numbers["r_by_tau"])
    sv = pd.DataFrame(r.numbers["survival"])
    fig = make_subplots(1, 3, subplot_titles=(tr("active fraction (τ = {tau})", lang, tau=f"{r.numbers['tau']:g}"),
                                              tr("r(density, entropy) by τ", lang), tr("top-1 survives ablation", lang)))
    fig.add_trace(go.Bar(x=t["layer"], y=t["active_fraction"], name=tr("active fraction (|a| > τ·RMS)", lang),
                         marker_color="#1f77b4"), 1, 1)
    fig.add_trace(go.Scatter(x=[t["layer"].min() - 0.5, t["layer"].max() + 0.5], y=[r.numbers["gaussian_active_fraction"]] * 2,
                             mode="lines", line=dict(dash="dash", color="black"), name=tr("a Gaussian vector", lang)), 1, 1)
    fig.add_trace(go.Scatter(x=list(pt["tau"]) + list(pt["tau"])[::-1], y=list(pt["null_hi"]) + list(pt["null_lo"])[::-1],
                             fill="toself", mode="lines", fillcolor="rgba(127,127,127,0.25)", line=dict(width=0),
                             name=tr("r under shuffled pairing (95 %)", lang)), 1, 2)
    fig.add_trace(go.Scatter(x=pt["tau"], y=pt["r"], mode="lines+markers", name=tr("Spearman r (95 % bootstrap)", lang),
                             line=dict(color="#d62728"), error_y=dict(type="data", array=pt["ci_hi"] - pt["r"],
                                                                       arrayminus=pt["r"] - pt["ci_lo"])), 1, 2)
    for kind, color in (("largest |a|", "#2ca02c"), ("random", "#7f7f7f")):
        g = sv[sv["kept"] == kind]
        ci = np.array(g["ci"].tolist())
        fig.add_trace(go.Scatter(x=[str(k) for k in g["k"]], y=g["share"], mode="lines+markers", name=tr(f"keep k {kind}", lang),
                                 line=dict(color=color), error_y=dict(type="data", array=ci[:, 1] - g["share"],
                                                                      arrayminus=g["share"] - ci[:, 0])), 1, 3)
    fig.update_xaxes(title=tr("layer", lang), row=1, col=1)
    fig.update_xaxes(title="τ", row=1, col=2)
    fig.update_xaxes(title=tr("neurons kept per block (k)", lang), type="category", row=1, col=3)
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[-1, 1], row=1, col=2)
    fig.update_yaxes(range=[0, 1.05], row=1, col=3)
    return claim_style(fig, tr("MLP activation economy · {n} prompts, {k} probes", lang, n=r.numbers["prompts"],
                               k=r.numbers["probes"]))


EXPERIMENT = Experiment("economy", "Computational economy", CLAIM, run, figure, (
        Param("tau", "Active if |a| > τ × RMS, τ =", "float", 1.0, lo=0.5, hi=3.0, step=0.25, help="a number"),), order=2, caption=CAPTION)
