"""Each page's script time on a warm start, without a browser: where a page's first result goes, split
from what the browser adds (``bench_pages_warm`` times both together).

Per checkout (today's and an older commit in a worktree), two fresh processes on one result store:
the first fills it, the second is timed (a warm start). In each, Streamlit's AppTest opens Home (it
waits for the model load, not counted) and then each page in turn; seconds per page's script run.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_pages_script.py [--before COMMIT]``
"""
import argparse
import tempfile

from _common import ROOT, drop_worktree, fresh_at, save, worktree

CODE = """
import json, os, sys, time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(os.path.join(sys.path[0], "app.py"), default_timeout=900)     # the checkout fresh_at put first
at.run()
out = {}
for p in ["1_Dialogues", "2_Hidden_states", "3_Senses", "4_Latent_walk", "5_Seed_claims", "6_Lessons"]:
    t = time.perf_counter()
    at.switch_page(f"app_pages/{p}.py").run()
    out[p[2:]] = round(time.perf_counter() - t, 2)
    assert not at.exception, [e.value for e in at.exception]
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="3f1898a", help="the baseline commit (default: this session's start)")
    a = ap.parse_args()
    tree = worktree(a.before)
    res = {"before_commit": a.before}
    try:
        for side, root in (("before", tree), ("after", ROOT)):
            env = {"LATENT_STORE": "on", "LATENT_STORE_DIR": tempfile.mkdtemp(prefix=f"bench-script-{side}-"),
                   "LATENT_WARM": "off"}
            res[f"{side} cold"] = fresh_at(root, CODE, env, timeout=1500)
            res[f"{side} warm"] = fresh_at(root, CODE, env, timeout=1500)
            print(side, res[f"{side} cold"], res[f"{side} warm"], flush=True)
    finally:
        drop_worktree(tree)
    save("pages_script", res)


if __name__ == "__main__":
    main()
