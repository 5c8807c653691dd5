"""The quality card of a dictionary, on held-out text it never saw (SAEBench's core metrics).

Every figure is measured on the held-out states at the dictionary's layer, massive states left out
(:mod:`latent.core.massive`; the card says how many and where they sit), and the same figures are given for
a random dictionary (:func:`latent.concepts.sae.random_like`: random unit-norm decoder, same ``k``,
encoder = decoder transposed, same ``b_dec``), because a trained dictionary must clearly beat it.

- **L0**: active features per token (mean).
- **FVE**: fraction of variance explained, ``1 − Σ‖x − x̂‖² / Σ‖x − x̄‖²`` (x̄: the held-out states' mean).
- **Loss recovered**: the dictionary spliced in at its layer (every text token's state replaced by its
  reconstruction; the start token and massive states pass unchanged), next-token cross-entropy against
  the same positions zero-ablated or mean-ablated: ``(CE_ablated − CE_spliced) / (CE_ablated − CE_clean)``.
- **KL**: mean per-token KL divergence of the spliced model's next-token distribution from the clean one.
- **Dead fraction**: features that never fire on the held-out tokens (SAEBench counts it on ≥ 100k tokens; the
  card says how many it saw). **Dense fraction**: features that fire on more than 10 % of tokens.

Means carry n (tokens) and a 95 % bootstrap interval over texts (tokens of one text are not independent);
the two fractions carry the number of features and a Clopper-Pearson interval (:mod:`latent.core.stats`).

Example::

    >>> c = quality_card(lm, sae, heldout_texts)           # doctest: +SKIP
    >>> c.trained["fve"].value > c.random["fve"].value      # doctest: +SKIP
    True
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from latent.concepts.collect import States, collect
from latent.concepts.sae import SAE, DictionaryError, random_like, splice_edit
from latent.core.hidden import encode, pad_batch, start_ids
from latent.core.hooks import Plan, use
from latent.core.massive import massive_rule
from latent.core.stats import bootstrap_ci, clopper_pearson, rng
from latent.core.store import memo, store

DENSE = 0.10                 # a feature firing on more than this share of tokens is dense
DEAD_TOKENS = 100_000        # SAEBench's minimum held-out tokens for the dead fraction
LOGIT_BUDGET = 2 ** 25       # rows × vocab floats per splice batch (~128 MB of logits)


@dataclass
class Figure:
    """One figure of the card: its value, 95 % interval, n and how the interval was made."""

    value: float
    lo: float
    hi: float
    n: int
    how: str

    def to_json(self) -> dict:
        r = lambda v: None if v is None or not np.isfinite(v) else round(float(v), 6)  # noqa: E731
        return {"value": r(self.value), "ci": [r(self.lo), r(self.hi)], "n": int(self.n), "interval": self.how}


def _boot(per_text_num: np.ndarray, per_text_den: np.ndarray, fn, seed: int, n_tokens: int) -> Figure:
    """``fn(Σnum, Σden)`` over all texts, with a bootstrap interval resampling texts."""
    num, den = np.asarray(per_text_num, float), np.asarray(per_text_den, float)
    value = fn(num.sum(0), den.sum(0))
    def stat(i):                    # bootstrap_ci hands the resampled indices as floats
        i = i.astype(int)
        return fn(num[i].sum(0), den[i].sum(0))
    lo, hi = bootstrap_ci(np.arange(len(num)), seed=seed, stat=stat, n_boot=1000)
    return Figure(float(value), lo, hi, n_tokens, "bootstrap over texts")


def _per_text(values: np.ndarray, text_index: np.ndarray, n_texts: int) -> np.ndarray:
    out = np.zeros((n_texts,) + values.shape[1:])
    np.add.at(out, text_index, values)
    return out


def reconstruction_figures(X: np.ndarray, Xhat: np.ndarray, acts: np.ndarray, text_index: np.ndarray | None = None,
                           *, seed: int = 0) -> dict[str, Figure]:
    """L0, FVE, dead and dense fractions of one dictionary on states ``X (n, d)``, its reconstructions
    ``Xhat`` and activations ``acts (n, d_sae)``; ``text_index`` groups tokens into texts for the intervals
    (default: each token its own text)."""
    X, Xhat, acts = (np.asarray(a, np.float64) for a in (X, Xhat, acts))
    n, d_sae = acts.shape
    if n == 0:
        raise DictionaryError("No held-out states to score the dictionary on (every one was massive or the texts were empty).")
    ti = np.arange(n) if text_index is None else np.unique(np.asarray(text_index), return_inverse=True)[1]
    T = int(ti.max()) + 1
    active = acts > 0
    ones = _per_text(np.ones(n), ti, T)
    l0 = _boot(_per_text(active.sum(1).astype(float), ti, T), ones, lambda a, b: a / b, seed, n)
    sse = _per_text(((X - Xhat) ** 2).sum(1), ti, T)
    sst = _per_text(((X - X.mean(0)) ** 2).sum(1), ti, T)
    fve = _boot(sse, sst, lambda a, b: 1 - a / b if b > 0 else float("nan"), seed, n)
    fires = active.sum(0)
    dead, dense = int((fires == 0).sum()), int((fires > DENSE * n).sum())
    return {"l0": l0, "fve": fve,
            "dead": Figure(dead / d_sae, *clopper_pearson(dead, d_sae), d_sae, f"Clopper-Pearson over features; {n} tokens seen"),
            "dense": Figure(dense / d_sae, *clopper_pearson(dense, d_sae), d_sae, "Clopper-Pearson over features")}


def loss_recovered(ce_clean: float, ce_spliced: float, ce_ablated: float) -> float:
    """``(CE_ablated − CE_spliced) / (CE_ablated − CE_clean)``: 1 = the splice costs nothing, 0 = as bad as ablation.

    >>> loss_recovered(2.0, 2.1, 6.0)
    0.975
    """
    gap = ce_ablated - ce_clean
    return float("nan") if gap == 0 else round((ce_ablated - ce_spliced) / gap, 12)


@dataclass
class QualityCard:
    """A dictionary's figures (``trained``) beside a random dictionary's (``random``) on the same held-out text."""

    model: str
    layer: int
    dictionary: dict
    texts: int
    tokens: int
    kept: int
    massive: dict
    trained: dict[str, Figure]
    random: dict[str, Figure]
    ce: dict = field(default_factory=dict)       # mean next-token cross-entropy (nats): clean, spliced, zero, mean, random
    seed: int = 0
    splice: dict = field(default_factory=dict)   # the held-out texts the splice figures ran on (all, or a seeded share)

    def to_json(self) -> dict:
        return {"model": self.model, "layer": self.layer, "dictionary": self.dictionary,
                "heldout": {"texts": self.texts, "tokens": self.tokens, "kept": self.kept,
                            "dead_needs_tokens": DEAD_TOKENS, "enough_for_dead": self.kept >= DEAD_TOKENS, "splice": self.splice},
                "massive": self.massive, "trained": {k: v.to_json() for k, v in self.trained.items()},
                "random": {k: v.to_json() for k, v in self.random.items()},
                "cross_entropy": {k: v.to_json() for k, v in self.ce.items()}, "seed": self.seed,
                "definitions": DEFINITIONS}

    def summary(self) -> str:
        """A few lines for a terminal: each figure, trained against random."""
        lines = [f"{self.model}, layer {self.layer}: {self.kept:,} held-out tokens ({self.texts} texts), "
                 f"{self.massive.get('left_out', 0)} massive left out"]
        for k in ("l0", "fve", "loss_recovered_zero", "loss_recovered_mean", "kl", "dead", "dense"):
            if k in self.trained:
                t, r = self.trained[k], self.random.get(k)
                lines.append(f"  {k:20} {t.value:9.4f} [{t.lo:.4f}, {t.hi:.4f}]   random {r.value:9.4f}" if r else
                             f"  {k:20} {t.value:9.4f} [{t.lo:.4f}, {t.hi:.4f}]")
        return "\n".join(lines)


DEFINITIONS = {
    "l0": "active features per token",
    "fve": "fraction of variance explained: 1 - sum|x - x_hat|^2 / sum|x - mean|^2",
    "loss_recovered_zero": "(CE_zero - CE_spliced) / (CE_zero - CE_clean), text tokens replaced at the layer",
    "loss_recovered_mean": "(CE_mean - CE_spliced) / (CE_mean - CE_clean), ablation by the held-out mean state",
    "kl": "mean per-token KL(clean || spliced) of the next-token distribution, nats",
    "dead": f"share of features never active on the held-out tokens (meaningful from {DEAD_TOKENS:,} tokens)",
    "dense": f"share of features active on more than {DENSE:.0%} of the held-out tokens",
    "massive": "states over the model's massive-token rule: left out of every figure and passed through when spliced",
}


def _batches(lengths: list[int], vocab: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out, cur = [], []
    for i in order:
        if cur and lengths[i] * (len(cur) + 1) * vocab > LOGIT_BUDGET:
            out.append(cur)
            cur = []
        cur.append(i)
    return out + ([cur] if cur else [])


def splice_losses(lm, saes: dict[str, SAE], texts: list[str], layer: int, mean: np.ndarray, *, progress=None) -> dict:
    """Per text: summed next-token cross-entropy (clean, each dictionary spliced, zero- and mean-ablated), summed
    KL(clean ‖ spliced) per dictionary, and the number of predicted tokens. Returns ``{name: (texts,) array}``."""
    ids = [encode(lm, t)[0] for t in texts]
    s = len(start_ids(lm.tokenizer))
    probe = next(iter(saes.values()))
    variants = {name: splice_edit(sae, replace="sae", start=s) for name, sae in saes.items()}
    variants["zero"] = splice_edit(probe, replace="zero", start=s)
    variants["mean"] = splice_edit(probe, replace="mean", start=s, mean=mean)
    out = {k: np.zeros(len(texts)) for k in ["clean", *variants, *(f"kl_{n}" for n in saes), "n"]}
    vocab = int(lm.model.get_output_embeddings().weight.shape[0])
    done = 0

    def logprobs(input_ids, mask, edit=None):
        with torch.inference_mode(), use(Plan(edits={layer: [edit]} if edit else {})):
            return torch.log_softmax(lm.model(input_ids=input_ids, attention_mask=mask, use_cache=False).logits.float(), -1)

    for group in _batches([len(x) for x in ids], vocab):
        input_ids, mask = pad_batch(lm, [ids[i] for i in group])
        target, valid = input_ids[:, 1:], mask[:, 1:].bool()
        lp0 = logprobs(input_ids, mask)[:, :-1]
        ce = lambda lp: -(lp.gather(-1, target[..., None])[..., 0] * valid).sum(1).cpu().numpy()  # noqa: E731
        out["clean"][group] = ce(lp0)
        out["n"][group] = valid.sum(1).cpu().numpy()
        p0 = lp0.exp()
        for name, edit in variants.items():
            lp = logprobs(input_ids, mask, edit)[:, :-1]
            out[name][group] = ce(lp)
            if name in saes:
                out[f"kl_{name}"][group] = ((p0 * (lp0 - lp)).sum(-1) * valid).sum(1).cpu().numpy()
        done += len(group)
        if progress:
            progress(done, len(texts))
    return out


def splice_share(st: States, limit: int | None, seed: int = 0) -> list[int]:
    """Which held-out texts the splice figures run on: all of them (``limit`` None), else a seeded sample of
    whole texts up to ``limit`` tokens (five passes through the model each: the costliest part of a card)."""
    n = np.bincount(st.text_index, minlength=len(st.texts))
    if limit is None or n.sum() <= limit:
        return list(range(len(st.texts)))
    out, total = [], 0
    for i in rng(seed, "concepts.card.splice").permutation(len(st.texts)):
        if total + n[i] <= limit:
            out.append(int(i))
            total += int(n[i])
    return sorted(out) or [int(np.argmin(n))]


def quality_card(lm, sae: SAE, texts: list[str], *, seed: int = 0, states: States | None = None, splice_tokens: int | None = None,
                 progress=None) -> QualityCard:
    """The card of ``sae`` on held-out ``texts`` (with ``lm``, the model it reads): reconstruction figures on
    the states at its layer, splice figures through the model (on every text, or with ``splice_tokens`` on a
    seeded sample of whole texts up to that many tokens, :func:`splice_share`), and the random dictionary's
    figures beside."""
    if sae.layer is None:
        raise DictionaryError("The dictionary does not say which layer it reads; give its layer.")
    if sae.d_in != lm.d_model:
        raise DictionaryError(f"The dictionary reads states of {sae.d_in} numbers, but {lm.name} has d_model {lm.d_model}.")
    if sae.rule is None:                       # a brought dictionary: the app's rule for this model
        sae.rule = massive_rule(lm)
    total = 2
    st = states or collect(lm, texts, sae.layer, rule=sae.rule,
                           progress=(lambda a, b: progress(a / b, total)) if progress else None)
    keep = st.kept
    X, ti = st.X[keep], st.text_index[keep]
    rnd = random_like(sae, seed)
    figs = {}
    with torch.no_grad():
        for name, d in (("trained", sae), ("random", rnd)):
            a = d.encode(torch.from_numpy(X))
            figs[name] = reconstruction_figures(X, d.decode(a).numpy(), a.numpy(), ti, seed=seed)
    mean = X.mean(0) if len(X) else np.zeros(sae.d_in, np.float32)
    share = splice_share(st, splice_tokens, seed)
    sp = splice_losses(lm, {"trained": sae, "random": rnd}, [st.texts[i] for i in share], sae.layer, mean,
                       progress=(lambda a, b: progress(1 + a / b, total)) if progress else None)
    n_tok = int(sp["n"].sum())
    per = lambda name: _boot(sp[name], sp["n"], lambda a, b: a / b, seed, n_tok)  # noqa: E731
    for name in ("trained", "random"):
        for abl in ("zero", "mean"):
            figs[name][f"loss_recovered_{abl}"] = _boot(
                np.stack([sp["clean"], sp[name], sp[abl]], 1), sp["n"],
                lambda a, b: loss_recovered(a[0] / b, a[1] / b, a[2] / b), seed, n_tok)
        figs[name]["kl"] = per(f"kl_{name}")
    ce = {k: per(k) for k in ("clean", "trained", "zero", "mean", "random")}
    ce["spliced"] = ce.pop("trained")
    return QualityCard(lm.name, int(sae.layer), {**sae.describe(), "fingerprint": sae.fingerprint}, len(st.texts),
                       int(len(st.X)), int(keep.sum()), st.massive_summary(), figs["trained"], figs["random"], ce, int(seed),
                       {"texts": len(share), "tokens": n_tok, "limit": splice_tokens})


def kept_card(lm, sae: SAE, texts: list[str], *, seed: int = 0, splice_tokens: int | None = None, progress=None) -> QualityCard:
    """:func:`quality_card` once per model, dictionary (by its weights), texts and seed in this process, and kept
    in the result store across processes (what a Concepts page shows and ``python -m latent concepts card`` prints)."""
    th = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    params = {"sae": sae.fingerprint, "texts": th, "seed": int(seed), **({"splice_tokens": splice_tokens} if splice_tokens else {})}
    return memo("concepts_card", (sae.fingerprint, th, int(seed), splice_tokens, lm.key),
                lambda: store().cached("concepts.card", params, lm,
                                       lambda: quality_card(lm, sae, texts, seed=seed, splice_tokens=splice_tokens, progress=progress)))
