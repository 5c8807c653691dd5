"""Choose a steering preset's default layer and strength by measurement, on prompts the default never uses.

For each model and preset: a grid of layers (relative depths) × strengths; at each point one sweep of
the preset's 8 *held-out* prompts (one sampling seed each, strengths -s, 0, +s, the direction and 8
random directions of the same norm on every prompt, 24 new tokens). A point qualifies when its slope
is beyond the random directions' band and fewer than half of its steered texts degenerate; the chosen
point is the one whose interval clears the band by the widest margin *in units of the band's width*
(the absolute margin favoured the smallest strength, whose band is widest and least stable: it chose
strength 0.2 on SmolLM2, which then overlapped the band on the default prompts). The choice and what it measured
are merged into ``assets/walk_settings.json`` (which the page, the lesson and ``steer --preset``
read); the whole grid goes to ``bench/results/presets_<model>.json``. No point qualifying is written
too, and then the preset stays hand-set.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_presets.py [--model gemma-3-270m] [--preset NAME ...]``
"""
import argparse
import json
import time

from _common import ROOT, save

from latent.core.models import load_encoder, load_lm
from latent.walk.paths import sweep
from latent.walk.presets import DEFAULT_PRESET, SETTINGS_JSON, build, load_presets
from latent.walk.spec import DEFAULT_TOKENS

DEPTHS = (0.2, 0.3, 0.4)
STRENGTHS = (0.2, 0.4, 0.8)


def measure(lm, enc, name: str, depths=DEPTHS, strengths=STRENGTHS) -> dict:
    p = load_presets()[name]
    grid = []
    for f in depths:
        layer = max(1, lm.depth(f))
        d = build(lm, name, layer=layer)
        for s in strengths:
            t = time.perf_counter()
            sw = sweep(lm, enc, p["heldout"], d, [-s, 0.0, s], max_new_tokens=DEFAULT_TOKENS, seeds=(0,))
            j = sw.to_json()
            steered = sw.rows[(sw.rows["kind"] == "direction")]
            grid.append({"layer": layer, "depth": f, "strength": s, "slope": j["slope"], "slope_ci": j["slope_ci"],
                         "random_band": j["random_band"], "verdict": j["verdict"], "n_units": j["n_units"],
                         "n_random": j["n_random"], "degenerate_share": round(float(steered["degenerate"].mean()), 3),
                         "wrong_way_fraction": j["wrong_way_fraction"], "seconds": round(time.perf_counter() - t, 1),
                         "per_strength": [{k: r[k] for k in ("strength", "difference", "difference_ci",
                                                              "difference_null", "verdict")} for r in j["results"]]})
            print(name, grid[-1]["layer"], s, j["slope"], j["slope_ci"], j["random_band"], j["verdict"],
                  grid[-1]["degenerate_share"], grid[-1]["seconds"], flush=True)
    return {"grid": grid, "chosen": choose(grid, p, depths, strengths)}


def choose(grid, p, depths=DEPTHS, strengths=STRENGTHS) -> dict | None:
    """The qualifying point whose slope interval clears the random band by the most band widths."""
    ok = [g for g in grid if g["verdict"] == "beyond random" and g["degenerate_share"] < 0.5
          and g["slope"] is not None and g["slope"] > 0]
    best = max(ok, key=lambda g: (g["slope_ci"][0] - g["random_band"][1]) /
               max(g["random_band"][1] - g["random_band"][0], 1e-9)) if ok else None
    return None if best is None else {
        "layer": best["layer"], "strength": best["strength"], "slope": best["slope"], "slope_ci": best["slope_ci"],
        "random_band": best["random_band"], "verdict": best["verdict"], "n_heldout": len(p["heldout"]),
        "n_random": best["n_random"], "degenerate_share": best["degenerate_share"],
        "grid": {"depths": list(depths), "strengths": list(strengths)}, "tokens": DEFAULT_TOKENS,
        "criterion": "slope interval's clearance of the random band, in band widths"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--preset", action="append", help=f"repeat; default: {DEFAULT_PRESET}")
    ap.add_argument("--from-results", action="store_true",
                    help="choose again from the grid this script saved last time (no model run)")
    args = ap.parse_args(argv)
    if args.from_results:
        return rechoose(args.model)
    lm, enc = load_lm(args.model, device="cpu", dtype="float32"), load_encoder()
    settings = json.loads(SETTINGS_JSON.read_text(encoding="utf-8")) if SETTINGS_JSON.exists() else {}
    out = {}
    for name in args.preset or [DEFAULT_PRESET]:
        r = measure(lm, enc, name)
        out[name] = r
        if r["chosen"]:
            settings.setdefault(lm.name, {})[name] = r["chosen"]
        else:
            settings.get(lm.name, {}).pop(name, None)
    SETTINGS_JSON.write_text(json.dumps(settings, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    save(f"presets_{lm.name}", out)
    print("wrote", SETTINGS_JSON.relative_to(ROOT))


def rechoose(model: str | None) -> None:
    """Apply :func:`choose` to the saved grid of a model (bench/results/presets_<model>.json)."""
    from latent.core.models import DEFAULT_LM

    name_m = model or DEFAULT_LM
    saved = json.loads((ROOT / "bench" / "results" / f"presets_{name_m}.json").read_text(encoding="utf-8"))
    settings = json.loads(SETTINGS_JSON.read_text(encoding="utf-8")) if SETTINGS_JSON.exists() else {}
    for name, r in saved.items():
        r["chosen"] = choose(r["grid"], load_presets()[name])
        if r["chosen"]:
            settings.setdefault(name_m, {})[name] = r["chosen"]
        print(name_m, name, r["chosen"] and {k: r["chosen"][k] for k in ("layer", "strength", "slope", "slope_ci")})
    SETTINGS_JSON.write_text(json.dumps(settings, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    save(f"presets_{name_m}", saved)


if __name__ == "__main__":
    main()
