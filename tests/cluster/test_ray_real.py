"""The real SmolLM2 on a local 2-worker Ray cluster: ``python -m latent steer … --backend ray-local:2 --json``
gives the same texts and meters as ``--backend inprocess`` (the whole JSON but its timings), and ``info --json`` names the workers."""
import json
import os
import subprocess
import sys

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
pytest.importorskip("ray", reason="the cluster extra is not installed (make cluster)")
pytestmark = [pytest.mark.real_model, pytest.mark.slow]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEER = ["steer", "--prompt", "I think that", "--prompt", "My day was", "--toward", "love|joy", "--away", "hate|anger",
         "--layer", "9", "--strengths=-6,0,6", "--seeds", "2", "--random", "2", "--tokens", "10", "--json"]


def cli(*args):
    r = subprocess.run([sys.executable, "-m", "latent", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env={**os.environ, "LATENT_STORE": "off"})
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def same(a, b, path=""):
    """Equal JSON, numbers to 1e-4 (typicality is summed in another order on a 1-thread worker)."""
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            if k not in ("seconds", "tokens_per_second"):
                same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, abs=1e-4), path
    else:
        assert a == b, path


def test_the_cli_sweep_on_two_ray_workers_equals_in_process():
    here = cli(*STEER, "--backend", "inprocess")
    there = cli(*STEER, "--backend", "ray-local:2")
    assert [r["text"] for r in here["results"]] == [r["text"] for r in there["results"]]
    assert here["n_units"] == 4 and here["n_random"] == 2
    same(here, there)          # texts, meters, slopes, bands, verdict and finding


def test_info_names_the_backend_and_each_workers_weights():
    info = cli("info", "--json", "--backend", "ray-local:2")
    assert info["backend"] == "ray-local:2" and info["workers"] == 2
    assert len(info["per_worker"]) == 2
    assert {w["fingerprint"] for w in info["per_worker"]} == {cli("info", "--json")["per_worker"][0]["fingerprint"]}
    assert {w["device"] for w in info["per_worker"]} == {"cpu"}
