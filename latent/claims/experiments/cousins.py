"""Quantized cousins: does a quantized copy of the model produce the same outputs as the original?

Claim (004): quantization "alter[s] the model's behavior to the point where it becomes a new
entity — a 'cousin' … it will not produce the same outputs as the original."

Method: the reference is the model in fp32. Cousins are private copies (never the shared model):
bf16; int8 weights with one scale per output channel; int4 weights with one scale per group of 64
inputs (both weight-only, dequantised to fp32 for the matmuls, as most CPU runtimes do); and,
labelled as such, torch's dynamic int8, which also quantises activations per tensor. Over ≥ 50
prompts we measure, against fp32, the share of prompts whose greedy 8-token continuation
differs, the next-token top-1 agreement, and the next-token KL. The floor is fp32 against fp32: a
second copy of the same weights run in another batch layout. A far reference, the other embedded
model (a different model, not a cousin), shows what "different outputs" look like between strangers
(compared on the first word of the continuation, as its vocabulary differs).

Example::

    >>> import torch; w = torch.tensor([[1.0, -0.5, 0.25, 0.0]])
    >>> int8_per_channel(w).tolist()
    [[1.0, -0.5039370059967041, 0.25196850299835205, 0.0]]
"""
from __future__ import annotations

import copy
import gc
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import Evidence, Finding, paired_finding
from latent.claims.framework import Claim, Experiment, ExperimentError, ExperimentResult, Param, check_prompts, corpus_prompts, other_model
from latent.core.generate import generate
from latent.core.hooks import decoder_layers
from latent.core.models import LM
from latent.core.stats import band, bootstrap_ci, clopper_pearson
from latent.style import claim_style

CLAIM = Claim("004_092b597f547f7a3e.txt", "004", 0,
              "Quantization and distillation … alter the model's behavior to the point where it becomes a new "
              "entity—a \"cousin.\" It may be legible and functional, but it will not produce the same outputs as "
              "the original.")
COUSINS = ("fp32 copy (floor)", "bf16", "int8 weights, per channel", "int4 weights, group 64",
           "dynamic int8 (torch.ao, activations too)")
HEADLINE = "int4 weights, group 64"
NEW_TOKENS = 8


def int8_per_channel(w):
    """Symmetric int8 with one scale per output row, dequantised back to w's dtype."""
    s = w.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
    return (w / s).round().clamp(-127, 127) * s


def int4_group(w, group: int = 64):
    """Symmetric int4 (-8..7) with one scale per ``group`` consecutive inputs of each row, dequantised."""
    out_f, in_f = w.shape
    if in_f % group:
        return int8_per_channel(w) if group > in_f else int4_group(w, max(1, in_f // (-(-in_f // group))))
    g = w.reshape(out_f, in_f // group, group)
    s = g.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 7
    return ((g / s).round().clamp(-8, 7) * s).reshape(out_f, in_f)


def make_cousin(lm, kind: str):
    """A private copy of ``lm`` quantised as ``kind`` (the shared model is never touched)."""

    m = copy.deepcopy(lm.model).float()
    if kind == "bf16":
        m = m.to(torch.bfloat16)
    elif kind.startswith("int8") or kind.startswith("int4"):
        fn = int8_per_channel if kind.startswith("int8") else int4_group
        with torch.no_grad():
            for blk in decoder_layers(m):
                for mod in blk.modules():
                    if isinstance(mod, torch.nn.Linear):
                        mod.weight.copy_(fn(mod.weight))
    elif kind.startswith("dynamic"):
        with warnings.catch_warnings():  # torch marks its quantized tensors deprecated; the path still works
            warnings.simplefilter("ignore")
            m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
    dtype = "bfloat16" if kind == "bf16" else "float32"
    return LM(m, lm.tokenizer, f"{lm.name} ({kind})", "cpu", dtype, 0.0, "private copy")


def outputs(lm, prompts: list[str], chunk: int = 0, reverse: bool = False):
    """Greedy continuations (token ids, text) and next-token log-probs, optionally in another batch layout."""

    order = list(range(len(prompts)))[::-1] if reverse else list(range(len(prompts)))
    size = chunk or len(prompts)
    toks, texts, lps = [None] * len(prompts), [None] * len(prompts), [None] * len(prompts)
    for s in range(0, len(order), size):
        idx = order[s:s + size]
        g = generate(lm, [prompts[i] for i in idx], max_new_tokens=NEW_TOKENS)
        for r, i in enumerate(idx):
            toks[i], texts[i], lps[i] = g.token_ids[r], g.texts[r], g.first_logprobs[r]
    return toks, texts, np.stack(lps)


def first_word(text: str) -> str:
    w = text.strip().split()
    return w[0].strip(".,;:!?\"'()").lower() if w else ""


def _outputs_table(lm, prompts, ref, far, other, progress, steps):
    """One row per cousin (and the far reference) and prompt: does its output differ from fp32's?"""
    ref_t, ref_text, ref_lp = ref
    n = len(prompts)
    rows = []
    for j, kind in enumerate(COUSINS):
        c = make_cousin(lm, kind)
        if kind.startswith("fp32"):
            t, text, lp = outputs(c, prompts, chunk=7, reverse=True)
        else:
            t, text, lp = outputs(c, prompts)
        kl = (np.exp(ref_lp) * (ref_lp - lp)).sum(-1)
        for i in range(n):
            rows.append({"cousin": kind, "prompt": i, "continuation_differs": float(t[i] != ref_t[i]),
                         "top1_agrees": float(lp[i].argmax() == ref_lp[i].argmax()), "kl": float(max(kl[i], 0.0)),
                         "first_word_agrees": float(first_word(text[i]) == first_word(ref_text[i]))})
        del c
        gc.collect()
        if progress:
            progress(j + 2, steps)
    far_name = None
    if far:
        other = (other or (lambda: other_model(lm)))()
        far_name = other.name
        _, text, _ = outputs(other, prompts)
        for i in range(n):
            rows.append({"cousin": f"{other.name} (far reference)", "prompt": i, "continuation_differs": np.nan,
                         "top1_agrees": np.nan, "kl": np.nan,
                         "first_word_agrees": float(first_word(text[i]) == first_word(ref_text[i]))})
        if progress:
            progress(steps, steps)
    return pd.DataFrame(rows), far_name


def _pct(x: float, ci) -> str:
    return f"{x:.0%} [{ci[0]:.0%}, {ci[1]:.0%}]"


def cousin_sentence(numbers: dict) -> str:
    """The tab's key sentence, from the result's numbers alone: the int4 cousin against the fp32-copy floor,
    then against the unrelated-model control, and what that control shows.

    >>> by = {"fp32 copy (floor)": {"continuation_differs": 0.0, "differs_ci": [0.0, 0.07]},
    ...       HEADLINE: {"continuation_differs": 0.94, "differs_ci": [0.83, 0.99], "first_word_agreement": 0.5,
    ...                  "first_word_ci": [0.36, 0.64]}}
    >>> s = cousin_sentence({"prompts": 50, "by_cousin": by, "far_reference": "gemma-3-270m",
    ...                      "far_first_word": {"effect": 0.58, "ci": [0.43, 0.71], "n": 50},
    ...                      "cousin_minus_far": {"effect": -0.08, "ci": [-0.24, 0.08], "n": 50}})
    >>> "no closer to the original than an unrelated model" in s
    True
    """
    by, n = numbers["by_cousin"], numbers["prompts"]
    c, f = by[HEADLINE], by[COUSINS[0]]
    differs = c["differs_ci"][0] > f["differs_ci"][1]
    s = (f"The int4 cousin's {NEW_TOKENS}-token continuation differs from fp32's on {_pct(c['continuation_differs'], c['differs_ci'])}"
         f" of {n} prompts, against {_pct(f['continuation_differs'], f['differs_ci'])} for an fp32 copy (the floor): "
         + ("its outputs are not the original's." if differs else "not clearly more than the floor."))
    far = numbers.get("far_reference")
    if not far or "cousin_minus_far" not in numbers:
        return s + " No unrelated model was run (far = 0), so whether the cousin stays closer to the original than a " \
                   "stranger is not measured."
    d, g = numbers["cousin_minus_far"], numbers["far_first_word"]
    s += (f" Against an unrelated model ({far}): the cousin's first word agrees with fp32's on "
          f"{_pct(c['first_word_agreement'], c['first_word_ci'])}, {far}'s on {_pct(g['effect'], g['ci'])} (cousin minus "
          f"unrelated {d['effect']:+.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}], n = {d['n']})")
    if d["ci"][0] > 0:
        return s + ": the cousin stays closer to the original than a stranger does; different outputs, but a relative's."
    if d["ci"][1] < 0:
        return s + ": on this measure the cousin agrees with the original less than an unrelated model does."
    return s + (": on this measure the cousin is no closer to the original than an unrelated model is, so these numbers "
                "do not show a close relative, only different outputs.")


def run(lm, *, prompts=None, n_prompts: int = 50, far: int = 1, seed: int = 0, progress=None,
        other=None) -> ExperimentResult:
    if not 10 <= int(n_prompts) <= 200:
        raise ExperimentError("n_prompts must be 10-200.")
    prompts = check_prompts(lm, prompts or corpus_prompts(int(n_prompts), max_chars=100))
    n = len(prompts)
    steps = len(COUSINS) + 1 + bool(far)
    ref_t, ref_text, ref_lp = outputs(lm, prompts)
    if progress:
        progress(1, steps)
    t, far_name = _outputs_table(lm, prompts, (ref_t, ref_text, ref_lp), far, other, progress, steps)

    def stats(kind):
        g = t[t["cousin"] == kind]
        k = int(g["continuation_differs"].sum()) if kind in COUSINS else 0
        return {"differs": k, "differs_share": k / n, "differs_ci": clopper_pearson(k, n),
                "top1": float(g["top1_agrees"].mean()), "kl": float(g["kl"].mean()),
                "kl_ci": bootstrap_ci(g["kl"], seed=seed), "first_word": float(g["first_word_agrees"].mean()),
                "first_word_ci": clopper_pearson(int(g["first_word_agrees"].sum()), n)}
    st = {k: stats(k) for k in COUSINS}
    floor = st[COUSINS[0]]
    findings = []
    for kind in COUSINS[1:]:
        s = st[kind]
        findings.append(Finding(f"{kind}: share of prompts whose greedy {NEW_TOKENS}-token continuation differs from fp32",
                                s["differs_share"], s["differs_ci"], n, "fp32 vs fp32 copy (floor), 95 % exact interval",
                                floor["differs_ci"], null_effect=floor["differs_share"]))
        findings.append(Finding(f"{kind}: mean next-token KL from fp32 (nats)", s["kl"], s["kl_ci"], n,
                                "fp32 vs fp32 copy (floor), bootstrap 95 %", band(t[t["cousin"] == COUSINS[0]]["kl"]) if n else (0, 0),
                                null_effect=floor["kl"]))
    head = next(f for f in findings if f.measure.startswith(HEADLINE) and "continuation" in f.measure)
    more = [f for f in findings if f is not head]
    if far:
        g = t[t["cousin"].str.endswith("(far reference)")]["first_word_agrees"]
        c4 = t[t["cousin"] == HEADLINE]["first_word_agrees"].to_numpy()
        d = c4 - g.to_numpy()
        vs_far = paired_finding(f"first word agrees with fp32: int4 cousin minus {far_name}, an unrelated model (does the "
                                "cousin stay closer to the original than a stranger?)", d, seed,
                                control=f"{far_name}, an unrelated model")
        more.append(vs_far)
    ev = Evidence(
        tested=(f"Whether quantised copies of {lm.name} produce different outputs from the fp32 'original' on {n} prompts "
                "(that original is itself the embedded GGUF dequantised to fp32, not the training checkpoint): "
                f"greedy {NEW_TOKENS}-token continuations and next-token distributions, for bf16, per-channel int8, "
                "group-wise int4 and dynamic int8 cousins, each against an fp32-vs-fp32 floor measured in the same run. "
                f"The verdict uses the int4 cousin (group 64, the usual deployment setting)."),
        not_tested=("Distillation (no distilled copy of these models ships with the app); whether the cousin is a 'new "
                    "entity' beyond its outputs; long generations, sampling, or quality on tasks. The embedded weights "
                    "are themselves a dequantised GGUF, so 'fp32' here means the GGUF weights run in fp32, not the "
                    "original training checkpoint."),
        finding=head, more=more)
    other = [f for f in findings if "continuation" in f.measure and f.verdict != head.verdict]
    if other:
        ev.caveat = ("the verdict is about the int4 cousin; the other cousins differ: " + "; ".join(
            f"{f.measure.split(':')[0]}: {f.effect:.0%} of continuations changed, {f.verdict}" for f in other) + ".")
    numbers = {"prompts": n, "new_tokens": NEW_TOKENS, "far_reference": far_name,
               "by_cousin": {k: {"continuation_differs": round(v["differs_share"], 4),
                                 "differs_ci": [round(x, 4) for x in v["differs_ci"]],
                                 "top1_agreement": round(v["top1"], 4), "kl_mean": round(v["kl"], 6),
                                 "first_word_agreement": round(v["first_word"], 4),
                                 "first_word_ci": [round(x, 4) for x in v["first_word_ci"]]} for k, v in st.items()}}
    if far:
        numbers["far_first_word_agreement"] = round(float(g.mean()), 4)
        numbers["far_first_word"] = {"effect": round(float(g.mean()), 4), "n": n,
                                     "ci": [round(x, 4) for x in clopper_pearson(int(g.sum()), n)]}
        numbers["cousin_minus_far"] = {"effect": round(vs_far.effect, 4), "ci": [round(x, 4) for x in vs_far.ci],
                                       "n": vs_far.n}
    ev.headline = cousin_sentence(numbers)
    method = ("Cousins are private quantised copies; each is compared with the fp32 model on the same prompts "
              "(greedy continuation, next-token top-1 and KL), beside an fp32-vs-fp32 floor and a different model "
              "as far reference.")
    agg = (t.groupby("cousin", sort=False).agg(continuation_differs=("continuation_differs", "mean"),
                                               top1_agreement=("top1_agrees", "mean"), kl=("kl", "mean"),
                                               first_word_agreement=("first_word_agrees", "mean")).reset_index())
    agg["n"] = n
    return ExperimentResult("cousins", CLAIM, ev, numbers, method, agg, {"n_prompts": n, "far": int(bool(far))})


CAPTION = ("A bar is one model variant (grey: the fp32-copy floor, blue: quantised cousins, red: the other model); left y is the share"
           " of prompts whose 8-token continuation differs from fp32 (95 % exact interval; grey band: the floor's), right y the share "
           "whose first word agrees.")


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    t = r.table
    fig = make_subplots(1, 2, subplot_titles=(tr("continuation differs from fp32", lang), tr("first word agrees with fp32", lang)))
    by = r.numbers["by_cousin"]
    names = [c for c in t["cousin"] if c in by]
    k = np.array([by[c]["continuation_differs"] for c in names])
    ci = np.array([by[c]["differs_ci"] for c in names])
    colors = ["#7f7f7f"] + ["#1f77b4"] * (len(names) - 1)
    fig.add_trace(go.Bar(x=names, y=k, marker_color=colors, name=tr("differs (95 % exact interval)", lang),
                         error_y=dict(type="data", array=ci[:, 1] - k, arrayminus=k - ci[:, 0])), 1, 1)
    fig.add_hrect(y0=ci[0][0], y1=ci[0][1], fillcolor="grey", opacity=0.2, line_width=0, row=1, col=1)
    fig.add_trace(go.Bar(x=t["cousin"], y=t["first_word_agreement"], name=tr("first-word agreement", lang),
                         marker_color=["#7f7f7f"] + ["#1f77b4"] * (len(names) - 1) + ["#d62728"] * (len(t) - len(names))), 1, 2)
    fig.update_yaxes(range=[0, 1.05])
    fig.update_xaxes(tickangle=25)
    return claim_style(fig, tr("Quantised cousins against fp32 · n = {n} prompts · grey band: fp32-copy floor", lang,
                               n=r.numbers["prompts"]))


EXPERIMENT = Experiment("cousins", "Quantised cousins", CLAIM, run, figure, (
        Param("n_prompts", "Prompts", "int", 50, lo=10, hi=200, step=10, help="a whole number"),
        Param("far", "Far reference (the other embedded model; loads it)", "int", 1, lo=0, hi=1, step=1,
              help="0 or 1")), order=5, caption=CAPTION, needs_other=True)
