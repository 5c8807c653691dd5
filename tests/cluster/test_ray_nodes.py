"""A simulated multi-node cluster on this machine (``ray.cluster_utils.Cluster``: a head with no CPUs and
two one-CPU worker nodes): the app joins it as ``ray://HOST:PORT``, gets one worker per worker node, and
mixed requests decode token for token as in-process."""
import os

import numpy as np
import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="the cluster extra is not installed (make cluster)")

from latent.serving.backends import ROOT, make_backend  # noqa: E402
from latent.serving.scheduler import GenerateRequest, InProcess, Scheduler  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), old) if p)   # the nodes import latent
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def test_two_worker_nodes_give_the_in_process_results(tiny_lm, cluster):
    b = make_backend(f"ray://{cluster.address}")
    info = b.describe(tiny_lm)
    assert info["workers"] == 2 and len({w["node"] for w in info["per_worker"]}) == 2   # one per worker node
    assert {w["fingerprint"] for w in info["per_worker"]} == {tiny_lm.fingerprint}
    d = tiny_lm.d_model
    g = np.random.default_rng(5)
    reqs = [GenerateRequest.make(["the queen", "a hive", "honey"], [1, 2, 3], layer=2, added=g.normal(size=(3, d)) * 3,
                                 max_new_tokens=8, do_sample=True, typicality=True),
            GenerateRequest.make(["the queen", "wax"], [1, 4], max_new_tokens=5, do_sample=False, typicality=True)]
    s, ref = Scheduler(tiny_lm, backend=b), Scheduler(tiny_lm, backend=InProcess())
    for r in reqs:
        got, want = s.run(r), ref.run(r)
        assert got.token_ids == want.token_ids and got.texts == want.texts
        np.testing.assert_allclose(got.extra["typicality"], want.extra["typicality"], atol=1e-5)
        np.testing.assert_allclose(got.first_logprobs, want.first_logprobs, atol=1e-5)
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
