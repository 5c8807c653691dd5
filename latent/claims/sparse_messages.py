"""Sparse messages: can a handful of coordinates of a hidden state carry its next-token meaning?

Claim (000, DeepSeek): "we don't transmit the zeros" … "how can a handful of non-zero values in a
4000-dimensional space contain complex thoughts?"

Method: the last token's state at a layer keeps only its top-k coordinates by magnitude (in the
standard basis, in a PCA basis fitted on the corpus, or as a deviation from the mean state) and is
patched back into the forward pass. We measure top-1 agreement and KL against the unpatched
prediction, and the message size (k × (2-byte index + 2-byte fp16 value)) against the text's UTF-8 bytes.
Verdict: the smallest k with ≥ 90 % top-1 agreement in the best basis; holds if k ≤ 16, holds
partly if k ≤ 128, else does not hold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from latent.claims import Claim, Experiment, ExperimentError, ExperimentResult, Param, check_layer, check_prompts, verdict
from latent.style import claim_style

CLAIM = Claim("000_f1b4ac8593ff3a2f.txt", "000", 5,
              "How can a handful of non-zero values in a 4000-dimensional space contain complex thoughts?")
BASES = ("standard", "pca", "mean")
BYTES_PER_VALUE = 4  # uint16 index + fp16 value


def default_prompts() -> list[str]:
    from latent.core.corpus import load_corpus

    d = next(d for d in load_corpus() if d.id == "000")
    return [t.text[:160].rsplit(" ", 1)[0] for t in d.turns[:8]]


def keep_topk(v: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the k largest-magnitude coordinates of v (last axis)."""
    out = np.zeros_like(v)
    idx = np.argsort(-np.abs(v), axis=-1)[..., :k]
    np.put_along_axis(out, idx, np.take_along_axis(v, idx, -1), -1)
    return out


def basis(lm, layer: int):
    """Mean state and PCA components at ``layer``, fitted on corpus text (cached per model/layer)."""
    def fit():
        from latent.claims import corpus_prompts
        from latent.core.hidden import hidden_states

        X = np.concatenate([r.at(layer) for r in hidden_states(lm, corpus_prompts(60), layers=[layer])])
        mu = X.mean(0)
        _, _, vt = np.linalg.svd(X - mu, full_matrices=False)
        if vt.shape[0] < X.shape[1]:  # complete the basis so that k = d is exact
            q, _ = np.linalg.qr(np.concatenate([vt.T, np.eye(X.shape[1])], 1))
            vt = q[:, : X.shape[1]].T
        return mu.astype(np.float64), vt.astype(np.float64)
    return lm.derived(("pca_basis", layer), fit)


def sparsify(h: np.ndarray, k: int, kind: str, mu: np.ndarray, vt: np.ndarray) -> np.ndarray:
    h = h.astype(np.float64)
    if kind == "standard":
        return keep_topk(h, k)
    if kind == "mean":
        return mu + keep_topk(h - mu, k)
    c = (h - mu) @ vt.T
    return mu + keep_topk(c, k) @ vt


def patched_logprobs(lm, prompt: str, layer: int, variants: np.ndarray) -> np.ndarray:
    """Next-token log-probs after ``prompt`` with the last token's layer state replaced by each variant
    ``(V, d)``. The prefix runs once; its KV cache is shared by every variant."""
    import torch

    from latent.core.hidden import encode
    from latent.core.hooks import Plan, use

    ids, _ = encode(lm, prompt)
    dev = lm.model.device
    V = len(variants)
    with torch.inference_mode():
        pre = lm.model(input_ids=torch.tensor([ids[:-1]], device=dev), use_cache=True)
        cache = pre.past_key_values
        cache.batch_repeat_interleave(V)
        vec = torch.as_tensor(variants, dtype=lm.model.dtype, device=dev)[:, None, :]
        plan = Plan(edits={layer: [lambda h: vec.to(h.dtype)]} if layer > 0 else {})
        last = torch.tensor([[ids[-1]]] * V, device=dev)
        pos = torch.full((V, 1), len(ids) - 1, device=dev)
        with use(plan):
            out = lm.model(input_ids=last, past_key_values=cache, position_ids=pos, use_cache=True)
        return torch.log_softmax(out.logits[:, -1].float(), -1).cpu().numpy()


def run(lm, *, prompts=None, layer: int | None = None, ks=None, progress=None) -> ExperimentResult:
    layer = check_layer(lm, lm.depth(0.4) if layer is None else layer)
    if layer == 0:
        raise ExperimentError("Use layer 1 or deeper (layer 0 is the embedding lookup).")
    prompts = check_prompts(lm, prompts or default_prompts(), max_prompts=64)
    d = lm.d_model
    ks = sorted({int(k) for k in (ks or [1, 2, 4, 8, 16, 32, 64, 128, 256, d])})
    if ks[0] < 1 or ks[-1] > d:
        raise ExperimentError(f"k must be between 1 and d = {d}; got {ks[0] if ks[0] < 1 else ks[-1]}.")
    from latent.core.hidden import hidden_states

    mu, vt = basis(lm, layer)
    states = [r.at(layer)[-1] for r in hidden_states(lm, prompts, layers=[layer])]
    rows = []
    for i, (p, h) in enumerate(zip(prompts, states)):
        variants = [h] + [sparsify(h, k, b, mu, vt) for b in BASES for k in ks]
        lp = patched_logprobs(lm, p, layer, np.stack(variants))
        ref = lp[0]
        top = int(ref.argmax())
        for j, (b, k) in enumerate([(b, k) for b in BASES for k in ks], start=1):
            kl = float((np.exp(ref) * (ref - lp[j])).sum())
            rows.append({"prompt": i, "basis": b, "k": k, "bytes": k * BYTES_PER_VALUE,
                         "text_bytes": len(p.encode("utf-8")), "top1_agree": float(lp[j].argmax() == top), "kl": kl})
        if progress:
            progress(i + 1, len(prompts))
    t = pd.DataFrame(rows)
    agg = t.groupby(["basis", "k"], as_index=False).agg(top1_agreement=("top1_agree", "mean"), kl=("kl", "mean"),
                                                        bytes=("bytes", "first"))
    k90 = {b: int(g[g["top1_agreement"] >= 0.9]["k"].min()) if (g["top1_agreement"] >= 0.9).any() else None
           for b, g in agg.groupby("basis")}
    reached = [v for v in k90.values() if v is not None]
    best_k = min(reached) if reached else d + 1
    std = agg[agg["basis"] == "standard"].sort_values("k")
    numbers = {"layer": layer, "d_model": d, "k": std["k"].tolist(),
               "top1_agreement": std["top1_agreement"].round(4).tolist(), "kl": std["kl"].round(5).tolist(),
               "k_for_90pct_by_basis": k90, "best_k_for_90pct": best_k if reached else None,
               "message_bytes_at_best_k": best_k * BYTES_PER_VALUE if reached else None,
               "mean_text_bytes": float(np.mean([len(p.encode()) for p in prompts])), "prompts": len(prompts)}
    v = verdict(best_k, holds=16, partly=128, higher_is_better=False)
    method = ("Each prompt's last-token state at the layer keeps only its k largest coordinates (standard basis, "
              "corpus PCA basis, or deviation from the mean state) and is patched back into the forward pass. "
              "Verdict: smallest k with ≥ 90 % top-1 agreement in the best basis; holds if ≤ 16, partly if ≤ 128.")
    return ExperimentResult("sparse-messages", CLAIM, v, numbers, method, agg,
                            {"layer": layer, "prompts": prompts, "ks": ks})


def figure(r: ExperimentResult) -> go.Figure:
    fig = px.line(r.table, x="bytes", y="top1_agreement", color="basis", markers=True, log_x=True,
                  hover_data=["k", "kl"])
    # a vertical line drawn as data: add_vline on a log axis reads x as log10 (150 bytes became 10^150)
    tb = float(r.numbers["mean_text_bytes"])
    fig.add_trace(go.Scatter(x=[tb, tb], y=[0, 1.02], mode="lines+text", text=["", "UTF-8 bytes of the text"],
                             textposition="top left", name="UTF-8 bytes of the text",
                             line=dict(dash="dash", color="grey")))
    xs = np.concatenate([r.table["bytes"].to_numpy(float), [tb]])
    fig.update_xaxes(range=[np.log10(xs.min()) - 0.1, np.log10(xs.max()) + 0.1])
    fig.add_hline(y=0.9, line_dash="dot", line_color="grey")
    fig.update_yaxes(title="top-1 agreement with the full state", range=[-0.02, 1.05])
    fig.update_xaxes(title="message size in bytes (k × (2-byte index + fp16 value))")
    return claim_style(fig, f"Fidelity against message size · layer {r.numbers['layer']}")


EXPERIMENT = Experiment("sparse-messages", "Sparse messages", CLAIM, run, figure, (
        Param("layer", "Layer", "layer", 0.4, lo=1, help="a layer number"),
        Param("ks", "k values", "ints", None, help="comma-separated whole numbers")), order=1)
