"""bench/bench_presets.py's rules on constructed grid points (issue 37, items 2 and 3): the cliff rule counts the
random and data-null rows as it counts the direction's, a point must clear both nulls below the cliff to
qualify, no qualifying point is said (the earlier setting kept, not called measured), and the n of prompts
comes from the draws or, where none clear, from the pooled interval. The grid itself runs on the models
(docs/claims.md)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_presets as bp  # noqa: E402 - the bench folder is not a package

from latent.walk.presets import PresetSetting, load_presets  # noqa: E402

PRESET = load_presets()["Love − Hate"]


def _point(layer, s, slope_ci, random_band, data_band, *, typ=(-2.0, -2.3, -2.2), deg=(0, 0, 0), verdict=None):
    """A grid point as bench_presets.point writes it: ``typ`` = (unsteered, direction, random) mean typicality,
    ``deg`` = degenerate rows of 8 direction, 64 random and 32 data-null rows at one strength."""
    lo = slope_ci[0]
    beyond = lo > random_band[1] and lo > data_band[1]
    at = {k: {"n": n, "degenerate": d, "typicality": t} for k, n, d, t in
          zip(bp.KINDS, (8, 64, 32), deg, (typ[1], typ[2], typ[2]))}
    return {"layer": layer, "depth": 0.3, "strength": s, "slope": sum(slope_ci) / 2, "slope_ci": list(slope_ci),
            "verdict": verdict or ("beyond random" if beyond else "within data-shaped band"),
            "null_random": {"band": list(random_band), "verdict": "beyond random"},
            "null_data": {"band": list(data_band), "verdict": "x", "n_splits": 4, "slopes": [], "sizes": [8, 8]},
            "n_units": 8, "n_random": 8, "typicality_unsteered": typ[0],
            "per_strength": [{"strength": -s, **at}, {"strength": s, **at}]}


def test_the_cliff_counts_typicality_and_every_kind_of_row():
    below = bp.cliff(_point(7, 0.2, (0.3, 0.5), (-0.1, 0.1), (-0.2, 0.2)))
    assert below["below"] and below["typicality_drop"] == pytest.approx(0.3) and below["degenerate"]["random"] == "0/64"
    far = bp.cliff(_point(7, 0.4, (0.3, 0.5), (-0.1, 0.1), (-0.2, 0.2), typ=(-2.0, -4.8, -2.5)))
    assert not far["below"] and "direction typicality falls 2.80" in far["why"]
    rnd = bp.cliff(_point(7, 0.4, (0.3, 0.5), (-0.1, 0.1), (-0.2, 0.2), deg=(0, 40, 3)))    # only the controls degenerate
    assert not rnd["below"] and "40/64 random rows degenerate" in rnd["why"]
    dat = bp.cliff(_point(7, 0.4, (0.3, 0.5), (-0.1, 0.1), (-0.2, 0.2), deg=(0, 0, 16)))
    assert not dat["below"] and "16/32 data-null rows" in dat["why"]
    rtyp = bp.cliff(_point(7, 0.4, (0.3, 0.5), (-0.1, 0.1), (-0.2, 0.2), typ=(-2.0, -2.2, -3.5)))
    assert not rtyp["below"] and "random typicality falls 1.50" in rtyp["why"]


def test_a_point_qualifies_only_beyond_both_nulls_and_below_the_cliff():
    grid = [_point(5, 0.2, (0.30, 0.50), (-0.1, 0.1), (-0.3, 0.4)),                      # inside the data band
            _point(5, 0.4, (0.60, 0.90), (-0.1, 0.1), (-0.3, 0.4), typ=(-2.0, -4.0, -3.8)),   # beyond both, past the cliff
            _point(7, 0.2, (0.25, 0.45), (-0.1, 0.1), (-0.1, 0.2)),                      # beyond both, below: clears by 0.05 / 0.3
            _point(9, 0.2, (0.30, 0.40), (-0.1, 0.1), (-0.2, 0.2))]                      # beyond both, below: clears by 0.1 / 0.4
    c = bp.choose(grid, PRESET)
    assert c["qualified"] and (c["layer"], c["strength"]) == (9, 0.2)
    assert c["data_band"] == [-0.2, 0.2] and c["clearance"] == pytest.approx(0.25) and "below the cliff" in c["criterion"]
    assert grid[1]["cliff"]["below"] is False                                             # each point carries its cliff
    none = bp.choose(grid[:2], PRESET, previous={"layer": 7, "strength": 0.4})
    assert none["qualified"] is False and (none["layer"], none["strength"]) == (7, 0.4) and "not a measured choice" in none["note"]
    s = PresetSetting("Love − Hate", 7, 0.4, ("p",), measured=none).source()
    assert s.startswith("No layer and strength") and "not a measured one" in s and "under half" in s


def test_the_needed_n_is_measured_from_draws_or_estimated_from_the_pooled_interval():
    curve = [{"n": 4, "share_beyond_both": 0.3}, {"n": 8, "share_beyond_both": 0.85}, {"n": 16, "share_beyond_both": 1.0}]
    pooled = {"slope": 0.4, "slope_ci": [0.2, 0.6], "n_prompts": 16, "null_random": {"band": [-0.1, 0.1]},
              "null_data": {"band": [-0.3, 0.3]}}
    assert bp.needed_n(pooled, curve)["n"] == 8
    none = [{"n": n, "share_beyond_both": 0.0} for n in (4, 8, 16)]
    est = bp.needed_n(pooled, none)               # half-width 0.2 against a gap of 0.1 above the data band: 16 × 4
    assert est["n"] == 64 and est["how"].startswith("estimated")
    inside = bp.needed_n({**pooled, "slope": 0.25}, none)
    assert inside["n"] is None and "inside a null's band" in inside["how"]
