"""The concept dictionary's costs (issue 38), per embedded model, each in a fresh process:

- **collection**: tokens per second that ``latent.concepts.collect.collect`` reads states at the dictionary's layer
  (40 pydoc chunks of the offline corpus, ~12k tokens);
- **training**: tokens per second of ``latent.concepts.sae.train`` at the shipped size (d_sae, k 32, batch 1024,
  30 steps on those states);
- **click to a feature page**: ``kept_feature`` with the result store on: the first page of a process (cold: the
  probe over the seed turns is computed), a second feature (warm: the probe is kept; target ≤ 1 s), and the first
  feature again (kept page).

Two torch threads, as the builds run. Run: ``PYTHONPATH=. .venv/bin/python bench/bench_concepts.py [model …]``
(default: both embedded models; a model without a shipped dictionary skips the page timing).
"""
import os
import sys
import tempfile

from _common import fresh, save

CODE = """
import json, time, torch
torch.set_num_threads(2)
from latent.core.models import load_lm
from latent.concepts.build import default_layer
from latent.concepts.collect import collect
from latent.concepts.features import kept_dictionary, kept_feature, shipped_folder
from latent.concepts.offline import sources
from latent.concepts.sae import train
from latent.core.massive import massive_rule
lm = load_lm(MODEL)
layer = default_layer(lm)
texts = sources()["pydoc_data.topics (PSF)"][:40]
t = time.perf_counter(); st = collect(lm, texts, layer, rule=massive_rule(lm)); c = time.perf_counter() - t
X = st.X[st.kept]
d_sae = 4608 if lm.d_model == 576 else 8 * lm.d_model
steps, batch = 30, 1024
t = time.perf_counter(); train(X, d_sae, 32, steps=steps, batch=batch); tr = time.perf_counter() - t
out = {"model": lm.name, "layer": layer, "collect": {"tokens": int(len(st.X)), "seconds": round(c, 2),
       "tokens_per_s": round(len(st.X) / c)},
       "train": {"d_sae": d_sae, "k": 32, "batch": batch, "steps": steps, "seconds": round(tr, 2),
                 "tokens_per_s": round(steps * batch / tr)}}
folder = shipped_folder(lm.name)
if folder:
    sae = kept_dictionary(lm, str(folder))
    page = {}
    for name, f in (("cold", 1), ("warm_other_feature", 2), ("warm_same_feature", 1)):
        t = time.perf_counter(); kept_feature(lm, sae, f); page[name + "_s"] = round(time.perf_counter() - t, 3)
    out["feature_page"] = page
print(json.dumps(out))
"""

if __name__ == "__main__":
    models = sys.argv[1:] or ["SmolLM2-135M-Instruct", "gemma-3-270m"]
    load = os.getloadavg()
    res = {}
    with tempfile.TemporaryDirectory() as store:
        for m in models:
            res[m] = fresh(f"MODEL = {m!r}\n" + CODE, {"LATENT_STORE": "on", "LATENT_STORE_DIR": store}, timeout=1800)
    save("concepts", {"models": res, "loadavg_before": [round(x, 2) for x in load], "cpus": os.cpu_count()})
