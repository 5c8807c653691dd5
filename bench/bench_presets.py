"""Choose a steering preset's default layer and strength by measurement, on prompts the default never uses,
below the cliff and against both nulls; then measure the choice on a second, disjoint held-out set.

For each model and preset: a grid of layers (relative depths) × strengths; at each point one sweep of
the preset's 8 *held-out* prompts, run as the page runs it (:class:`~latent.walk.spec.SweepSpec`: one
sampling seed each, strengths -s, 0, +s, 24 new tokens, the direction, 8 isotropic random directions and
4 data-shaped null directions of the same norm on every prompt). Each point records the slope against
**both nulls** (``null_random``, ``null_data``), the unsteered and steered typicality, and the degenerate
rows of the direction, the random directions and the data-null directions at each strength.

**The cliff rule** (:func:`below_cliff`): at each nonzero strength, the mean typicality of the direction's
texts and of the random directions' texts stays within :data:`CLIFF_TYPICALITY` nats per token of the
unsteered texts' (the page's own cliff, ``latent.walk.paths``), and fewer than half of the direction's,
the random directions' and the data-null directions' texts are degenerate. A layer's strengths run in
increasing order; once a strength is past the cliff the larger ones at that layer are not run (typicality
falls and degeneration grows with strength) and are recorded as skipped.

**The choice** (:func:`choose`): a point qualifies when its verdict is "beyond random" against both nulls,
its slope is positive and it is below the cliff; of those, the one whose slope interval clears the
higher of the two bands by the most, in units of that band's width. No point qualifying is a result too:
the preset's entry in ``assets/walk_settings.json`` then says so (``qualified: false``), keeps the
previous layer and strength, and the page and lesson say that no setting passed.

**Power** (:func:`check`): the chosen setting (or, where none qualified, the kept one) also runs on the
preset's second held-out set (``heldout2``, disjoint from both others); each set's result against its
own nulls, the two sets pooled, and for n = 4, 6, …, 16 prompts drawn from the pooled 16 (200 draws each,
seeded) the share of draws that clear both nulls; the smallest n where at least 80 % do is reported, and
where none up to 16 does, an estimate from the pooled interval's width (its half-width scales as 1/√n).

Writes the whole grid and the check to ``bench/results/presets_<model>.json`` and the choice to
``assets/walk_settings.json`` (which the page, the lesson and ``steer --preset`` read). Progress goes to
stdout (run it with ``nice -n 10 … > log``).

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_presets.py [--model gemma-3-270m] [--preset NAME ...]
[--depths 0.2 0.4] [--strengths 0.2] [--from-results]``
"""
import argparse
import dataclasses
import json
import time

import numpy as np
import pandas as pd
from _common import ROOT, save

from latent.core.models import load_encoder, load_lm
from latent.walk.presets import DEFAULT_PRESET, SETTINGS_JSON, load_presets
from latent.walk.spec import DEFAULT_TOKENS, SweepSpec

DEPTHS = (0.2, 0.3, 0.4)
STRENGTHS = (0.2, 0.4, 0.8)
CLIFF_TYPICALITY = 1.0     # nats per token the steered texts' mean typicality may fall below the unsteered texts'
MOST = 0.5                 # a degenerate share at or above this, for any kind of row at any strength, is past the cliff
POWER = 0.8                # share of prompt draws that must clear both nulls for an n to count
DRAWS = 200
CRITERION = (f"qualifies: beyond both nulls (isotropic random and data-shaped) and below the cliff (at each strength, "
             f"the direction's and the random directions' mean typicality within {CLIFF_TYPICALITY:g} nat/token of the "
             f"unsteered texts', and under half of the direction's, random and data-null rows degenerate); chosen: the "
             "qualifying point whose slope interval clears the higher of the two bands by the most band widths")
CLIFF_RULE = (f"the direction's and the random directions' texts within {CLIFF_TYPICALITY:g} nat/token of the unsteered "
              "texts' typicality, and under half of them degenerate, the controls' included")
KINDS = ("direction", "random", "data_null")


def point(sw, layer: int, depth: float, s: float, seconds: float) -> dict:
    """One grid point: what the sweep measured, against both nulls, with its typicality and degenerate rows."""
    j = sw.to_json()
    rows = sw.rows
    base = rows[rows["kind"] == "baseline"]
    per = []
    for st in sorted(x for x in set(rows["strength"]) if x != 0):
        at = {"strength": st}
        for k in KINDS:
            r = rows[(rows["kind"] == k) & (rows["strength"] == st)]
            at[k] = {"n": len(r), "degenerate": int(r["degenerate"].sum()),
                     "typicality": None if r.empty else round(float(r["typicality"].mean()), 3)}
        per.append(at)
    return {"layer": layer, "depth": depth, "strength": s, "slope": j["slope"], "slope_ci": j["slope_ci"],
            "verdict": j["verdict"], "null_random": j["null_random"],
            "null_data": {k: j["null_data"][k] for k in ("band", "verdict", "n_splits", "slopes", "sizes")},
            "n_units": j["n_units"], "n_random": j["n_random"], "wrong_way_fraction": j["wrong_way_fraction"],
            "typicality_unsteered": round(float(base["typicality"].mean()), 3), "per_strength": per,
            "seconds": round(seconds, 1)}


def cliff(p: dict) -> dict:
    """The cliff rule on one point: ``{below, typicality_drop, random_typicality_drop, degenerate, why}``
    (the drops: the unsteered mean minus the lowest steered mean over the nonzero strengths; degenerate:
    per kind, the most degenerate rows at one strength, "k/n")."""
    t0 = p["typicality_unsteered"]
    drop = {k: max(t0 - a[k]["typicality"] for a in p["per_strength"]) for k in ("direction", "random")}
    worst = {k: max(p["per_strength"], key=lambda a, k=k: a[k]["degenerate"] / max(a[k]["n"], 1))[k] for k in KINDS}
    why = [f"{k} typicality falls {drop[k]:.2f} nat/token (limit {CLIFF_TYPICALITY:g})"
           for k in ("direction", "random") if drop[k] > CLIFF_TYPICALITY]
    why += [f"{w['degenerate']}/{w['n']} {k.replace('_', '-')} rows degenerate at one strength"
            for k, w in worst.items() if w["n"] and w["degenerate"] / w["n"] >= MOST]
    return {"below": not why, "typicality_drop": round(drop["direction"], 3),
            "random_typicality_drop": round(drop["random"], 3),
            "degenerate": {k: f"{w['degenerate']}/{w['n']}" for k, w in worst.items()}, "why": "; ".join(why)}


def clearance(p: dict) -> float:
    """How far the slope interval's lower end lies above the higher of the two bands, in that band's widths."""
    bands = [b for b in (p["null_random"]["band"], p["null_data"]["band"]) if b and None not in b]
    top = max(bands, key=lambda b: b[1])
    return (p["slope_ci"][0] - top[1]) / max(top[1] - top[0], 1e-9)


def choose(grid, p, depths=DEPTHS, strengths=STRENGTHS, previous: dict | None = None) -> dict:
    """The qualifying point that clears both bands by the most band widths (:data:`CRITERION`); where none
    qualifies, ``qualified: False`` with the previous layer and strength kept and what each point failed."""
    ran = [g for g in grid if not g.get("skipped")]
    for g in ran:
        g["cliff"] = cliff(g)
    ok = [g for g in ran if g["verdict"] == "beyond random" and g["slope"] is not None and g["slope"] > 0
          and g["cliff"]["below"]]
    common = {"n_heldout": len(p["heldout"]), "grid": {"depths": list(depths), "strengths": list(strengths)},
              "tokens": DEFAULT_TOKENS, "criterion": CRITERION, "cliff_typicality": CLIFF_TYPICALITY,
              "cliff_rule": CLIFF_RULE}
    if not ok:
        prev = previous or {}
        return {**common, "qualified": False, "layer": prev.get("layer"), "strength": prev.get("strength"),
                "note": "no grid point cleared both nulls below the cliff; the layer and strength are the previous ones, "
                        "kept for the page, and are not a measured choice"}
    best = max(ok, key=clearance)
    return {**common, "qualified": True, "layer": best["layer"], "strength": best["strength"], "slope": best["slope"],
            "slope_ci": best["slope_ci"], "random_band": best["null_random"]["band"],
            "data_band": best["null_data"]["band"], "verdict": best["verdict"], "n_random": best["n_random"],
            "n_splits": best["null_data"]["n_splits"], "typicality_unsteered": best["typicality_unsteered"],
            "typicality_drop": best["cliff"]["typicality_drop"],
            "random_typicality_drop": best["cliff"]["random_typicality_drop"],
            "degenerate": best["cliff"]["degenerate"], "clearance": round(clearance(best), 3)}


def run_point(lm, enc, name: str, layer: int, s: float, prompts) -> tuple:
    t = time.perf_counter()
    sw = SweepSpec(source="preset", preset=name, layer=layer, prompts=tuple(prompts), strengths=(-s, 0.0, s)).run(lm, enc)
    return sw, time.perf_counter() - t


def measure(lm, enc, name: str, depths=DEPTHS, strengths=STRENGTHS, log=print, on_point=None) -> tuple[list, dict]:
    """The grid (each layer's strengths in increasing order, stopping at the cliff) and its sweeps;
    ``on_point(grid so far)`` after each point (the script saves the partial grid)."""
    p = load_presets()[name]
    grid, sweeps = [], {}
    for f in depths:
        layer = max(1, lm.depth(f))
        past = None
        for s in sorted(strengths):
            if past is not None:
                grid.append({"layer": layer, "depth": f, "strength": s, "skipped": f"past the cliff at strength {past:g}"})
                log(name, layer, s, "skipped", grid[-1]["skipped"])
                continue
            sw, sec = run_point(lm, enc, name, layer, s, p["heldout"])
            g = point(sw, layer, f, s, sec)
            g["cliff"] = cliff(g)
            grid.append(g)
            sweeps[(layer, s)] = sw
            log(name, layer, s, g["slope"], g["slope_ci"], "random", g["null_random"]["band"], "data",
                g["null_data"]["band"], g["verdict"], "| typ", g["typicality_unsteered"], "drop",
                g["cliff"]["typicality_drop"], g["cliff"]["random_typicality_drop"], g["cliff"]["degenerate"],
                "below" if g["cliff"]["below"] else "PAST: " + g["cliff"]["why"], f"{sec:.0f}s")
            if not g["cliff"]["below"]:
                past = s
            if on_point:
                on_point(grid)
    return grid, sweeps


def power(pooled, prompts: list[str], draws: int = DRAWS, seed: int = 0) -> list[dict]:
    """For n = 4, 6, … prompts drawn from ``prompts`` (``draws`` seeded draws each; one at the full count),
    the share of draws whose slope interval clears both nulls, and the median slope and interval."""
    rng = np.random.default_rng(seed)
    out = []
    for n in range(4, len(prompts) + 1, 2):
        subsets = [prompts] if n == len(prompts) else [list(rng.choice(prompts, n, replace=False)) for _ in range(draws)]
        sets = [pooled.prompt_set(f"{n} prompts", sub) for sub in subsets]
        out.append({"n": n, "draws": len(sets), "share_beyond_both": round(np.mean([s["verdict"] == "beyond random"
                                                                                     for s in sets]), 3),
                    "median_slope": round(float(np.median([s["slope"] for s in sets])), 4),
                    "median_slope_ci": [round(float(np.median([s["slope_ci"][i] for s in sets])), 4) for i in (0, 1)]})
    return out


def needed_n(pooled_set: dict, curve: list[dict]) -> dict:
    """The smallest n whose draws clear both nulls at least :data:`POWER` of the time; else an estimate from the
    pooled interval (half-width ∝ 1/√n, the bands held fixed), or None where the slope lies inside a band."""
    hit = next((c["n"] for c in curve if c["share_beyond_both"] >= POWER), None)
    if hit is not None:
        return {"n": hit, "how": f"measured: the smallest n whose draws cleared both nulls at least {POWER:.0%} of the time"}
    lo, hi = pooled_set["slope_ci"]
    top = max(pooled_set["null_random"]["band"][1], pooled_set["null_data"]["band"][1] if pooled_set["null_data"]["band"]
              else -np.inf)
    gap, half, n0 = pooled_set["slope"] - top, (hi - lo) / 2, pooled_set["n_prompts"]
    if gap <= 0:
        return {"n": None, "how": "the pooled slope lies inside a null's band: no number of these prompts would clear it"}
    return {"n": int(np.ceil(n0 * (half / gap) ** 2)), "how": "estimated: the pooled interval's half-width scaled as 1/√n "
            "until its lower end clears the higher band (the bands held as measured on the pooled prompts)"}


def check(lm, enc, name: str, layer: int, s: float, sw_a=None, log=print) -> dict:
    """The setting on the preset's two disjoint held-out sets, each against its own nulls, both pooled, and the
    n of prompts it needs (:func:`power`, :func:`needed_n`)."""
    p = load_presets()[name]
    if sw_a is None:
        sw_a, _ = run_point(lm, enc, name, layer, s, p["heldout"])
    sw_b, sec = run_point(lm, enc, name, layer, s, p["heldout2"])
    sets = [sw_a.prompt_sets[0], sw_b.prompt_sets[0]]
    for x, sw in zip(sets, (sw_a, sw_b)):
        x["degenerate"] = {k: int(sw.rows.loc[sw.rows["kind"] == k, "degenerate"].sum()) for k in KINDS}
        x["rows"] = {k: int((sw.rows["kind"] == k).sum()) for k in KINDS}
    pooled = dataclasses.replace(sw_a, rows=pd.concat([sw_a.rows, sw_b.rows], ignore_index=True))
    both = pooled.prompt_set("both held-out sets", None)
    curve = power(pooled, list(p["heldout"]) + list(p["heldout2"]))
    out = {"layer": layer, "strength": s, "prompt_sets": sets, "pooled": both, "power": curve,
           "needed_n": needed_n(both, curve), "seconds_second_set": round(sec, 1)}
    log("check", name, layer, s, [(x["name"], x["slope"], x["slope_ci"], x["verdict"]) for x in sets],
        "pooled", both["slope"], both["slope_ci"], both["verdict"], "n:", out["needed_n"])
    return out


def write_settings(model: str, name: str, chosen: dict, checked: dict | None) -> None:
    settings = json.loads(SETTINGS_JSON.read_text(encoding="utf-8")) if SETTINGS_JSON.exists() else {}
    entry = dict(chosen)
    if checked:
        entry["prompt_sets"] = [{k: x[k] for k in ("name", "n_prompts", "slope", "slope_ci", "verdict", "null_random",
                                                   "null_data", "degenerate", "rows")} for x in checked["prompt_sets"]]
        entry["pooled"] = {k: checked["pooled"][k] for k in ("n_prompts", "slope", "slope_ci", "verdict")}
        entry["needed_n"] = checked["needed_n"]
    settings.setdefault(model, {})[name] = entry
    SETTINGS_JSON.write_text(json.dumps(settings, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--preset", action="append", help=f"repeat; default: {DEFAULT_PRESET}")
    ap.add_argument("--depths", type=float, nargs="+", default=list(DEPTHS))
    ap.add_argument("--strengths", type=float, nargs="+", default=list(STRENGTHS))
    ap.add_argument("--grid-only", action="store_true",
                    help="measure the grid points only (no choice, check or settings), into presets_<model>_<tag>.json")
    ap.add_argument("--tag", default="", help="with --grid-only: the results file's suffix")
    ap.add_argument("--from-results", action="store_true",
                    help="choose again from the grid this script saved (no model run unless --check)")
    ap.add_argument("--merge", nargs="*", default=[], help="with --from-results: add the grid points of these tags")
    ap.add_argument("--check", action="store_true",
                    help="with --from-results: run the chosen setting on both held-out sets where that is not saved")
    ap.add_argument("--check-kept", action="store_true",
                    help="also run the check where no point qualified (on the kept setting)")
    args = ap.parse_args(argv)
    if args.from_results:
        return rechoose(args.model, args.merge, args.check, args.check_kept)
    lm, enc = load_lm(args.model, device="cpu", dtype="float32"), load_encoder()
    stem = f"presets_{lm.name}" + (f"_{args.tag}" if args.grid_only and args.tag else "")
    results = ROOT / "bench" / "results" / f"{stem}.json"
    out = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}

    def log(*a):
        print(time.strftime("%H:%M:%S"), lm.name, *a, flush=True)

    for name in args.preset or [DEFAULT_PRESET]:
        previous = _settings().get(lm.name, {}).get(name)

        def partial(grid, name=name):
            out[name] = {"grid": grid, "partial": True}
            save(stem, out)

        grid, sweeps = measure(lm, enc, name, args.depths, args.strengths, log, partial)
        out[name] = {"grid": grid, "cliff_typicality": CLIFF_TYPICALITY, "criterion": CRITERION}
        save(stem, out)
        if args.grid_only:
            continue
        chosen = choose(grid, load_presets()[name], args.depths, args.strengths, previous)
        log("chosen", {k: chosen.get(k) for k in ("qualified", "layer", "strength", "slope", "slope_ci")})
        out[name]["chosen"] = chosen
        save(stem, out)
        checked = None
        if chosen["layer"] is not None and load_presets()[name].get("heldout2") and (chosen["qualified"] or args.check_kept):
            checked = check(lm, enc, name, chosen["layer"], chosen["strength"],
                            sweeps.get((chosen["layer"], chosen["strength"])), log)
            out[name]["check"] = checked
            save(stem, out)
        write_settings(lm.name, name, chosen, checked)
    print("wrote", results.relative_to(ROOT), *(() if args.grid_only else ("and", SETTINGS_JSON.relative_to(ROOT))))


def _settings() -> dict:
    return json.loads(SETTINGS_JSON.read_text(encoding="utf-8")) if SETTINGS_JSON.exists() else {}


def rechoose(model: str | None, merge=(), run_check: bool = False, check_kept: bool = False) -> None:
    """Apply :func:`choose` to the saved grid of a model (bench/results/presets_<model>.json) with the points of
    ``merge``'s files added (presets_<model>_<tag>.json, from ``--grid-only --tag``), keeping a saved check of the
    chosen point; with ``run_check``, load the model and run the check where none is saved."""
    from latent.core.models import DEFAULT_LM  # noqa: PLC0415 - only this path needs the name without a model

    name_m = model or DEFAULT_LM
    res = ROOT / "bench" / "results"
    saved = json.loads((res / f"presets_{name_m}.json").read_text(encoding="utf-8"))
    extra = [json.loads((res / f"presets_{name_m}_{t}.json").read_text(encoding="utf-8")) for t in merge]
    lm = enc = None
    for name, r in saved.items():
        grid = [g for g in r["grid"]]
        for e in extra:
            got = {(g["layer"], g["strength"]) for g in grid if not g.get("skipped")}
            for g in e.get(name, {}).get("grid", []):
                if not g.get("skipped") and (g["layer"], g["strength"]) not in got:
                    grid = [x for x in grid if (x["layer"], x["strength"]) != (g["layer"], g["strength"])] + [g]
        grid.sort(key=lambda g: (g["layer"], g["strength"]))
        depths = sorted({g["depth"] for g in grid})
        strengths = sorted({g["strength"] for g in grid})
        previous = _settings().get(name_m, {}).get(name)
        r["grid"], r["chosen"] = grid, choose(grid, load_presets()[name], depths, strengths, previous)
        r.pop("partial", None)
        c = r["chosen"]
        chk = r.get("check")
        if chk and (chk["layer"], chk["strength"]) != (c["layer"], c["strength"]):
            chk = None
        if chk is None and run_check and c["layer"] is not None and (c["qualified"] or check_kept):
            if lm is None:
                lm, enc = load_lm(name_m, device="cpu", dtype="float32"), load_encoder()
            chk = r["check"] = check(lm, enc, name, c["layer"], c["strength"],
                                     log=lambda *a: print(time.strftime("%H:%M:%S"), name_m, *a, flush=True))
        write_settings(name_m, name, c, chk)
        print(name_m, name, {k: c.get(k) for k in ("qualified", "layer", "strength", "slope", "slope_ci")})
    save(f"presets_{name_m}", saved)


if __name__ == "__main__":
    main()
