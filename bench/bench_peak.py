"""This machine's matrix-product throughput, fp32 and bf16, at the shapes a decode step of the default sweep uses
(issue 40, "know the floor"): the rows of one batched step (152, the default sweep's prompts × seeds × rows) times
each weight matrix of SmolLM2-135M and Gemma 3 270M (attention and MLP projections, the LM head). Each shape is
timed in one process, fp32 and bf16 alternated, after a warm-up; the figure is the median of ``--repeats``
rounds, in GFLOP/s (2·m·k·n per product), and bf16's ratio to fp32 at the same shape in the same run. The CPU's
flags say whether bf16 has hardware support here (``avx512_bf16``, ``amx_bf16``).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_peak.py [--rows 152] [--repeats 7] [--threads N]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _common import save

# (model, matrix, k, n): the decode step's products y = x @ W.T with x (rows, k), W (n, k)
SHAPES = [
    ("SmolLM2", "q/o projection", 576, 576),
    ("SmolLM2", "k/v projection", 576, 192),
    ("SmolLM2", "MLP up/gate", 576, 1536),
    ("SmolLM2", "MLP down", 1536, 576),
    ("SmolLM2", "LM head", 576, 49152),
    ("Gemma 3", "q projection", 640, 1024),
    ("Gemma 3", "MLP up/gate", 640, 2048),
    ("Gemma 3", "MLP down", 2048, 640),
    ("Gemma 3", "LM head", 640, 262144),
]


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def rate(m: int, k: int, n: int, dtype, repeats: int, min_seconds: float = 0.2) -> float:
    """GFLOP/s of ``F.linear(x, W)`` (x (m, k), W (n, k), as ``nn.Linear`` runs it) in ``dtype``: the median over
    ``repeats`` rounds, each round as many products as fill ``min_seconds``."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(m, k, generator=g).to(dtype)
    w = torch.randn(n, k, generator=g).to(dtype)              # an nn.Linear weight (out, in), as the models hold it
    F.linear(x, w)                                            # warm-up (kernel choice, caches)
    t = time.perf_counter()
    F.linear(x, w)
    per = max(time.perf_counter() - t, 1e-6)
    reps = max(1, int(min_seconds / per))
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(reps):
            F.linear(x, w)
        out.append(2 * m * k * n * reps / (time.perf_counter() - t) / 1e9)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=152)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    flags = cpu_flags()
    rows = []
    for model, name, k, n in SHAPES:
        f32 = rate(a.rows, k, n, torch.float32, a.repeats)
        b16 = rate(a.rows, k, n, torch.bfloat16, a.repeats)
        rows.append({"model": model, "matrix": name, "m": a.rows, "k": k, "n": n, "fp32_gflops": round(f32, 1),
                     "bf16_gflops": round(b16, 1), "bf16_over_fp32": round(b16 / f32, 2)})
        print(f"{model:8s} {name:15s} {a.rows}×{k}×{n}: fp32 {f32:7.1f}  bf16 {b16:7.1f} GFLOP/s  ×{b16 / f32:.2f}")
    save("peak", {"threads": a.threads, "torch": torch.__version__, "rows": a.rows, "repeats": a.repeats,
                  "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags, "avx512f": "avx512f" in flags,
                  "load_average": os.getloadavg(), "shapes": rows,
                  "fp32_peak_gflops": max(r["fp32_gflops"] for r in rows),
                  "bf16_peak_gflops": max(r["bf16_gflops"] for r in rows)})


if __name__ == "__main__":
    main()
