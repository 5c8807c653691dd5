"""Dictionary folders on disk: ours in the SAELens layout, and the ones people bring.

**Ours** (what :func:`save` writes, what ships): SAELens's layout, so standard tools read it.

- ``sae_weights.safetensors``: ``W_enc (d_in, d_sae)``, ``W_dec (d_sae, d_in)``, ``b_enc (d_sae)``,
  ``b_dec (d_in)`` (and ``threshold (d_sae)`` for JumpReLU), fp16.
- ``cfg.json``: SAELens 6's keys — ``architecture`` (``topk``), ``d_in``, ``d_sae``, ``k``, ``dtype`` (the
  dtype SAELens computes in: ``float32``; the file holds fp16), ``device``, ``apply_b_dec_to_input``,
  ``normalize_activations`` (``none``), ``reshape_activations`` (``none``) and ``metadata`` (``model_name``,
  ``hook_name``, ``hook_layer``, ``prepend_bos``, ``context_size``, ``sae_lens_version``). The same facts are
  also written flat (``model_name``, ``hook_name``, ``hook_layer``, ``activation_fn_str``,
  ``activation_fn_kwargs``) for readers of the pre-6 layout, and ours under ``latent`` (the layer in this
  app's numbering, the massive-token rule, the training facts). SAELens ignores keys it does not know.

**Layers.** This app's layer ``L`` is the residual stream after decoder block ``L`` (0 = embeddings). In
TransformerLens names that is ``blocks.{L-1}.hook_resid_post`` (``hook_layer`` ``L-1``), and Gemma Scope's
"layer N" is our ``N+1``. A folder without our ``latent`` block gets its layer from ``hook_name``.

**Brought** (read only): SAELens folders of architecture ``topk``, ``standard``/``relu`` and ``jumprelu``
(6.x and pre-6 ``cfg.json``), and a Gemma Scope style ``params.safetensors`` (JumpReLU; keys ``W_enc`` … or
Gemma Scope 2's lower-case ``w_enc`` …, ``threshold``). Every fault (a missing file, a corrupt or
truncated weights file, a wrong shape, a ``d_in`` that is not the model's ``d_model``) is one
:class:`~latent.concepts.sae.DictionaryError` with one sentence.

Example::

    >>> save(run.sae, "dicts/smollm2-L12", extra={"train": run.to_json()})     # doctest: +SKIP
    >>> load("dicts/smollm2-L12", d_model=576).d_sae                            # doctest: +SKIP
    4608
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from latent.concepts.sae import SAE, DictionaryError
from latent.core.massive import MassiveRule

CFG = "cfg.json"
WEIGHTS = "sae_weights.safetensors"
GEMMA_SCOPE = "params.safetensors"
SAE_LENS_VERSION = "6.0.0"        # the cfg.json layout written (SAELens reads pre-6 configs differently)
_ARCH = {"topk": "topk", "standard": "relu", "relu": "relu", "jumprelu": "jumprelu"}


def hook_name(layer: int) -> str:
    """TransformerLens's name for this app's layer ``layer`` (the residual stream after block ``layer``)."""
    return "hook_embed" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"


def layer_of_hook(name: str | None) -> int | None:
    """This app's layer for a TransformerLens hook name (None if it is not a residual-stream hook)."""
    if not name:
        return None
    if name in ("hook_embed", "blocks.0.hook_resid_pre"):
        return 0
    m = re.fullmatch(r"blocks\.(\d+)\.hook_resid_(post|pre)", name)
    if not m:
        return None
    return int(m.group(1)) + (1 if m.group(2) == "post" else 0)


def save(sae: SAE, folder, *, extra: dict | None = None, context_size: int | None = None) -> Path:
    """Write ``sae`` to ``folder`` in the SAELens layout (fp16 weights); returns the folder."""
    from safetensors.torch import save_file  # noqa: PLC0415 - safetensors: only when a dictionary is written

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"W_enc": sae.W_enc, "W_dec": sae.W_dec, "b_enc": sae.b_enc, "b_dec": sae.b_dec}
    if sae.architecture == "jumprelu":
        tensors["threshold"] = sae.threshold
    save_file({k: v.detach().to(torch.float16).cpu().contiguous() for k, v in tensors.items()}, str(folder / WEIGHTS))
    layer = sae.layer
    hook = None if layer is None else hook_name(layer)
    meta = {"model_name": sae.model_name, "hook_name": hook, "hook_layer": None if layer is None else max(layer - 1, 0),
            "hook_head_index": None, "prepend_bos": True, "context_size": context_size, "sae_lens_version": SAE_LENS_VERSION,
            "sae_lens_training_version": None}
    arch = {"relu": "standard"}.get(sae.architecture, sae.architecture)
    cfg = {"architecture": arch, "d_in": sae.d_in, "d_sae": sae.d_sae, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": sae.apply_b_dec_to_input, "normalize_activations": "none",
           "reshape_activations": "none", "metadata": meta,
           **({"k": sae.k} if sae.architecture == "topk" else {}),
           # the pre-6 layout's flat keys, for older readers
           "model_name": sae.model_name, "hook_name": hook, "hook_layer": meta["hook_layer"],
           "activation_fn_str": "topk" if sae.architecture == "topk" else "relu",
           "activation_fn_kwargs": {"k": sae.k} if sae.architecture == "topk" else {},
           "latent": {"layer": layer, "massive_rule": None if sae.rule is None else sae.rule.to_json(), **(extra or {})}}
    (folder / CFG).write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    return folder


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError  # noqa: PLC0415 - safetensors: only when a dictionary is read
    from safetensors.torch import load_file  # noqa: PLC0415

    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise DictionaryError(f"{path} is not a readable safetensors file ({first}): it may be truncated or corrupt.") from None
    out = {}
    for k, v in raw.items():
        if not v.is_floating_point():
            raise DictionaryError(f"{path}: tensor {k!r} holds {v.dtype}, not floating-point weights.")
        out[k] = v.float().numpy()
        if not np.isfinite(out[k]).all():
            raise DictionaryError(f"{path}: tensor {k!r} holds NaN or infinite values; the file is corrupt.")
    return out


def _need(tensors: dict, names: tuple[str, ...], path: Path) -> list[np.ndarray]:
    lower = {k.lower(): v for k, v in tensors.items()}
    missing = [n for n in names if n.lower() not in lower]
    if missing:
        raise DictionaryError(f"{path} lacks the tensor(s) {', '.join(missing)}; a dictionary needs "
                              f"{', '.join(names)}.")
    return [lower[n.lower()] for n in names]


def _read_cfg(path: Path) -> dict:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DictionaryError(f"Cannot read {path}: {str(e).splitlines()[0][:120]}.") from None
    if not isinstance(cfg, dict):
        raise DictionaryError(f"{path} is not a JSON object of settings.")
    return cfg


def _check_model(sae: SAE, d_model: int | None, n_layers: int | None, folder: Path) -> SAE:
    if d_model is not None and sae.d_in != int(d_model):
        raise DictionaryError(f"The dictionary in {folder} reads states of {sae.d_in} numbers, but this model's "
                              f"d_model is {d_model}: it was made for another model.")
    if n_layers is not None and sae.layer is not None and not 0 <= sae.layer <= n_layers:
        raise DictionaryError(f"The dictionary in {folder} reads layer {sae.layer}, but this model has layers 0-{n_layers}.")
    return sae


def load(folder, *, d_model: int | None = None, n_layers: int | None = None, layer: int | None = None) -> SAE:
    """A dictionary from ``folder``: ours or a SAELens folder (``cfg.json`` + ``sae_weights.safetensors``), or a
    Gemma Scope style ``params.safetensors`` (JumpReLU). ``d_model`` and ``n_layers`` (the model it will read)
    are checked; ``layer`` overrides the folder's layer (needed for a Gemma Scope file without a layer_N name)."""
    folder = Path(folder).expanduser()
    if folder.is_file():                       # a params.safetensors named directly
        folder, single = folder.parent, folder.name
    else:
        single = None
    if not folder.is_dir():
        raise DictionaryError(f"No dictionary folder at {folder}.")
    if single == GEMMA_SCOPE or (single is None and not (folder / WEIGHTS).exists() and (folder / GEMMA_SCOPE).exists()):
        sae = _load_gemma_scope(folder, layer)
    elif (folder / WEIGHTS).exists() or (folder / CFG).exists():
        sae = _load_saelens(folder, layer)
    else:
        raise DictionaryError(f"{folder} holds no dictionary: it needs {CFG} and {WEIGHTS} (SAELens) or {GEMMA_SCOPE} (Gemma Scope).")
    return _check_model(sae, d_model, n_layers, folder)


def _load_saelens(folder: Path, layer: int | None) -> SAE:
    for name in (CFG, WEIGHTS):
        if not (folder / name).exists():
            raise DictionaryError(f"{folder} lacks {name}: a SAELens folder needs both {CFG} and {WEIGHTS}.")
    cfg = _read_cfg(folder / CFG)
    meta = cfg.get("metadata") or cfg.get("meta") or {}
    raw = str(cfg.get("architecture") or "standard").lower()
    fn = str(cfg.get("activation_fn_str") or cfg.get("activation_fn") or "").lower()
    arch = "topk" if (raw == "standard" and fn == "topk") else _ARCH.get(raw)
    if arch is None:
        raise DictionaryError(f"{folder}: architecture {raw!r} is not one this app reads (topk, standard/relu, jumprelu).")
    if str(cfg.get("normalize_activations") or "none") != "none":
        raise DictionaryError(f"{folder}: normalize_activations {cfg['normalize_activations']!r} is not supported; "
                              "fold the scaling into the weights first.")
    t = _read_tensors(folder / WEIGHTS)
    W_enc, W_dec, b_enc, b_dec = _need(t, ("W_enc", "W_dec", "b_enc", "b_dec"), folder / WEIGHTS)
    thr = _need(t, ("threshold",), folder / WEIGHTS)[0] if arch == "jumprelu" else None
    k = cfg.get("k") or (cfg.get("activation_fn_kwargs") or {}).get("k")
    for key, got in (("d_in", W_enc.shape[0]), ("d_sae", W_enc.shape[1] if W_enc.ndim == 2 else None)):
        if key in cfg and got is not None and int(cfg[key]) != int(got):
            raise DictionaryError(f"{folder}: {CFG} says {key} = {cfg[key]} but the weights have {got}; the files do not match.")
    ours = cfg.get("latent") or {}
    if layer is None:
        layer = ours.get("layer")
    if layer is None:
        layer = layer_of_hook(meta.get("hook_name") or cfg.get("hook_name") or cfg.get("hook_point"))
    rule = ours.get("massive_rule")
    rule = MassiveRule(float(rule["multiple"]), tuple(float(x) for x in rule["layer_median"])) if rule else None
    return _build(W_enc, W_dec, b_enc, b_dec, folder, architecture=arch, k=k, threshold=thr,
                  apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)), layer=layer,
                  model_name=str(meta.get("model_name") or cfg.get("model_name") or ""), rule=rule)


def _load_gemma_scope(folder: Path, layer: int | None) -> SAE:
    t = _read_tensors(folder / GEMMA_SCOPE)
    W_enc, W_dec, b_enc, b_dec, thr = _need(t, ("W_enc", "W_dec", "b_enc", "b_dec", "threshold"), folder / GEMMA_SCOPE)
    if layer is None:                            # Gemma Scope's folders: layer_N_width_… ("layer N" = after block N)
        m = re.search(r"layer_(\d+)", folder.name)
        layer = int(m.group(1)) + 1 if m else None
    return _build(W_enc, W_dec, b_enc, b_dec, folder, architecture="jumprelu", threshold=thr,
                  apply_b_dec_to_input=False, layer=layer, model_name="")


def _build(W_enc, W_dec, b_enc, b_dec, folder: Path, **kw) -> SAE:
    if W_enc.ndim != 2:
        raise DictionaryError(f"{folder}: W_enc must be a (d_in, d_sae) matrix, not shape {W_enc.shape}.")
    try:
        return SAE(W_enc, W_dec, b_enc, b_dec, **kw)
    except DictionaryError as e:
        raise DictionaryError(f"{folder}: {e}") from None
