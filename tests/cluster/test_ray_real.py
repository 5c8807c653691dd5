"""The app's model on a local 2-worker Ray cluster, in one fresh process started as ``make run`` would
start the app (``LATENT_BACKEND=ray-local:2``; in CI the tests' tiny random Llama, ``LATENT_MODEL=tiny-llama``;
the real SmolLM2 in ``make test-all``): the app serves its pages with the model work on the two
workers; then, in that process and on that cluster, ``python -m latent info --json`` names the workers
and ``steer … --json`` gives the same texts and meters as the CLI in this test's process (the whole JSON
but its timings). One cluster and one set of worker model loads for all three, not one each. The
in-process side is ``main(argv)`` with the same model loaded here, as in tests/real/test_real_model.py.
The ``--backend`` flag's own path (an unreachable cluster is one error line) is
tests/cluster/test_ray_backend.py's."""
import json
import os
import subprocess
import sys

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
pytest.importorskip("ray", reason="the cluster extra is not installed (make cluster)")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def steer_args(layer: int) -> list[str]:
    return ["steer", "--prompt", "I think that", "--prompt", "My day was", "--toward", "love|joy", "--away", "hate|anger",
            "--layer", str(layer), "--strengths=-6,0,6", "--seeds", "2", "--random", "2", "--tokens", "10", "--json"]


def same(a, b, path=""):
    """Equal JSON, numbers to 2e-4 or 1e-5 of their size: the JSON rounds to 4 decimals, and typicality and
    KL are summed in another order on another thread count (a KL of 35.6908 here read 35.6907 there).
    An interval's bound or a band is 20 times looser in relative terms: at n = 2 (KL's n is the prompts)
    a bound moves by up to 1 + t(0.975, 1) ≈ 14 times its values' difference (one machine: a KL bound
    of 35.6904 there against 35.6900 here, in every commit of that day)."""
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
        derived = ".ci[" in path or "_ci[" in path or "band[" in path
        assert b == pytest.approx(a, abs=2e-4, rel=2e-4 if derived else 1e-5), path
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


APP_AND_CLI_ON_RAY = r"""
import contextlib, io, json, os, sys
sys.path.insert(0, os.getcwd())
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=400)
at.run()
where = [c.value.replace("\\", "") for c in at.caption if "Model work runs" in c.value]
at.switch_page("app_pages/4_Latent_walk.py").run()
at.radio(key="walk_source").set_value("preset").run()
at.text_area(key="walk_prompt_preset").input("I think that you\nMy neighbour is").run()
at.text_input(key="walk_strengths_preset").input("-0.2,0,0.2").run()
at.slider(key="walk_tokens").set_value(8).run()
at.button(key="do_walk_run").click().run()
from app_pages.ui import models
from latent.serving.scheduler import scheduler_for
sched = scheduler_for(models.lm())
out = {"where": where, "exception": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error],
       "strengths": list(at.dataframe[0].value["strength"]) if len(at.dataframe) else None,
       "backend": sched.backend.name, "history": [[list(x) for x in h] for h in sched.backend.history()]}
from latent import cli
cli._lm = lambda a: models.lm()               # the app's model object, one load for both commands
for name, argv in (("info", ["info", "--json"]), ("steer", json.loads(sys.argv[1]))):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):     # `python -m latent ARGV` on this cluster ($LATENT_BACKEND)
        out[name + "_rc"] = cli.main(argv)
    out[name] = json.loads(buf.getvalue().strip().splitlines()[-1])
print(json.dumps(out))
"""


@pytest.mark.parametrize("model", ["tiny-llama", pytest.param("SmolLM2-135M-Instruct", marks=[pytest.mark.full, pytest.mark.slow])])
def test_the_app_and_the_cli_on_two_ray_workers(model, request, monkeypatch, capsys):
    from latent.serving.backends import InProcess

    if model == "tiny-llama":
        from tests.support import app_lm
        lm = app_lm()
    else:
        lm = request.getfixturevalue("real_lm")
    steer = steer_args(9 if lm.n_layers >= 9 else 2)
    r = subprocess.run([sys.executable, "-c", APP_AND_CLI_ON_RAY, json.dumps(steer)], cwd=ROOT, capture_output=True,
                       text=True, timeout=900,
                       env={**os.environ, "LATENT_BACKEND": "ray-local:2", "LATENT_STORE": "off", "LATENT_WARM": "off",
                            "LATENT_MODEL": model})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    # the app: Home says where model work runs, and a Latent walk sweep is decoded by the two workers
    assert out["exception"] == [] and out["errors"] == []
    assert out["where"] == ["Model work runs on the Ray cluster ray-local:2: 2 workers (cpu)."]
    assert out["backend"] == "ray-local:2" and out["strengths"] == [-0.2, 0.0, 0.2]
    decoded = [[n for k, n in h if k == "decode"] for h in out["history"]]       # per worker, per batch
    # three batches (the page's cards first, then the other rows, then the data-shaped null's rows: a preset built
    # from texts), each split evenly over the two workers
    assert len(decoded[0]) == len(decoded[1]) == 3 and all(n > 0 for h in decoded for n in h)
    assert all(abs(a - b) <= 1 for a, b in zip(*decoded))
    # info --json names the backend and each worker's weights, which are this process's
    info = out["info"]
    assert out["info_rc"] == 0 and info["backend"] == "ray-local:2" and info["workers"] == 2
    assert len(info["per_worker"]) == 2 and {w["device"] for w in info["per_worker"]} == {"cpu"}
    assert {w["fingerprint"] for w in info["per_worker"]} == {InProcess().describe(lm)["per_worker"][0]["fingerprint"]}
    # the CLI sweep on the workers equals the CLI sweep in this process
    here, there = in_process(lm, monkeypatch, capsys, *steer), out["steer"]
    assert out["steer_rc"] == 0 and here["model"] == model
    assert [r["text"] for r in here["results"]] == [r["text"] for r in there["results"]]
    assert here["n_units"] == 4 and here["n_random"] == 2
    same(here, there)          # texts, meters, slopes, bands, verdict and finding
