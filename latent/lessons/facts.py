"""Facts a lesson step can ask the model for, computed at run time (one function each).

Every fact returns ``{"answer": <a short label>, **values}``; the lesson's ``reveal`` picks the text
written for that answer. Results are kept on the model object (``lm.derived``), so a class that
reaches the same step computes it once.

Example::

    >>> sorted(FACTS)
    ['claim_verdict', 'dialogue_path', 'queen_sense', 'walk_band']

Every page reads the lessons (and so this table) before it draws anything, so each fact imports the
model code it runs when it runs (torch, scipy): Home draws its map without them.
"""
from __future__ import annotations

import numpy as np

from latent.core.corpus import load_corpus
from latent.core.models import embed
from latent.core.store import store


def calibration_words(c) -> tuple[str, str]:
    """What to call the sense numbers, and the note that goes with them: "p" only where the held-out
    calibration check passed at that layer; otherwise "score" (a probability must be calibrated).

    >>> from types import SimpleNamespace as NS
    >>> calibration_words(NS(calibrated=False, layer=9, ece=0.21, ece_null_p95=0.08, n=48))[0]
    'score'
    """
    if c is None:
        return "score", "no calibration was measured, so these are scores, not probabilities"
    if not c.calibrated:
        return "score", (f"scores, not probabilities: at layer {c.layer} the held-out calibration error "
                         f"{c.ece:.3f} is above the {c.ece_null_p95:.3f} that sampling noise gives at n = {c.n}")
    return "p", (f"calibrated at layer {c.layer} on held-out sense sentences: error {c.ece:.3f}, within the "
                 f"{c.ece_null_p95:.3f} of sampling noise at n = {c.n}; a row of context words is unlike those "
                 "sentences, so read p as the model's lean rather than a frequency")


def numbers_text(p_name: str, shown: dict) -> str:
    """The named step's sense numbers as printed: ``p(bee) = 0.62, p(monarch) = 0.01`` (each value from the
    report's :meth:`shown_p`, so a p above what held-out accuracy supports reads "≥ bound").

    >>> numbers_text("p", {"bee": "≥ 0.80", "monarch": "= 0.01"})
    'p(bee) ≥ 0.80, p(monarch) = 0.01'
    """
    return ", ".join(f"{p_name}({k}) {v}" for k, v in shown.items())


def queen_sense(lm, context: str, encoder=None) -> dict:
    """Which sense the model puts "queen" nearest after ``context`` (echo readout, best layer), or "unclear";
    a sense named by less than the threshold's own uncertainty is "barely named" and shows no p, and a p is
    printed no higher than held-out accuracy supports."""

    from latent.senses.sets import get_builtin  # noqa: PLC0415 - see the module docstring
    from latent.senses.study import NULL_LEVEL, kept_report, margin_text  # noqa: PLC0415 - see the module docstring

    rep = lm.derived(("lesson", "queen_sense", context),      # the Senses page's own fit of the set and steps
                     lambda: kept_report(lm, get_builtin("queen"), [context], encoder=encoder, orders=False))
    li = rep.layers.index(rep.layer)
    step = rep.steps[0]
    probs = step.probs[li]
    nearest = rep.senses[int(probs.argmax())]
    answer = step.predicted_sense
    p_name, calibration = calibration_words(rep.calibration)
    if rep.support is not None:
        calibration += "; " + rep.support.note()
    if answer == "unclear":
        why = (f"its closest sense ({nearest}) is no closer than the model gets for sentences with no sense of the word "
               f"at all ({len(rep.null_contexts)} such contexts measured, cut-off at their {NULL_LEVEL * 100:.0f}th "
               "percentile), so the page says 'unclear' and shows no number for it")
        numbers = f"no {p_name} is shown for an unclear step"
    elif step.barely:
        why = (f"barely named: {answer} ({margin_text(step)}): it clears the sense-free cut-off by less than that "
               f"cut-off's own uncertainty, so it is a lean, not a settled reading, and no {p_name} is shown")
        numbers = f"barely named ({margin_text(step)}), so no {p_name} is shown"
    else:
        why = f"{p_name}({answer}) {rep.shown_p(float(probs.max()))}"
        numbers = numbers_text(p_name, {k: rep.shown_p(float(probs[rep.senses.index(k)])) for k in ("bee", "monarch")})
    return {"answer": answer, "nearest": nearest, "p": float(probs.max()), "layer": rep.layer, "why": why,
            "p_bee": float(probs[rep.senses.index("bee")]), "p_monarch": float(probs[rep.senses.index("monarch")]),
            "p_name": p_name, "calibration": calibration, "numbers": numbers, "barely": bool(step.barely),
            "margin": step.margin, "margin_ci": step.margin_ci}


def dialogue_path(lm, dialogue: str = "000", encoder=None) -> dict:
    """Are consecutive turns of a seed dialogue closer (sentence-encoder cosine) than the turn's other,
    non-adjacent turns? Paired per turn, with a bootstrap interval: "closer", "not closer" or "unclear"."""

    from latent.claims.evidence import paired_finding  # noqa: PLC0415 - see the module docstring

    d = next((x for x in load_corpus() if x.id == dialogue), None)
    if d is None or encoder is None:
        raise ValueError("dialogue_path needs a seed dialogue id and the sentence encoder.")

    E = embed(encoder, [t.text for t in d.turns])
    dist = 1 - E @ E.T
    diffs = []
    for i in range(1, len(E)):
        far = [dist[i, j] for j in range(len(E)) if abs(i - j) > 1]
        if far:
            diffs.append(float(np.mean(far) - dist[i, i - 1]))
    f = paired_finding("other turns' distance minus the previous turn's", diffs)
    return {"answer": yes_no(f.verdict), "verdict": f.verdict,
            "effect": f.effect, "lo": f.ci[0], "hi": f.ci[1], "n": f.n, "title": d.title}


def walk_key(preset: str) -> tuple:
    """Where a lesson's walking sweep is kept on the model (the Latent walk page reads it there)."""
    return ("lesson", "walk_band", preset)


def walk_band(lm, preset: str = "Love − Hate", encoder=None) -> dict:
    """Does a preset direction move the concept meter beyond random directions of the same norm, run on
    the same prompts, seeds and strengths, and beyond directions built the same way from neutral
    sentences (the data-shaped null)? The preset's default sweep (the page's), by its slope: "yes" only
    when it clears both bands (:meth:`~latent.walk.paths.Sweep.band_verdict`). With it: the steered texts
    flagged degenerate, the direction's (``deg_dir`` of ``n_dir``) and the random directions'
    (``deg_random`` of ``n_random_rows``), and the prompt set's name (``prompt_set``, ``n_prompts``)."""
    from latent.walk.spec import SweepSpec  # noqa: PLC0415 - see the module docstring

    spec = SweepSpec.default(lm, preset)
    sw = lm.derived(walk_key(preset), lambda: store().cached(
        "lesson.walk_band", {"spec": spec.to_dict()}, lm, lambda: spec.run(lm, encoder)))
    v = sw.band_verdict()
    setting = spec.setting(lm)
    answer = "yes" if v.startswith("beyond") else "no" if v.startswith("within") else "unclear"
    deg = sw.degenerate_counts()
    prompt_set, n_prompts = sw.prompt_set_name()
    return {"answer": answer, "deg_dir": deg.get("direction", (0, 0))[0], "n_dir": deg.get("direction", (0, 0))[1],
            "deg_random": deg.get("random", (0, 0))[0], "n_random_rows": deg.get("random", (0, 0))[1],
            "prompt_set": prompt_set, "n_prompts": n_prompts, "slope": sw.slope, "lo": sw.slope_ci[0], "hi": sw.slope_ci[1],
            "band_lo": sw.random_band()[0], "band_hi": sw.random_band()[1], "n_units": sw.n_units,
            "n_random": len(sw.random_slopes), "wrong_way": sw.wrong_way, "preset": preset, "layer": spec.layer,
            "strength": setting.strength, "source": setting.source(), "verdict": v,
            "random_verdict": sw.random_verdict(), "data_verdict": sw.data_verdict(),
            "data_lo": sw.data_band()[0], "data_hi": sw.data_band()[1],
            "n_splits": sw.data_null.n_splits if sw.has_data_null else 0}


def yes_no(verdict: str) -> str:
    """A yes/no question's answer from a finding's verdict; anything but supported / not supported is "unclear"."""
    from latent.claims.evidence import NOT_SUPPORTED, SUPPORTED  # noqa: PLC0415 - see the module docstring

    return {SUPPORTED: "yes", NOT_SUPPORTED: "no"}.get(verdict, "unclear")


def claim_key(name: str, params: dict | None = None) -> tuple:
    """Where a lesson's experiment result is kept on the model (the Seed claims page reads it there)."""
    return ("lesson", "claim", name, tuple(sorted((params or {}).items())))


def claim_verdict(lm, name: str = "sparse-matrix", encoder=None, **params) -> dict:
    """A seed-claim experiment's verdict on the loaded model (fp32, seed 0)."""
    from latent.claims.framework import kept_run  # noqa: PLC0415 - see the module docstring

    r = lm.derived(claim_key(name, params), lambda: kept_run(name, lm, params=params))   # the Seed claims page's entry
    f = r.evidence.finding
    return {"answer": yes_no(f.verdict), "verdict": f.verdict,
            "effect": f.effect, "lo": f.ci[0], "hi": f.ci[1], "n": f.n, "measure": f.measure,
            "caveat": r.evidence.caveat}


FACTS = {"queen_sense": queen_sense, "dialogue_path": dialogue_path, "walk_band": walk_band,
         "claim_verdict": claim_verdict}
