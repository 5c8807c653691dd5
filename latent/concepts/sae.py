"""A sparse autoencoder (SAE) in plain torch: a dictionary of directions, few of them active at once.

An SAE rewrites a hidden state ``x`` (``d_in`` numbers) as a short list of active features, each a
direction (a decoder row, unit norm) and a size: ``x ≈ b_dec + Σ_f a_f · W_dec[f]``. The encoder says
which features are active and how much: ``a = act((x − b_dec) @ W_enc + b_enc)``.

Three activations, as SAELens names them (``architecture``):

- ``topk``: keep the ``k`` largest pre-activations (ReLU'd), zero the rest (Gao et al. 2024, "Scaling and
  evaluating sparse autoencoders"). What :func:`train` trains.
- ``relu``: every positive pre-activation (SAELens ``standard``).
- ``jumprelu``: a pre-activation above its feature's ``threshold`` (Gemma Scope).

Weights follow SAELens's layout: ``W_enc (d_in, d_sae)``, ``W_dec (d_sae, d_in)`` (row ``f`` is feature
``f``'s direction, the "decoder column" of the papers), ``b_enc (d_sae)``, ``b_dec (d_in)``.

States whose norm is far above their layer's typical norm (:mod:`latent.core.massive`, one rule for
the whole app) are left out of training and of the card, and passed through unchanged when the
dictionary is spliced into the model (:func:`splice_edit`).

Example::

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(512, 8)).astype(np.float32)
    >>> run = train(X, d_sae=16, k=2, steps=20, batch=64)
    >>> run.sae.top_features(X[0], 2)[0][0] in range(16)
    True
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from latent.core.errors import LatentError
from latent.core.massive import MassiveRule, massive_mask

ARCHITECTURES = ("topk", "relu", "jumprelu")


class DictionaryError(LatentError):
    """A dictionary that cannot be built, read or used here; the message says what to change."""


class SAE(torch.nn.Module):
    """One dictionary: weights, activation and where it reads the model (``layer``, ``model_name``).

    ``rule`` is the model's massive-token rule (:class:`~latent.core.massive.MassiveRule`); with it, massive
    states are passed through unchanged by :meth:`reconstruct` and :func:`splice_edit` (None: nothing is
    massive, e.g. a dictionary brought without its model)."""

    def __init__(self, W_enc, W_dec, b_enc, b_dec, *, architecture: str = "topk", k: int | None = None,
                 threshold=None, apply_b_dec_to_input: bool = True, layer: int | None = None,
                 model_name: str = "", rule: MassiveRule | None = None):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise DictionaryError(f"Unknown dictionary architecture {architecture!r}. Must be one of: {', '.join(ARCHITECTURES)}.")
        t = lambda a: torch.as_tensor(np.asarray(a, np.float32) if not isinstance(a, torch.Tensor) else a.float())  # noqa: E731
        self.W_enc = torch.nn.Parameter(t(W_enc).clone())
        self.W_dec = torch.nn.Parameter(t(W_dec).clone())
        self.b_enc = torch.nn.Parameter(t(b_enc).clone())
        self.b_dec = torch.nn.Parameter(t(b_dec).clone())
        d_in, d_sae = self.W_enc.shape
        shapes = {"W_dec": (tuple(self.W_dec.shape), (d_sae, d_in)), "b_enc": (tuple(self.b_enc.shape), (d_sae,)),
                  "b_dec": (tuple(self.b_dec.shape), (d_in,))}
        for name, (got, want) in shapes.items():
            if got != want:
                raise DictionaryError(f"{name} has shape {got}, but W_enc {(d_in, d_sae)} needs {want}.")
        if architecture == "topk" and not (k and 1 <= int(k) <= d_sae):
            raise DictionaryError(f"A TopK dictionary needs k between 1 and d_sae = {d_sae}, not {k!r}.")
        if architecture == "jumprelu":
            if threshold is None:
                raise DictionaryError("A JumpReLU dictionary needs its threshold (one per feature).")
            threshold = t(threshold).clone().reshape(-1) if np.ndim(threshold) else torch.full((d_sae,), float(threshold))
            if tuple(threshold.shape) != (d_sae,):
                raise DictionaryError(f"threshold has shape {tuple(threshold.shape)}, but the dictionary needs ({d_sae},).")
        self.register_buffer("threshold", threshold if threshold is not None else torch.zeros(0))
        self.architecture = architecture
        self.k = int(k) if k else None
        self.apply_b_dec_to_input = bool(apply_b_dec_to_input)
        self.layer = layer
        self.model_name = model_name
        self.rule = rule
        self.requires_grad_(False)

    # ------------------------------------------------------------------ facts
    @property
    def d_in(self) -> int:
        return int(self.W_enc.shape[0])

    @property
    def d_sae(self) -> int:
        return int(self.W_enc.shape[1])

    @property
    def fingerprint(self) -> str:
        """A hash of the weights (as fp16, as saved) and settings: a cache key for this dictionary's card."""
        h = hashlib.sha256(f"{self.architecture}|{self.k}|{self.apply_b_dec_to_input}|{self.layer}".encode())
        for p in (self.W_enc, self.W_dec, self.b_enc, self.b_dec, self.threshold):
            h.update(p.detach().to(torch.float16).cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> dict:
        return {"architecture": self.architecture, "d_in": self.d_in, "d_sae": self.d_sae, "k": self.k,
                "layer": self.layer, "model_name": self.model_name, "apply_b_dec_to_input": self.apply_b_dec_to_input,
                "massive_rule": None if self.rule is None else self.rule.to_json()}

    # ------------------------------------------------------------------ maths
    def pre_acts(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.W_enc.dtype)
        if self.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.architecture == "topk":
            top = torch.topk(pre, self.k, dim=-1)
            return torch.zeros_like(pre).scatter_(-1, top.indices, torch.relu(top.values))
        if self.architecture == "relu":
            return torch.relu(pre)
        return pre * (pre > self.threshold)                      # jumprelu

    def encode(self, x) -> torch.Tensor:
        """Feature activations ``(..., d_sae)`` of states ``(..., d_in)`` (array or tensor)."""
        return self.activate(self.pre_acts(torch.as_tensor(x)))

    def decode(self, a) -> torch.Tensor:
        """States ``(..., d_in)`` rebuilt from activations ``(..., d_sae)``."""
        return torch.as_tensor(a).to(self.W_dec.dtype) @ self.W_dec + self.b_dec

    def forward(self, x) -> torch.Tensor:
        return self.decode(self.encode(x))

    def top_features(self, state, k: int = 10):
        """The ``k`` most active features of one state ``(d_in,)``: ``[(feature, activation), …]`` largest
        first, active ones only; of several states ``(n, d_in)``: one such list per state."""
        x = torch.as_tensor(np.asarray(state, np.float32))
        if x.shape[-1] != self.d_in:
            raise DictionaryError(f"A state of {x.shape[-1]} numbers does not fit this dictionary (d_in = {self.d_in}).")
        with torch.no_grad():
            a = self.encode(x.reshape(-1, self.d_in))
        k = max(1, min(int(k), self.d_sae))
        vals, idx = torch.topk(a, k, dim=-1)
        out = [[(int(i), float(v)) for i, v in zip(ir, vr) if v > 0] for ir, vr in zip(idx.tolist(), vals.tolist())]
        return out[0] if x.ndim == 1 else out

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Scale every decoder row to unit norm, the encoder's column and bias by the same factor
        (the activations then carry the size; what the function computes is unchanged for ReLU and TopK)."""
        n = self.W_dec.norm(dim=1).clamp_min(1e-12)
        self.W_dec.div_(n[:, None])
        self.W_enc.mul_(n[None, :])
        self.b_enc.mul_(n)
        if self.architecture == "jumprelu":
            self.threshold.mul_(n)


def random_like(sae: SAE, seed: int = 0) -> SAE:
    """The control dictionary: a random unit-norm decoder (seeded), the same ``k``, encoder = decoder
    transposed, no encoder bias, the same ``b_dec``. Recent work finds random SAEs score close to trained ones on
    several metrics; a trained dictionary must clearly beat this one."""
    g = torch.Generator().manual_seed(int(seed))
    W = torch.randn(sae.d_sae, sae.d_in, generator=g)
    W = W / W.norm(dim=1, keepdim=True)
    k = sae.k or max(1, int(round(min(sae.d_sae, sae.d_in) / 8)))
    return SAE(W.T.clone(), W, torch.zeros(sae.d_sae), sae.b_dec.detach().clone(), architecture="topk", k=k,
               layer=sae.layer, model_name=sae.model_name, rule=sae.rule)


# ------------------------------------------------------------------ massive states and splicing
def kept_rows(states: np.ndarray, layer: int | None, rule: MassiveRule | None) -> np.ndarray:
    """True for the states a dictionary trains on and is scored on: all but the massive ones (the app's
    one rule, :func:`latent.core.massive.massive_mask`)."""
    if rule is None or layer is None:
        return np.ones(np.shape(states)[:-1], bool)
    return ~massive_mask(states, layer, rule)


def splice_edit(sae: SAE, *, replace: str = "sae", start: int = 1, mean=None):
    """A hook edit for :class:`latent.core.hooks.Plan` at ``sae.layer``: every position from ``start`` on (the
    start token stays) whose state is not massive is replaced by the dictionary's reconstruction
    (``replace="sae"``), by zeros (``"zero"``) or by ``mean`` (``"mean"``); massive states pass unchanged."""
    if replace not in ("sae", "zero", "mean"):
        raise DictionaryError(f"Unknown replacement {replace!r}. Must be one of: sae, zero, mean.")

    def edit(h: torch.Tensor) -> torch.Tensor:
        B, T, d = h.shape
        keep = torch.as_tensor(kept_rows(h.detach().float().cpu().numpy(), sae.layer, sae.rule), device=h.device)
        keep[:, :start] = False
        if replace == "sae":
            new = sae.to(h.device)(h.float()).to(h.dtype)
        elif replace == "zero":
            new = torch.zeros_like(h)
        else:
            new = torch.as_tensor(np.asarray(mean, np.float32), device=h.device).to(h.dtype).expand(B, T, d)
        return torch.where(keep[..., None], new, h)
    return edit


# ------------------------------------------------------------------ training
@dataclass
class TrainRun:
    """What :func:`train` did: the dictionary and the facts of its training."""

    sae: SAE
    steps: int
    batch: int
    lr: float
    seed: int
    tokens: int                  # states given
    kept: int                    # states trained on
    left_out: int                # massive states left out
    seconds: float
    loss: list = field(default_factory=list)     # (step, normalised MSE) every ~2 % of the run
    dead_at_end: int = 0         # features that had not fired in the last ``dead_after`` training states
    device: str = "cpu"
    lr_decay: float = 0.0

    def to_json(self) -> dict:
        return {**self.sae.describe(), "steps": self.steps, "batch": self.batch, "lr": self.lr, "lr_decay": self.lr_decay,
                "seed": self.seed,
                "tokens": self.tokens, "kept": self.kept, "left_out": self.left_out, "seconds": round(self.seconds, 2),
                "tokens_per_second": round(self.steps * self.batch / max(self.seconds, 1e-9), 1),
                "final_loss": self.loss[-1][1] if self.loss else None, "loss": self.loss,
                "dead_at_end": self.dead_at_end, "device": self.device}


def default_lr(d_sae: int) -> float:
    """Gao et al.'s learning-rate scaling, 2e-4 at 16k features and ∝ 1/√d_sae."""
    return 2e-4 / math.sqrt(d_sae / 2 ** 14)


def _sparse_t_mm(rows, cols, vals, shape, dense):
    """``Sᵀ @ dense`` for the sparse ``S (shape)`` with entries ``vals`` at ``(rows, cols)``: ``(shape[1], dense.shape[1])``."""
    S = torch.sparse_coo_tensor(torch.stack([cols, rows]), vals, (shape[1], shape[0]))
    return torch.sparse.mm(S, dense)


def _step_grads(sae: SAE, x: torch.Tensor, k: int, var, since, dead_after: int, aux_k: int, aux_alpha: float):
    """One training step's loss gradients, written by hand into the parameters' ``.grad``: the loss is
    ``Σ‖x − x̂‖² / (batch · var)`` plus ``aux_alpha`` × the AuxK loss (the ``aux_k`` most active dead features
    rebuilding the error the live ones left). Returns the error ``x − x̂`` and which features fired
    (a feature is dead when ``since``, the states since it last fired, reaches ``dead_after`` with this batch).

    Sparse in the features: only the ``k`` active features of a state (and its AuxK ones) have a gradient, so the
    one dense product is the encoder's; the reconstruction and the gradients go through those features' rows
    only. The same function and gradients as autograd through the dense form (a test checks it), at about a
    third of the CPU time."""
    B, d = x.shape
    m = sae.d_sae
    xc = x - sae.b_dec
    pre = xc @ sae.W_enc + sae.b_enc
    top = torch.topk(pre, k, dim=-1)
    idx, order = torch.sort(top.indices, dim=-1)                        # a state's features in order (CSR rows)
    tv = top.values.gather(1, order)
    vals = torch.relu(tv)
    recon = F.embedding_bag(idx, sae.W_dec, per_sample_weights=vals, mode="sum") + sae.b_dec
    err = x - recon
    g = err * (-2.0 / (B * var))                                        # d loss / d recon
    rows = torch.arange(B, device=x.device).repeat_interleave(k)
    cols = idx.reshape(-1)
    with warnings.catch_warnings():      # torch's notes that CSR is beta and that invariant checks are off: known, once per step
        warnings.simplefilter("ignore", UserWarning)
        S = torch.sparse_csr_tensor(torch.arange(0, B * k + 1, k, device=x.device), cols, torch.zeros(B * k, device=x.device),
                                    (B, m))
    gp = torch.sparse.sampled_addmm(S, g, sae.W_dec.t(), beta=0.0).values() * (tv > 0).reshape(-1)   # g_b · W_dec[f]
    dW_dec = _sparse_t_mm(rows, cols, vals.reshape(-1), (B, m), g)
    fired = torch.zeros(m, dtype=torch.bool, device=x.device)
    fired[cols[vals.reshape(-1) > 0]] = True
    dead = ~fired & (since + B >= dead_after)
    n_dead = int(dead.sum())
    if n_dead and aux_alpha > 0:
        dcols = torch.nonzero(dead)[:, 0]                                # the dead features only
        atop = torch.topk(pre[:, dcols], min(aux_k, n_dead), dim=-1)
        aidx, avals = dcols[atop.indices], torch.relu(atop.values)
        left = err - F.embedding_bag(aidx, sae.W_dec, per_sample_weights=avals, mode="sum")
        aux = (left ** 2).sum(1).mean() / var
        if torch.isfinite(aux):
            ga = left * (-2.0 * aux_alpha / (B * var))
            ka = aidx.shape[1]
            arows = torch.arange(B, device=x.device).repeat_interleave(ka)
            agp = ((ga @ sae.W_dec[dcols].T).gather(1, atop.indices) * (atop.values > 0)).reshape(-1)
            dW_dec = dW_dec + _sparse_t_mm(arows, aidx.reshape(-1), avals.reshape(-1), (B, m), ga)
            rows, cols, gp = torch.cat([rows, arows]), torch.cat([cols, aidx.reshape(-1)]), torch.cat([gp, agp])
    W_enc_rows = sae.W_enc.t().contiguous()                            # (d_sae, d_in)
    dxc = _sparse_t_mm(cols, rows, gp, (m, B), W_enc_rows)             # d loss / d (x − b_dec)
    grads = {sae.W_dec: dW_dec, sae.W_enc: _sparse_t_mm(rows, cols, gp, (B, m), xc).t(),
             sae.b_enc: torch.zeros(m, device=x.device).index_add_(0, cols, gp), sae.b_dec: g.sum(0) - dxc.sum(0)}
    for p, grad in grads.items():          # in the parameter's own memory layout (fused Adam reads them as laid out)
        p.grad = torch.empty_like(p).copy_(grad)
    return err, fired


def train(states, d_sae: int, k: int, *, steps: int = 2000, batch: int = 1024, lr: float | None = None, seed: int = 0,
          layer: int | None = None, rule: MassiveRule | None = None, model_name: str = "", aux_k: int | None = None,
          aux_alpha: float = 1 / 32, dead_after: int | None = None, lr_decay: float = 0.0, device: str = "cpu",
          progress=None) -> TrainRun:
    """Train a TopK dictionary on ``states (n, d_in)``, fp32, seeded: the same states and seed give the same
    weights on one device.

    The recipe is Gao et al.'s: ``b_dec`` starts at the states' mean, the decoder at random unit rows, the
    encoder at its transpose; Adam on the MSE normalised by the states' variance; after every step the decoder
    rows are put back to unit norm (their gradient's part along the row is removed first). The auxiliary loss
    (AuxK, weight ``aux_alpha``) lets the ``aux_k`` (default ``d_in/2``) most active *dead* features — those
    silent for ``dead_after`` (default ``10·batch``) training states — reconstruct what the live ones
    missed, which revives them. With ``rule`` (and ``layer``), massive states are left out. ``lr_decay``: the last
    such share of the steps lowers the learning rate linearly toward zero (0: constant).
    ``progress(done, total)`` is called after each step."""
    X = np.asarray(states, np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise DictionaryError("Training needs a non-empty (states, d_in) array.")
    n_all, d_in = X.shape
    if not 1 <= int(k) <= int(d_sae):
        raise DictionaryError(f"k = {k} must be between 1 and the number of features ({d_sae}).")
    if int(steps) < 1 or int(batch) < 1:
        raise DictionaryError("steps and batch must be at least 1.")
    keep = kept_rows(X, layer, rule)
    X = X[keep]
    if len(X) < 2:
        raise DictionaryError(f"Only {len(X)} of {n_all} states are not massive: give more text.")
    steps, batch, k, d_sae = int(steps), int(min(batch, len(X))), int(k), int(d_sae)
    lr = float(lr if lr is not None else default_lr(d_sae))
    aux_k = int(aux_k or max(1, d_in // 2))
    dead_after = int(dead_after or 10 * batch)
    t0 = time.perf_counter()

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(int(seed))
    dev = torch.device(device)
    Xt = torch.from_numpy(X).to(dev)
    mean = Xt.mean(0)
    var = ((Xt - mean) ** 2).sum(1).mean().clamp_min(1e-12)        # the MSE's scale: explained-variance units
    W = torch.randn(d_sae, d_in, generator=g).to(dev)
    W = W / W.norm(dim=1, keepdim=True)
    sae = SAE(W.T.clone(), W, torch.zeros(d_sae), mean.cpu(), architecture="topk", k=k, layer=layer,
              model_name=model_name, rule=rule).to(dev)
    params = [sae.W_enc, sae.W_dec, sae.b_enc, sae.b_dec]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=6.25e-10, fused=True)     # fused: 4× faster on CPU
    since = torch.zeros(d_sae, dtype=torch.long, device=dev)          # states since each feature last fired
    order, pos, curve = torch.randperm(len(X), generator=g).to(dev), 0, []
    every = max(1, steps // 50)
    for step in range(1, steps + 1):
        if pos + batch > len(X):
            order, pos = torch.randperm(len(X), generator=g).to(dev), 0
        x = Xt[order[pos:pos + batch]]
        pos += batch
        with torch.no_grad():
            err, fired = _step_grads(sae, x, k, var, since, dead_after, aux_k, aux_alpha)
            since = torch.where(fired, torch.zeros_like(since), since + batch)
        with torch.no_grad():
            Wd = sae.W_dec
            Wd.grad -= (Wd.grad * Wd).sum(1, keepdim=True) * Wd          # no change along the row's own direction
        if lr_decay > 0:
            for group in opt.param_groups:
                group["lr"] = lr * min(1.0, (steps - step + 1) / max(lr_decay * steps, 1e-9))
        opt.step()
        with torch.no_grad():
            sae.W_dec.div_(sae.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))
        if step % every == 0 or step == steps:
            curve.append((step, round(float(((err.detach() ** 2).sum(1).mean() / var)), 5)))
        if progress:
            progress(step, steps)
    for p in params:
        p.requires_grad_(False)
    sae = sae.to("cpu")
    return TrainRun(sae, steps, batch, lr, int(seed), n_all, int(keep.sum()), int((~keep).sum()),
                    time.perf_counter() - t0, curve, int((since >= dead_after).sum()), str(dev), float(lr_decay))
