"""One sweep spec: the Latent walk page, the steer CLI, the steer recipe and the walking lesson run the same
default sweep (the page's is checked in tests/app/test_app.py, on the page itself), a spec round-trips
through its dict and a recipe, and a bad value is one clear error."""
import json

import numpy as np
import pytest

from latent.core.direction import Direction, DirectionError
from latent.core.errors import InputError, LatentError
from latent.recipes import RecipeError, Resources, make_recipe, replay
from latent.walk.paths import N_RANDOM
from latent.walk.presets import DEFAULT_PRESET, load_presets
from latent.walk.spec import SweepSpec

PRESET = DEFAULT_PRESET


class _Enc:  # a stand-in sentence encoder: the sweep's arithmetic, not the encoder, is under test
    def encode(self, texts, normalize_embeddings=True, **kw):
        v = np.array([[len(t) + 1.0, t.count("e") + 1.0] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class _Ran(Exception):
    """Stops a recorded run: the test needs the spec that would run, not the sweep."""


@pytest.fixture
def recorded(monkeypatch):
    """SweepSpec.run records the spec it was asked to run (and the direction it was given), then stops."""
    seen = []

    def run(self, lm, encoder, *, direction=None, runner=None, on_token=None):
        seen.append((self, direction))
        raise _Ran
    monkeypatch.setattr(SweepSpec, "run", run)
    return seen


def _direction(lm, layer):
    return Direction(np.random.default_rng(3).normal(size=lm.d_model), layer=layer, recipe={"kind": "random"},
                     positive="love", negative="hate")


def test_the_cli_the_recipe_and_the_lesson_run_the_default_spec_of_the_preset(tiny_lm, recorded, monkeypatch):
    """The page's own default (its widgets untouched) is SweepSpec.default: tests/app/test_app.py."""
    import latent.cli as cli
    from latent.lessons.facts import walk_band

    default = SweepSpec.default(tiny_lm, PRESET)
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    monkeypatch.setattr(cli, "load_encoder", lambda *a, **k: _Enc())
    cli.main(["walk", "--preset", PRESET])                              # (main reports the stop and returns)
    # the recipe the page writes for its default sweep: the spec's dict, the direction's vector, the figure
    d = _direction(tiny_lm, default.layer)
    recipe = make_recipe("walk", {**default.to_dict(), "direction": d.to_dict(), "figure": "meters"})
    with pytest.raises(_Ran):
        replay(json.loads(json.dumps(recipe)), Resources(None, tiny_lm, _Enc()))
    with pytest.raises(_Ran):
        walk_band(tiny_lm, PRESET, _Enc())
    (cli_spec, _), (recipe_spec, given), (lesson_spec, _) = recorded
    assert cli_spec == recipe_spec == lesson_spec == default
    assert np.array_equal(given.vector, d.vector)                        # the recipe walks its own vector
    assert default.n_random == N_RANDOM == 8 and default.seeds == (0,) and default.max_new_tokens == 24
    p = load_presets()[PRESET]
    assert default.prompts == tuple(p["prompts"]) and len(default.strengths) == 3 and default.strengths[1] == 0


def test_the_cli_without_a_preset_runs_the_free_default_with_its_flags(tiny_lm, recorded, monkeypatch):
    import latent.cli as cli

    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    monkeypatch.setattr(cli, "load_encoder", lambda *a, **k: _Enc())
    cli.main(["walk", "--toward", "love|joy", "--away", "hate", "--prompt", "the queen", "--random", "2"])
    spec, _ = recorded[0]
    assert spec == SweepSpec.default(tiny_lm, None).replace(positive=("love", "joy"), negative=("hate",),
                                                             prompts=("the queen",), n_random=2)


def test_a_recipe_without_the_random_count_replays_with_the_pages(tiny_lm):
    """Before the spec, the recipe defaulted to 5 random directions where the page ran 8: an old recipe
    (no n_random; and "prompt", as recipes once wrote it) now replays with the page's count."""
    d = _direction(tiny_lm, 2)
    params = {"prompt": "the queen", "strengths": [-1.0, 0.0, 1.0], "direction": d.to_dict(), "layer": 2,
              "max_new_tokens": 3, "seeds": [0], "do_sample": True, "positions": "all"}
    table, _, _ = replay({"kind": "steer", "params": params}, Resources(None, tiny_lm, _Enc()))
    page = SweepSpec.default(tiny_lm, PRESET).n_random
    assert list(table["n_random"]) == [page, 0, page] and page == 8


def test_an_old_recipes_fields_are_read_as_the_specs():
    spec = SweepSpec.from_dict({"prompt": "the queen", "seed": 4, "strengths": [0.0, 1.0]})
    assert spec.prompts == ("the queen",) and spec.seeds == (4,) and spec.n_random == 8
    assert SweepSpec.from_dict({"prompt": ["a", "b"], "strengths": [1]}).prompts == ("a", "b")


@pytest.mark.parametrize("make", [
    lambda lm: SweepSpec.default(lm, PRESET),
    lambda lm: SweepSpec.default(lm, None).replace(method="pca", pooling="last", seeds=(3, 4), do_sample=False),
    lambda lm: SweepSpec.default(lm, None, source="direction").replace(positions="first", n_random=0),
    lambda lm: SweepSpec.default(lm, None, source="direction").replace(source="feature", feature=7),
])
def test_to_dict_and_from_dict_round_trip(tiny_lm, make):
    spec = make(tiny_lm)
    back = SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec and back.to_dict() == spec.to_dict()


def test_a_sweeps_recipe_replays_to_the_same_table_and_its_records_read_the_summary(tiny_lm):
    spec = SweepSpec.default(tiny_lm, None).replace(prompts=("the queen", "a hive"), strengths=(-2.0, 0.0, 2.0),
                                                    seeds=(0, 1), max_new_tokens=4, n_random=3, layer=2)
    sw = spec.run(tiny_lm, _Enc())
    assert SweepSpec.from_dict({k: v for k, v in sw.recipe.items() if k != "direction"}) == spec
    table, _, _ = replay(make_recipe("walk", {**sw.recipe, "figure": "meters"}), Resources(None, tiny_lm, _Enc()))
    assert table.equals(sw.table())
    recs = sw.per_strength()
    assert [r.strength for r in recs] == [-2.0, 0.0, 2.0] and [r.text for r in recs] == sw.texts
    assert [r.n for r in recs] == [4, 4, 4] and [r.n_random for r in recs] == [3, 0, 3]
    zero = recs[1]
    assert zero.baseline and zero.verdict == "baseline" and zero.difference == 0.0 and zero.difference_null == (0.0, 0.0)
    for r, row in zip(recs, sw.summary.itertuples()):
        assert r.difference_ci == (row.difference_lo, row.difference_hi) and r.random_band == (row.random_lo, row.random_hi)
        assert r.effect == row.effect and r.distinct2 == row.distinct2 and r.degenerate == row.degenerate


@pytest.mark.parametrize("d,msg", [
    ({"n_random": -1}, "n_random -1 is out of range"),
    ({"n_random": "8"}, "n_random must be a whole number"),
    ({"strengths": []}, "at least one strength"),
    ({"strengths": [0, 99]}, "between -10 and 10"),
    ({"positions": "middle"}, "Unknown positions 'middle'"),
    ({"method": "svd"}, "Unknown method 'svd'"),
    ({"source": "preset", "preset": "No such"}, "Unknown preset 'No such'"),
    ({"source": "nowhere"}, "Unknown sweep source"),
    ({"source": "texts", "positive": ["love"]}, "at least one positive and one negative"),
    ({"max_new_tokens": 0}, "max_new_tokens 0 is out of range; choose 1-256"),
    ({"prompts": "the queen"}, "prompts must be a list of texts"),
    ({"prompts": ["  "]}, "at least one prompt"),
    ({"seeds": []}, "at least one seed"),
    ({"seeds": [0.5]}, "seed must be a whole number"),
    ({"layer": 0}, "layer 0 is out of range"),
    ({"do_sample": "yes"}, "do_sample must be true or false"),
    ({"n_randm": 3}, "Unknown sweep setting 'n_randm'"),
    ({"source": "feature"}, "needs the feature's number"),
    ({"source": "feature", "feature": -1}, "feature -1 is out of range"),
    ({"source": "texts", "positive": ["a"], "negative": ["b"], "feature": 3}, "feature is for the source 'feature'"),
])
def test_a_bad_value_is_one_clear_error(d, msg):
    with pytest.raises((InputError, DirectionError), match=msg):
        SweepSpec.from_dict(d)


def test_a_bad_recipe_and_a_layer_the_model_lacks_are_clear_errors(tiny_lm):
    d = _direction(tiny_lm, 2)
    with pytest.raises(RecipeError, match="Bad steer params: n_random -2 is out of range"):
        replay({"kind": "steer", "params": {"prompts": ["a"], "strengths": [1.0], "n_random": -2,
                                            "direction": d.to_dict()}}, Resources(None, tiny_lm, _Enc()))
    with pytest.raises(LatentError, match="out of range"):
        SweepSpec(layer=tiny_lm.n_layers + 1).run(tiny_lm, _Enc(), direction=d)
    with pytest.raises(DirectionError, match="The direction is for layer 2, not 1"):
        SweepSpec(layer=1).run(tiny_lm, _Enc(), direction=d)
    with pytest.raises(InputError, match="needs the direction"):
        SweepSpec().run(tiny_lm, _Enc())
    with pytest.raises(InputError, match="dictionary feature needs its direction"):
        SweepSpec(source="feature", feature=2).run(tiny_lm, _Enc())
