"""The giant prompt × next-token matrix: how concentrated are its rows, and do unlikely concepts
push the model into the long tail?

Claim (004): "a giant matrix where each row is a possible prompt and columns represent next-token
probabilities … extremely sparse, as most token combinations are gibberish" and "prompts that
combine unlikely concepts … force the model … to search the long tail".

Method: a softmax gives every token a non-zero probability, so no row is literally sparse. We
measure **concentration**: the probability mass of the top 100 of V next tokens (uniform would be
100/V). Real prompts are compared, pair by pair, with the same words shuffled (the headline), and
with random-token gibberish of the same length; the uniform level is drawn as a reference. The
per-token log-probability of each prompt shows how much likelier real text is than gibberish. For
the long tail, 30 sentence frames are filled once with an ordinary and once with an unlikely
concept, and next-token entropy is compared pair by pair against a sign-flip null.

Example::

    >>> lp = np.log(np.array([[0.5, 0.25, 0.25]]))
    >>> float(topk_mass(lp, (1,))[1][0])
    0.5
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from latent.chart_words import tr
from latent.claims.evidence import Evidence, paired_finding
from latent.claims.framework import Claim, Experiment, ExperimentResult, Param, check_prompts, corpus_prompts
from latent.core.generate import continuation_logprobs
from latent.core.hidden import encode, left_pad, start_ids
from latent.core.stats import bootstrap_ci, rng
from latent.style import claim_style

CLAIM = Claim("004_092b597f547f7a3e.txt", "004", 0,
              "A useful mental model for an LLM is a giant matrix where each row is a possible prompt and columns "
              "represent next-token probabilities. This matrix is impossibly large but also extremely sparse.")
K = 100
# (frame, ordinary concept, unlikely concept): the same sentence, one word apart
FRAMES = [
    ("The {} cooked dinner for the", "chef", "glacier"), ("The {} barked at the", "dog", "spreadsheet"),
    ("A {} landed on the runway next to the", "plane", "violin"), ("The {} filed a tax return for the", "accountant", "octopus"),
    ("My {} taught a lesson about the", "teacher", "volcano"), ("The {} repaired the engine of the", "mechanic", "nebula"),
    ("A {} swam across the", "fish", "cathedral"), ("The {} wrote a poem about the", "poet", "refrigerator"),
    ("The {} played a song for the", "band", "asteroid"), ("A {} delivered the mail to the", "postman", "jellyfish"),
    ("The {} treated the patient in the", "doctor", "sandwich"), ("The {} grew tomatoes in the", "gardener", "submarine"),
    ("A {} sang in the", "choir", "tornado"), ("The {} baked bread for the", "baker", "comet"),
    ("The {} painted a portrait of the", "artist", "cactus"), ("A {} guarded the gate of the", "soldier", "teacup"),
    ("The {} flew over the", "eagle", "parliament"), ("The {} milked the cows on the", "farmer", "algorithm"),
    ("A {} chased the mouse into the", "cat", "bureaucracy"), ("The {} drove the bus to the", "driver", "glacier"),
    ("The {} sailed the ship across the", "captain", "photosynthesis"), ("A {} read the news to the", "presenter", "molecule"),
    ("The {} built a house for the", "carpenter", "thunderstorm"), ("The {} sold fresh fish at the", "fishmonger", "galaxy"),
    ("A {} climbed the mountain with the", "hiker", "spreadsheet"), ("The {} cleaned the windows of the", "janitor", "metaphor"),
    ("The {} directed traffic near the", "policeman", "pancake"), ("A {} fixed the leaking pipe in the", "plumber", "sonnet"),
    ("The {} examined the teeth of the", "dentist", "equation"), ("The {} planted seeds in the", "farmer", "symphony"),
]


def next_logprobs(lm, prompts: list[str]) -> np.ndarray:
    """``(P, vocab)`` next-token log-probs after each prompt (one left-padded batch: every prompt's last
    token in the last column, the only one that reaches the LM head)."""

    ids = [encode(lm, p)[0] for p in prompts]
    x, mask, pos = left_pad(lm, ids)
    with torch.inference_mode():
        logits = lm.model(input_ids=x, attention_mask=mask, position_ids=pos, logits_to_keep=1).logits[:, -1]
    return torch.log_softmax(logits.float(), -1).cpu().numpy()


def text_logprob(lm, prompts: list[str]) -> np.ndarray:
    """Mean log-probability per token of each prompt's own tokens (after the start token)."""

    s = len(start_ids(lm.tokenizer))
    ids = [encode(lm, p)[0] for p in prompts]
    return np.array(continuation_logprobs(lm, [i[:max(s, 1)] for i in ids], [i[max(s, 1):] for i in ids]))


def topk_mass(logp: np.ndarray, ks=(K,)) -> dict[int, np.ndarray]:
    p = np.sort(np.exp(logp), axis=-1)[:, ::-1]
    c = np.cumsum(p, axis=-1)
    return {k: c[:, k - 1] for k in ks}


def entropy(logp: np.ndarray) -> np.ndarray:
    return -(np.exp(logp) * logp).sum(-1)


def shuffled(prompts: list[str], seed: int) -> list[str]:
    """Each prompt with its words in a seeded random order (same words, no sense)."""
    out = []
    for i, p in enumerate(prompts):
        w = p.split()
        out.append(" ".join(rng(seed, "shuffle", i).permutation(w)) if len(w) > 1 else p)
    return out


def gibberish(lm, prompts: list[str], seed: int) -> list[str]:
    """Random-token strings with as many tokens as each prompt (ordinary vocabulary ids only)."""
    tok = lm.tokenizer
    special = set(tok.all_special_ids)
    out = []
    for i, p in enumerate(prompts):
        n = len(tok(p, add_special_tokens=False).input_ids)
        g = rng(seed, "gibberish", i)
        ids = [int(t) for t in g.integers(0, len(tok), size=4 * n) if int(t) not in special][:n]
        out.append(tok.decode(ids).strip() or "x")
    return out


def run(lm, *, prompts=None, seed: int = 0, progress=None) -> ExperimentResult:
    prompts = check_prompts(lm, prompts or corpus_prompts(60, max_chars=100))
    n = len(prompts)
    groups = {"real prompts": prompts, "same words shuffled": shuffled(prompts, seed),
              "random-token gibberish": gibberish(lm, prompts, seed)}
    lp = {g: next_logprobs(lm, p) for g, p in groups.items()}
    mass = {g: topk_mass(x)[K] for g, x in lp.items()}
    tlp = {g: text_logprob(lm, p) for g, p in groups.items()}
    if progress:
        progress(1, 2)
    ordinary = [f.format(a) for f, a, _ in FRAMES]
    unlikely = [f.format(b) for f, _, b in FRAMES]
    e_ord, e_unl = entropy(next_logprobs(lm, ordinary)), entropy(next_logprobs(lm, unlikely))
    if progress:
        progress(2, 2)
    V = int(lp["real prompts"].shape[1])
    d = mass["real prompts"] - mass["same words shuffled"]
    head = paired_finding(f"concentration (top-{K} mass of {V:,} tokens): real prompt minus the same words shuffled",
                          d, seed, control="the same words shuffled")
    dg = mass["real prompts"] - mass["random-token gibberish"]
    dt = tlp["real prompts"] - tlp["random-token gibberish"]
    de = e_unl - e_ord
    more = [
        paired_finding("concentration: real prompt minus random-token gibberish of the same length", dg, seed,
                       control="gibberish of the same length"),
        paired_finding("log-probability per token: real prompt minus gibberish (nats; how much likelier real text is)",
                       dt, seed, control="gibberish of the same length"),
        paired_finding("long tail: next-token entropy, unlikely concept minus ordinary concept in the same frame (nats)",
                       de, seed, control="the ordinary concept in the same frame")]
    ev = Evidence(
        tested=(f"Whether a real prompt's row of next-token probabilities is more concentrated (top-{K} mass of {V:,} "
                f"tokens) than the row for the same words shuffled, over {n} prompts from the seeds, paired; with "
                "gibberish rows and the uniform level as references. Also whether real text is likelier than random token "
                f"strings, and whether an unlikely concept raises next-token entropy ({len(FRAMES)} paired frames)."),
        not_tested=("Literal sparsity: a softmax never gives exactly zero, so no row has zeros; the matrix over all "
                    "possible prompts (only sampled rows are measured); whether the model 'searches its knowledge base' "
                    "or surfaces rarer facts for unlikely prompts (higher entropy is measured, not rarer knowledge)."),
        finding=head, more=more)
    rows = [{"group": g, "prompt": i, "top100_mass": float(m[i]), "logprob_per_token": float(tlp[g][i])}
            for g, m in mass.items() for i in range(n)]
    rows += [{"group": g, "prompt": i, "entropy": float(e[i])} for g, e in (("ordinary concept", e_ord),
                                                                            ("unlikely concept", e_unl)) for i in range(len(FRAMES))]
    numbers = {"prompts": n, "vocab": V, "uniform_top100_mass": round(K / V, 6),
               "top100_mass_mean": {g: round(float(m.mean()), 4) for g, m in mass.items()},
               "top100_mass_ci": {g: [round(x, 4) for x in bootstrap_ci(m, seed=seed)] for g, m in mass.items()},
               "logprob_per_token_mean": {g: round(float(x.mean()), 3) for g, x in tlp.items()},
               "entropy_ordinary": round(float(e_ord.mean()), 3), "entropy_unlikely": round(float(e_unl.mean()), 3),
               "frames": len(FRAMES)}
    method = (f"Concentration = probability mass of the top {K} next tokens. Real prompts are compared with the same "
              "words shuffled (paired), random-token gibberish and the uniform level; 30 frames filled with an ordinary "
              "or an unlikely concept compare next-token entropy. Intervals: bootstrap over prompts; nulls: sign flips.")
    return ExperimentResult("sparse-matrix", CLAIM, ev, numbers, method, pd.DataFrame(rows), {"n_prompts": n})


CAPTION = ('A point is one prompt (one row of the next-token matrix), grouped and coloured by kind; left y is the probability mass on '
           'its 100 likeliest tokens (dashed: a uniform row); right y is the next-token entropy for ordinary against unlikely '
           'concepts.')


def figure(r: ExperimentResult, lang: str = "en") -> go.Figure:
    t = r.table
    fig = make_subplots(1, 2, subplot_titles=(tr("top-{k} mass of each row", lang, k=K), tr("next-token entropy (nats)", lang)))
    colors = {"real prompts": "#1f77b4", "same words shuffled": "#7f7f7f", "random-token gibberish": "#bcbd22",
              "ordinary concept": "#1f77b4", "unlikely concept": "#d62728"}
    for g in ("real prompts", "same words shuffled", "random-token gibberish"):
        s = t[t["group"] == g]
        fig.add_trace(go.Box(y=s["top100_mass"], name=tr(g, lang), marker_color=colors[g], boxpoints="all", jitter=0.4,
                             pointpos=0), 1, 1)
    u = r.numbers["uniform_top100_mass"]
    fig.add_trace(go.Scatter(x=[tr("real prompts", lang), tr("random-token gibberish", lang)], y=[u, u], mode="lines",
                             line=dict(dash="dash", color="black"), name=tr("uniform row ({u})", lang, u=f"{u:.4f}")), 1, 1)
    for g in ("ordinary concept", "unlikely concept"):
        s = t[t["group"] == g]
        fig.add_trace(go.Box(y=s["entropy"], name=tr(g, lang), marker_color=colors[g], boxpoints="all", jitter=0.4,
                             pointpos=0), 1, 2)
    fig.update_yaxes(range=[0, 1.02], title=tr("probability mass", lang), row=1, col=1)
    return claim_style(fig, tr("How concentrated a row of the matrix is · vocabulary {vocab} · n = {n}", lang,
                               vocab=f"{r.numbers['vocab']:,}", n=r.numbers["prompts"]))


EXPERIMENT = Experiment("sparse-matrix", "The giant sparse matrix", CLAIM, run, figure, (
        Param("prompts", "Prompt set (one per line; empty = 60 prompts from the seeds)", "texts", None,
              help="prompts separated by |"),), order=4, caption=CAPTION)
