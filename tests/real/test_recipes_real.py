"""The real-model half of tests/unit/test_recipes.py.

Every recipe kind a page or the CLI exports replays, through `replay`, to the data it was made from."""
import numpy as np
import pandas as pd

from latent.recipes import KINDS, Resources, make_recipe, replay
from tests.support import tiny_dictionary

SENSES = {"bee": ["The queen laid eggs in the hive.", "The queen bee and her workers."],
          "monarch": ["The queen wore her crown.", "The queen ruled the kingdom."]}


def direct(kind, p, lm, enc):
    """The table as a page computes it, by calling the library directly (not through recipes)."""
    if kind == "dialogue_map":
        from latent.core.corpus import load_corpus
        from latent.dialogues.map import MapSpec, compute_map
        return compute_map(MapSpec(**p), load_corpus(), lm=lm)[0]
    if kind == "states_map":
        from latent.core.direction import Direction
        from latent.states.map import axis_view, token_map
        tm = token_map(lm, p["prompts"], p["layers"], method=p["method"], dims=2, seed=p["seed"])
        return axis_view(tm, Direction.from_dict(p["x_axis"]), None)
    if kind == "lens":
        from latent.core.hidden import hidden_states
        from latent.core.lens import lens_table
        return lens_table(lm, hidden_states(lm, [p["text"]])[0], k=3)
    if kind == "senses":
        from latent.senses.sets import SenseSet
        from latent.senses.study import analyze, sense_map
        rep = analyze(lm, SenseSet(p["word"], p["senses"]), p["contexts"])
        return {"separability": rep.separability_table, "sense_map": lambda: sense_map(rep),
                "reliability": rep.reliability_table}.get(
            p["figure"], rep.probs_table)()
    if kind == "walk":
        from latent.core.direction import Direction
        from latent.walk.paths import steered_map, sweep
        d = Direction.from_dict(p["direction"])
        sw = sweep(lm, enc, p["prompt"], d, p["strengths"], max_new_tokens=p["max_new_tokens"], seeds=p["seeds"],
                   do_sample=p["do_sample"], n_random=p["n_random"])
        return steered_map(lm, sw, d) if p["figure"] == "steered_map" else sw.table()
    if kind == "interpolation":
        from latent.walk.paths import interpolate
        return interpolate(lm, enc, p["a"], p["b"], p["layer"]).table
    if kind == "claim":
        from latent.claims import run
        return run(p["name"], lm, seed=p.get("seed", 0), **p["params"]).table
    if kind == "concepts":
        from latent.concepts import beside
        from latent.concepts.features import feature_page, probe, probe_texts
        from latent.concepts.figures import activation_table
        from latent.concepts.io import load
        sae = load(p["folder"])
        if p["figure"] == "token":
            return beside.token_features(lm, sae, p["text"], p["position"]).table()
        if p["figure"] == "text":
            return beside.text_features(lm, sae, p["text"]).table()
        if p["figure"] == "senses":
            return beside.senses_table(beside.sense_features(lm, sae, p["word"], p["senses"]))
        page = feature_page(lm, sae, p["feature"], probe(lm, sae, probe_texts()))
        if p["figure"] == "contexts":
            return activation_table([list(zip(c.tokens, c.activations)) for c in page.contexts])
        if p["figure"] == "intervals":
            return page.intervals_table()
        return page.histogram_table()
    raise AssertionError(kind)


def cases(lm, folder):
    from latent.core.direction import Direction
    d = Direction(np.random.default_rng(1).normal(size=lm.d_model), layer=2, recipe={"kind": "random"},
                  positive="bee", negative="monarch")
    yield "dialogue_map", {"source": "lm", "layer": 2, "method": "pca", "dims": 2, "seed": 0, "pooling": "mean",
                           "color": "speaker"}
    yield "states_map", {"prompts": ["the queen", "a bee"], "layers": [0, 1, 2, 3], "method": "pca", "dims": 2,
                        "seed": 0, "layer": 2, "color": "token", "x_axis": d.to_dict()}
    yield "lens", {"text": "the queen"}
    for fig in KINDS["senses"].figures:
        yield "senses", {"word": "queen", "senses": SENSES, "contexts": ["queen", "honey queen"], "figure": fig,
                         **({"target": "bee"} if fig == "probabilities" else {})}
    for fig in KINDS["walk"].figures:
        yield "walk", {"prompt": "the queen", "strengths": [-1.0, 0.0, 1.0], "direction": d.to_dict(),
                        "max_new_tokens": 5, "seeds": [0, 1], "do_sample": True, "n_random": 2, "positions": "all",
                        "figure": fig}
    yield "interpolation", {"a": "the queen", "b": "a bee", "layer": 2}
    for fig in KINDS["claim"].figures:
        yield "claim", {"name": "sparse-messages", "params": {"layer": 2, "ks": [1, 8, 32],
                                                              "prompts": ["the queen", "a bee hive"]}, "seed": 1,
                        "figure": fig}
    folder = str(tiny_dictionary(lm, folder))
    beside_params = {"token": {"text": "the queen of the hive", "position": 2}, "text": {"text": "the queen of the hive"},
                     "senses": {"word": "queen", "senses": SENSES}}
    for fig in KINDS["concepts"].figures:
        yield "concepts", {"folder": folder, "figure": fig, **beside_params.get(fig, {"feature": 1})}


def test_every_kind_and_figure_replays_to_the_page_data(tiny_lm, encoder, tmp_path):
    seen = set()
    for kind, params in cases(tiny_lm, tmp_path / "dictionary"):
        recipe = make_recipe(kind, params, model=tiny_lm.name)
        table, fig, _ = replay(recipe, Resources(_lm=tiny_lm, _enc=encoder))
        ref = direct(kind, params, tiny_lm, encoder)
        pd.testing.assert_frame_equal(table.reset_index(drop=True), ref.reset_index(drop=True),
                                      check_exact=False, atol=1e-5, obj=f"{kind}/{params.get('figure')}")
        assert len(fig.data) > 0
        seen.add((kind, params.get("figure", KINDS[kind].figures[0])))
    assert seen == {(k, f) for k, kind in KINDS.items() for f in kind.figures}
