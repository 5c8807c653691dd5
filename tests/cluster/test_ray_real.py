"""The real SmolLM2 on a local 2-worker Ray cluster: ``python -m latent steer … --backend ray-local:2 --json``
gives the same texts and meters as the CLI in this process (the whole JSON but its timings), and ``info --json``
names the workers (in the app's process, on its cluster). The in-process side is ``main(argv)`` with the session's loaded model, as in
tests/real/test_real_model.py: a second fresh process would only load the same weights again."""
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
    """Equal JSON, numbers to 2e-4 or 1e-5 of their size: the JSON rounds to 4 decimals, and typicality and
    KL are summed in another order on another thread count (a KL of 35.6908 here read 35.6907 there)."""
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
        assert b == pytest.approx(a, abs=2e-4, rel=1e-5), path
    else:
        assert a == b, path


def in_process(lm, monkeypatch, capsys, *args):
    """``python -m latent ARGS`` in this process (no ``--backend``: this process), on the session's model."""
    import latent.cli as latent_cli
    from latent.serving import backends

    monkeypatch.setattr(backends, "_BACKEND", backends.InProcess())   # whatever an earlier test left
    monkeypatch.setattr(latent_cli, "_lm", lambda a: lm)
    assert latent_cli.main(list(args)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_cli_sweep_on_two_ray_workers_equals_in_process(real_lm, monkeypatch, capsys):
    here = in_process(real_lm, monkeypatch, capsys, *STEER)
    assert here["model"] == "SmolLM2-135M-Instruct"
    there = cli(*STEER, "--backend", "ray-local:2")
    assert [r["text"] for r in here["results"]] == [r["text"] for r in there["results"]]
    assert here["n_units"] == 4 and here["n_random"] == 2
    same(here, there)          # texts, meters, slopes, bands, verdict and finding


APP_ON_RAY = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=400)
at.run()
where = [c.value.replace("\\", "") for c in at.caption if "Model work runs" in c.value]
at.switch_page("app_pages/4_Latent_walk.py").run()
at.radio(key="wk_source").set_value("preset").run()
at.text_area(key="wk_prompt_preset").input("I think that you\nMy neighbour is").run()
at.text_input(key="wk_strengths_preset").input("-0.2,0,0.2").run()
at.slider(key="wk_tokens").set_value(8).run()
at.button(key="do_wk_run").click().run()
from app_pages.ui import models
from latent.serving.scheduler import scheduler_for
sched = scheduler_for(models.lm())
import contextlib, io
from latent import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):         # `python -m latent info --json` on the same cluster ($LATENT_BACKEND)
    rc = cli.main(["info", "--json"])
print(json.dumps({"info_rc": rc, "info": json.loads(out.getvalue().strip().splitlines()[-1]),
                  "where": where, "exception": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error],
                  "strengths": list(at.dataframe[0].value["strength"]) if len(at.dataframe) else None,
                  "backend": sched.backend.name, "history": [[list(x) for x in h] for h in sched.backend.history()]}))
"""


def test_the_app_serves_its_pages_with_model_work_on_two_ray_workers(real_lm):
    """The app itself on ``LATENT_BACKEND=ray-local:2`` (a fresh process, as ``make run`` would start it):
    Home says where model work runs, and a Latent walk sweep is decoded by the two workers. Then, in that
    process and on that cluster, ``info --json`` names the backend and each worker's weights, which are
    this process's (one cluster start for both, not one each)."""
    from latent.serving.backends import InProcess
    r = subprocess.run([sys.executable, "-c", APP_ON_RAY], cwd=ROOT, capture_output=True, text=True, timeout=900,
                       env={**os.environ, "LATENT_BACKEND": "ray-local:2", "LATENT_STORE": "off", "LATENT_WARM": "off"})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["exception"] == [] and out["errors"] == []
    assert out["where"] == ["Model work runs on the Ray cluster ray-local:2: 2 workers (cpu)."]
    assert out["backend"] == "ray-local:2" and out["strengths"] == [-0.2, 0.0, 0.2]
    decoded = [sum(n for k, n in h if k == "decode") for h in out["history"]]
    assert all(n > 0 for n in decoded) and abs(decoded[0] - decoded[1]) <= 1     # the rows split evenly
    info = out["info"]
    assert out["info_rc"] == 0 and info["backend"] == "ray-local:2" and info["workers"] == 2
    assert len(info["per_worker"]) == 2 and {w["device"] for w in info["per_worker"]} == {"cpu"}
    here = InProcess().describe(real_lm)["per_worker"][0]["fingerprint"]
    assert {w["fingerprint"] for w in info["per_worker"]} == {here}
