"""Computational economy: are MLP activations sparse, and does density signal confusion?

Claim (003, GPT): "Sparse activation is the economic signal" … dense activation = confusion.

Method: a neuron (an input of an MLP's down-projection) is *active* when |a| exceeds ``tau`` times
the RMS of that token's activations at that layer. We report the active fraction per layer, the
number of top neurons per layer that keep the top-1 prediction when all others are ablated at the
predicting position, and, over ≥ 100 prompts, the Spearman correlation between activation density
and next-token entropy. Verdict from that correlation: holds if r ≥ 0.3, partly if r ≥ 0.1.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from latent.claims import Claim, Experiment, ExperimentResult, Param, check_prompts, corpus_prompts, verdict
from latent.style import claim_style
from latent.core.hooks import Plan, run_plan, use

CLAIM = Claim("003_2c80f816de8fa259.txt", "003", 26,
              "Sparse activation is the economic signal.")
GRID = (8, 16, 32, 64, 128, 256, 512, 1024)


def density(act: np.ndarray, tau: float) -> np.ndarray:
    """Fraction of neurons with |a| > tau * RMS over the last axis."""
    rms = np.sqrt((act ** 2).mean(-1, keepdims=True)) + 1e-12
    return (np.abs(act) > tau * rms).mean(-1)


def last_token_stats(lm, prompts: list[str], tau: float, chunk: int = 16):
    """Per prompt: active fraction per layer at the last position ``(P, layers)`` and next-token entropy."""
    import torch

    from latent.core.hidden import encode, pad_batch

    blocks = list(range(1, lm.n_layers + 1))
    dens, ents = [], []
    for s in range(0, len(prompts), chunk):
        ids = [encode(lm, p)[0] for p in prompts[s:s + chunk]]
        x, mask = pad_batch(lm, ids)
        last = torch.tensor([len(i) - 1 for i in ids])
        plan = Plan(mlp_record=set(blocks))
        out = {}
        with torch.inference_mode():
            run_plan(lambda: out.setdefault("r", lm.model(input_ids=x, attention_mask=mask)), plan)
        rows = torch.arange(len(ids))
        acts = np.stack([plan.mlp_records[b][0][rows, last].float().cpu().numpy() for b in blocks], 1)
        dens.append(density(acts, tau))
        lp = torch.log_softmax(out["r"].logits[rows, last].float(), -1)
        ents.append((-(lp.exp() * lp).sum(-1)).cpu().numpy())
    return np.concatenate(dens), np.concatenate(ents)


def neurons_needed(lm, prompt: str, grid=GRID) -> list[int | None]:
    """Per block: the fewest top-|a| neurons (from ``grid``) that keep the top-1 prediction when every
    other neuron of that block is zeroed at the predicting position (None: even the largest fails)."""
    import torch

    from latent.core.hidden import encode

    ids = encode(lm, prompt)[0]
    dev = lm.model.device
    n_neurons = lm.model.config.intermediate_size
    grid = [g for g in grid if g < n_neurons] + [n_neurons]
    with torch.inference_mode():
        pre = lm.model(input_ids=torch.tensor([ids[:-1]], device=dev), use_cache=True)
        ref = lm.model(input_ids=torch.tensor([ids[-1:]], device=dev), past_key_values=copy.deepcopy(pre.past_key_values),
                       position_ids=torch.tensor([[len(ids) - 1]], device=dev)).logits[0, -1].argmax()
        keep = torch.tensor(grid, device=dev)
        out = []
        for b in range(1, lm.n_layers + 1):
            def ablate(a):
                order = a.abs().argsort(-1, descending=True).argsort(-1)   # rank of each neuron
                return a * (order < keep[:, None, None]).to(a.dtype)
            cache = copy.deepcopy(pre.past_key_values)
            cache.batch_repeat_interleave(len(grid))
            with use(Plan(mlp_edits={b: [ablate]})):
                lg = lm.model(input_ids=torch.tensor([ids[-1:]] * len(grid), device=dev), past_key_values=cache,
                              position_ids=torch.full((len(grid), 1), len(ids) - 1, device=dev)).logits[:, -1]
            ok = (lg.argmax(-1) == ref).cpu().numpy()
            out.append(next((g for g, k in zip(grid, ok) if k), None))
    return out


def run(lm, *, prompts=None, tau: float = 1.0, probe: str | None = None, progress=None) -> ExperimentResult:
    from scipy.stats import spearmanr

    prompts = check_prompts(lm, prompts or corpus_prompts(104, max_chars=100))
    dens, ent = last_token_stats(lm, prompts, tau)
    if progress:
        progress(1, 2)
    probe = probe or "The queen of the hive is served by the worker"
    need = neurons_needed(lm, probe)
    if progress:
        progress(2, 2)
    mean_density = dens.mean(1)
    r, p = spearmanr(mean_density, ent) if len(prompts) >= 3 else (float("nan"), float("nan"))
    layers = list(range(1, lm.n_layers + 1))
    table = pd.DataFrame({"layer": layers, "active_fraction": dens.mean(0), "neurons_needed": need})
    n_neurons = lm.model.config.intermediate_size
    numbers = {"tau": tau, "prompts": len(prompts), "neurons_per_layer": n_neurons,
               "active_fraction_per_layer": [round(float(x), 4) for x in dens.mean(0)],
               "neurons_needed_per_layer": need, "probe": probe,
               "median_needed_fraction": float(np.median([(n or n_neurons) / n_neurons for n in need])),
               "spearman_density_vs_entropy": round(float(r), 4), "p_value": float(p)}
    v = verdict(float(r) if np.isfinite(r) else -1.0, holds=0.3, partly=0.1)
    method = ("Neurons count as active when |a| exceeds tau times the RMS of their token's activations; we correlate "
              "the last token's mean active fraction with its next-token entropy over the prompts (Spearman). "
              "Verdict: holds if r ≥ 0.3, partly if r ≥ 0.1, else does not hold.")
    return ExperimentResult("economy", CLAIM, v, numbers, method, table, {"tau": tau, "n_prompts": len(prompts)})


def figure(r: ExperimentResult) -> go.Figure:
    t = r.table
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t["layer"], y=t["active_fraction"], name="active fraction (|a| > τ·RMS)"))
    fig.add_trace(go.Scatter(x=t["layer"], y=t["neurons_needed"] / r.numbers["neurons_per_layer"], mode="lines+markers",
                             name="fraction of neurons that keep the top-1 prediction", yaxis="y"))
    fig.update_yaxes(title="fraction of the layer's MLP neurons", range=[0, 1])
    fig.update_xaxes(title="layer")
    return claim_style(fig, f"MLP activation economy · density–entropy Spearman r = {r.numbers['spearman_density_vs_entropy']:+.2f}")


EXPERIMENT = Experiment("economy", "Computational economy", CLAIM, run, figure, (
        Param("tau", "Active if |a| > τ × RMS, τ =", "float", 1.0, lo=0.5, hi=3.0, step=0.25, help="a number"),), order=2)
