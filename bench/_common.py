"""Helpers for benchmarks: run a snippet in a fresh Python process and time it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def fresh(code: str, env: dict | None = None, timeout: int = 600) -> dict:
    """Run ``code`` in a new interpreter; it must print one JSON line last. Adds wall seconds."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=timeout)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(wall, 2)
    return out


def fresh_at(tree: Path, code: str, env: dict | None = None, timeout: int = 600) -> dict:
    """:func:`fresh` on the code checked out at ``tree`` (a :func:`worktree`): its folder comes first on the
    new interpreter's path, so ``latent`` is imported from there."""
    return fresh(f"import sys; sys.path.insert(0, {str(tree)!r})\n" + code,
                 env={**(env or {}), "PYTHONPATH": str(tree)}, timeout=timeout)


def serve(env: dict | None = None, args: tuple = (), root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free port of 127.0.0.1 (``env`` added to this process's), from the
    checkout at ``root`` (this one, or a :func:`worktree`); returns the process and its URL once
    ``/_stcore/health`` answers (at most 60 s)."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true", *args], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the server did not answer /_stcore/health within 60 s")


def worktree(commit: str) -> Path:
    """``commit`` checked out in a temporary git worktree (the baseline a benchmark measures in the same
    run); remove it with :func:`drop_worktree`."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="bench-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def drop_worktree(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)


def best(fn, n: int = 3) -> float:
    """The fastest of ``n`` calls of ``fn()``, in seconds."""
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def save(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1))
    print(f"== {name}")
    print(json.dumps(data, indent=1))
