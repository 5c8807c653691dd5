"""The giant sparse matrix: how concentrated is a row of next-token probabilities?

Claim (004): "a giant matrix where each row is a possible prompt and columns represent next-token
probabilities … extremely sparse"; unlikely concepts force the long tail; quantized models are
"cousins" that "will not produce the same outputs".

Method: over a prompt set we measure the probability mass of the top 1, 10 and 100 next tokens;
compare entropy and the rank of sampled tokens for "unlikely concept" prompts against ordinary ones;
and compare greedy continuations and next-token KL of the model in fp32, bf16 and int8 (torch dynamic
quantization, on private copies). Verdict from the mean top-100 mass: holds if ≥ 0.9, partly if ≥ 0.7.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from latent.claims import Claim, Experiment, ExperimentResult, Param, check_prompts, corpus_prompts, verdict
from latent.style import claim_style

CLAIM = Claim("004_092b597f547f7a3e.txt", "004", 0,
              "A useful mental model for an LLM is a giant matrix where each row is a possible prompt and columns "
              "represent next-token probabilities. This matrix is impossibly large but also extremely sparse.")
ORDINARY = ["The cat sat on the", "I went to the store to buy some", "The capital of France is",
            "She opened the door and", "Water boils at one hundred degrees", "The sun rises in the"]
UNLIKELY = ["The submarine's violin reviewed a tax form about the", "Photosynthesis negotiated with the medieval spreadsheet",
            "A jazz volcano taught quantum knitting to the", "The glacier's cryptocurrency whispered to a sandwich",
            "Origami tectonics explains why the octopus", "A bureaucratic nebula filed the moon's"]
KS = (1, 10, 100)


def next_logprobs(lm, prompts: list[str]) -> np.ndarray:
    """``(P, vocab)`` next-token log-probs after each prompt (one right-padded batch)."""
    import torch

    from latent.core.hidden import encode, pad_batch

    ids = [encode(lm, p)[0] for p in prompts]
    x, mask = pad_batch(lm, ids)
    with torch.inference_mode():
        logits = lm.model(input_ids=x, attention_mask=mask).logits
    last = torch.tensor([len(i) - 1 for i in ids])
    return torch.log_softmax(logits[torch.arange(len(ids)), last].float(), -1).cpu().numpy()


def topk_mass(logp: np.ndarray, ks=KS) -> dict[int, np.ndarray]:
    p = np.sort(np.exp(logp), axis=-1)[:, ::-1]
    c = np.cumsum(p, axis=-1)
    return {k: c[:, k - 1] for k in ks}


def entropy(logp: np.ndarray) -> np.ndarray:
    return -(np.exp(logp) * logp).sum(-1)


def sampled_ranks(lm, prompts: list[str], n: int = 8, seed: int = 0) -> np.ndarray:
    """Rank (0 = most likely) of each sampled token under its own distribution, per prompt."""
    import torch

    from latent.core.generate import generate

    g = generate(lm, prompts, max_new_tokens=n, do_sample=True, temperature=1.0, top_k=0, seeds=[seed] * len(prompts))
    ranks = []
    for prompt_ids, toks in zip(g.prompt_ids, g.token_ids):
        ids = torch.tensor([prompt_ids + toks])  # the start token and the prompt, as generated
        with torch.inference_mode():
            lg = lm.model(input_ids=ids).logits[0].float()
        start = ids.shape[1] - len(toks) - 1
        r = [(lg[start + i] > lg[start + i, t]).sum().item() for i, t in enumerate(toks)]
        ranks.append(float(np.mean(r)))
    return np.array(ranks)


def cousins(lm, prompts: list[str], n: int = 10) -> dict:
    """Greedy continuations and first-token KL of fp32 vs bf16 vs int8 copies (never the shared model)."""
    import torch

    from latent.core.generate import generate
    from latent.core.models import LM

    base = generate(lm, prompts, max_new_tokens=n)
    out = {}
    for name in ("bfloat16", "int8"):
        m = copy.deepcopy(lm.model).float()
        if name == "bfloat16":
            m = m.to(torch.bfloat16)
        else:
            with warnings.catch_warnings():  # torch marks its quantized tensors deprecated; the path still works
                warnings.simplefilter("ignore")
                m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
        cousin = LM(m, lm.tokenizer, f"{lm.name} ({name})", "cpu", name, 0.0, "copy")
        g = generate(cousin, prompts, max_new_tokens=n)
        p = np.exp(base.first_logprobs)
        kl = (p * (base.first_logprobs - g.first_logprobs)).sum(-1)
        out[name] = {"diverged": float(np.mean([a != b for a, b in zip(base.token_ids, g.token_ids)])),
                     "kl_first_token": float(kl.mean())}
        del m, cousin
    return out


def run(lm, *, prompts=None, progress=None) -> ExperimentResult:
    prompts = check_prompts(lm, prompts or corpus_prompts(40, max_chars=100))
    lp = next_logprobs(lm, prompts)
    mass = topk_mass(lp)
    if progress:
        progress(1, 3)
    lo, lu = next_logprobs(lm, ORDINARY), next_logprobs(lm, UNLIKELY)
    ro, ru = sampled_ranks(lm, ORDINARY), sampled_ranks(lm, UNLIKELY)
    if progress:
        progress(2, 3)
    cz = cousins(lm, ORDINARY[:4])
    if progress:
        progress(3, 3)
    rows = [{"group": "prompt set", "k": k, "mass": float(mass[k].mean())} for k in KS]
    rows += [{"group": g, "k": k, "mass": float(topk_mass(x)[k].mean())} for g, x in (("ordinary", lo), ("unlikely", lu))
             for k in KS]
    table = pd.DataFrame(rows)
    top100 = float(mass[100].mean())
    numbers = {"prompts": len(prompts), "vocab": int(lp.shape[1]),
               "topk_mass": {str(k): round(float(mass[k].mean()), 4) for k in KS},
               "entropy_ordinary": round(float(entropy(lo).mean()), 3), "entropy_unlikely": round(float(entropy(lu).mean()), 3),
               "sampled_rank_ordinary": round(float(ro.mean()), 2), "sampled_rank_unlikely": round(float(ru.mean()), 2),
               "cousins": cz,
               "cousins_verdict": verdict(max(v["diverged"] for v in cz.values()), holds=0.5, partly=0.01)}
    v = verdict(top100, holds=0.9, partly=0.7)
    method = (f"Over {len(prompts)} prompts we measure the next-token probability mass held by the top 1, 10 and 100 of "
              f"{lp.shape[1]:,} tokens, and compare unlikely-concept prompts and quantized cousins. Verdict from the mean "
              "top-100 mass: holds if ≥ 0.9, partly if ≥ 0.7 (the cousins get their own verdict from the share of diverging continuations).")
    return ExperimentResult("sparse-matrix", CLAIM, v, numbers, method, table, {"n_prompts": len(prompts)})


def figure(r: ExperimentResult) -> go.Figure:
    fig = px.bar(r.table, x="k", y="mass", color="group", barmode="group", text_auto=".2f")
    fig.update_xaxes(title="top-k next tokens", type="category")
    fig.update_yaxes(title="probability mass", range=[0, 1.05])
    return claim_style(fig, f"How much of a row of the matrix the top-k tokens hold (vocabulary {r.numbers['vocab']:,})")


EXPERIMENT = Experiment("sparse-matrix", "The giant sparse matrix", CLAIM, run, figure, (
        Param("prompts", "Prompt set (one per line; empty = 40 prompts from the seeds)", "texts", None,
              help="prompts separated by |"),), order=4)
