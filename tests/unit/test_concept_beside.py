"""Concepts beside the other views (latent.concepts.beside) and a feature's activation bins, on the tiny model
with a tiny dictionary."""
import numpy as np
import pytest

from latent.concepts.beside import feature_direction, kept_reading, sense_features, senses_table, text_features, token_features
from latent.concepts.features import feature_page, intervals, kept_dictionary, probe
from latent.concepts.figures import features_figure
from latent.concepts.sae import DictionaryError
from latent.core.errors import InputError
from latent.walk.null import mirror_reason
from tests.support import tiny_dictionary

TEXTS = [f"The queen {i} of the hive makes honey, and the bees make wax." for i in range(6)] + \
        ["A king and a queen sat on the throne.", "Numbers: 12, 34, 56 and 78."]


@pytest.fixture(scope="module")
def folder(tiny_lm, tmp_path_factory):
    return tiny_dictionary(tiny_lm, tmp_path_factory.mktemp("dict") / tiny_lm.name, TEXTS, d_sae=32)


@pytest.fixture(scope="module")
def sae(tiny_lm, folder):
    return kept_dictionary(tiny_lm, folder)


def test_a_tokens_features_are_its_own_activations_strongest_first(tiny_lm, sae):
    text = TEXTS[6]
    r = kept_reading(tiny_lm, sae, text)
    i = next(j for j in range(len(r.tokens)) if not r.massive[j] and r.acts[j].max() > 0)
    tf = token_features(tiny_lm, sae, text, i, k=3)
    assert tf.layer == 2 and tf.n == 1 and tf.tokens == [r.tokens[i]] and 1 <= len(tf.features) <= 3
    want = np.argsort(-r.acts[i], kind="stable")[:len(tf.features)]
    assert [f for f, _, _ in tf.features] == want.tolist()
    assert [v for _, v, _ in tf.features] == pytest.approx(r.acts[i][want].tolist())
    assert all(k == 1 for _, _, k in tf.features)
    assert tf.to_json()["features"][0]["feature"] == int(want[0])
    with pytest.raises(InputError, match="out of range"):
        token_features(tiny_lm, sae, text, len(r.tokens) + 3)


def test_a_texts_features_are_the_mean_over_its_kept_tokens(tiny_lm, sae):
    r = kept_reading(tiny_lm, sae, TEXTS[0])
    kept = ~np.asarray(r.massive)
    tf = text_features(tiny_lm, sae, TEXTS[0], k=4)
    assert tf.n == int(kept.sum()) > 0
    mean = r.acts[kept].mean(0)
    assert [v for _, v, _ in tf.features] == pytest.approx(np.sort(mean)[::-1][:len(tf.features)].tolist())
    assert [k for f, _, k in tf.features] == [int((r.acts[kept][:, f] > 0).sum()) for f, _, _ in tf.features]
    assert list(tf.table().columns) == ["feature", f"mean activation (n = {tf.n})", "fires on"]


def test_sense_features_average_the_word_over_each_senses_sentences(tiny_lm, sae):
    senses = {"bee": ["The queen of the hive.", "A queen bee lays eggs."], "monarch": ["The queen rules.", "No word here."]}
    found = sense_features(tiny_lm, sae, "queen", senses, k=3)
    assert list(found) == ["bee", "monarch"]
    assert found["bee"].n == 2 and found["monarch"].n == 1 and "1 of 2 sentences" in found["monarch"].note
    r = kept_reading(tiny_lm, sae, "The queen rules.")
    at = "The queen rules.".find("queen")
    span = [i for i, (a, b) in enumerate(r.offsets) if a < at + 5 and b > at]
    one = r.acts[span].sum(0)
    assert found["monarch"].features and one.max() > 0
    f, v, _ = found["monarch"].features[0]
    assert f == int(np.argmax(one)) and v == pytest.approx(float(one.max()))
    table = senses_table(found)
    assert set(table["sense"]) <= {"bee", "monarch"} and (table["n"] >= 1).all()
    assert sense_features(tiny_lm, sae, "queen", {"x": ["no such word"]})["x"].n == 0
    with pytest.raises(InputError):
        sense_features(tiny_lm, sae, " ", senses)
    fig = features_figure(found, "t")
    assert len(fig.data) == 2 and "n = 2" in fig.data[0].name


def test_intervals_cover_every_firing_token_from_the_top_down(tiny_lm, sae):
    pr = probe(tiny_lm, sae, TEXTS)
    f = int(np.argmax(np.diff(pr.starts)))
    bins = intervals(pr, f, n_bins=4, per_bin=2)
    rows, vals = pr.of(f)
    assert len(bins) == 4 and sum(b.n for b in bins) == len(vals)
    assert bins[0].hi == pytest.approx(float(vals.max())) and bins[-1].lo == 0.0
    assert all(a.lo == pytest.approx(b.hi) for a, b in zip(bins, bins[1:]))
    for b in bins:
        assert len(b.contexts) <= 2 and (b.n == 0) == (not b.contexts)
        assert all(b.lo < c.activation <= b.hi + 1e-6 for c in b.contexts)
    weakest = [b for b in bins if b.n][-1]
    assert min(c.activation for c in weakest.contexts) < bins[0].contexts[0].activation     # not only the top
    page = feature_page(tiny_lm, sae, f, pr)
    assert len(page.intervals) == 4 and page.to_json()["intervals"][0]["n"] == bins[0].n
    assert set(page.intervals_table().columns) >= {"interval", "tokens_in_interval", "activation"}


def test_a_features_direction_is_its_decoder_row_and_has_no_data_null(tiny_lm, sae):
    d = feature_direction(tiny_lm, sae, 3, label="queen", up=[" hive"], down=[" the"])
    assert d.layer == 2 and np.allclose(d.vector, sae.W_dec[3].detach().float().numpy())
    assert d.recipe["kind"] == "feature" and d.recipe["feature"] == 3 and d.recipe["positive"] == ["hive"]
    assert "not as the difference of two sets of texts" in mirror_reason(d)
    with pytest.raises(DictionaryError, match="out of range"):
        feature_direction(tiny_lm, sae, sae.d_sae)


class _Enc:  # a stand-in sentence encoder: the sweep's arithmetic, not the encoder, is under test
    def encode(self, texts, normalize_embeddings=True, **kw):
        v = np.array([[len(t) + 1.0, t.count("e") + 1.0] for t in texts])
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_sweep_along_a_feature_runs_its_random_null_and_says_why_there_is_no_data_null(tiny_lm, sae):
    import json

    from latent.recipes import Resources, make_recipe, replay
    from latent.walk.spec import SweepSpec

    d = feature_direction(tiny_lm, sae, 5, label="hive")
    spec = SweepSpec.default(tiny_lm, None, source="direction").replace(
        source="feature", feature=5, prompts=("the queen",), strengths=(0.0, 1.0), max_new_tokens=3, n_random=3)
    sw = spec.run(tiny_lm, _Enc(), direction=d)
    assert sw.recipe["source"] == "feature" and sw.recipe["feature"] == 5 and sw.recipe["direction"]["recipe"]["kind"] == "feature"
    assert len(sw.random_slopes) == 3 and not sw.has_data_null
    assert "not as the difference of two sets of texts" in sw.finding()
    table, _, _ = replay(json.loads(json.dumps(make_recipe("walk", {**sw.recipe, "figure": "meters"}))),
                         Resources(None, tiny_lm, _Enc()))
    assert table.equals(sw.table())


@pytest.mark.parametrize("figure,extra", [
    ("token", {"text": TEXTS[6], "position": 4}),
    ("text", {"text": TEXTS[0]}),
    ("senses", {"word": "queen", "senses": {"bee": [TEXTS[0]], "monarch": [TEXTS[6]]}}),
    ("intervals", {"feature": 3}),
])
def test_the_concepts_recipe_replays_each_new_figure_with_its_table(tiny_lm, sae, folder, figure, extra):
    import json

    from latent.recipes import Resources, make_recipe, replay

    recipe = json.loads(json.dumps(make_recipe("concepts", {"folder": str(folder), "figure": figure, "lang": "de", **extra})))
    table, fig, _ = replay(recipe, Resources(None, tiny_lm))
    assert len(fig.data) >= 1 and len(table) >= 1
    if figure == "token":
        assert table.equals(token_features(tiny_lm, sae, TEXTS[6], 4).table()) and "Schicht 2" in fig.layout.title.text
    if figure == "senses":
        assert set(table["sense"]) <= {"bee", "monarch"} and "queen" in fig.layout.title.text
    if figure == "intervals":
        assert set(table.columns) >= {"interval", "tokens_in_interval", "activation"}


def test_reading_many_texts_at_once_equals_reading_each(tiny_lm, sae):
    from latent.concepts.beside import read_many
    from latent.concepts.features import read_text

    texts = [TEXTS[0], TEXTS[6], "Bees."]
    for many, one in zip(read_many(tiny_lm, sae, texts), [read_text(tiny_lm, sae, t) for t in texts]):
        assert many.tokens == one.tokens and many.massive == one.massive and many.offsets == one.offsets
        assert np.allclose(many.acts, one.acts, atol=1e-5)


def test_the_walks_feature_is_its_decoder_direction_with_its_pages_label_and_pushed_tokens_as_poles(tiny_lm, sae):
    from latent.concepts.beside import walk_feature
    from latent.concepts.features import kept_feature

    d, page = walk_feature(tiny_lm, sae, 3)
    assert page.to_json() == kept_feature(tiny_lm, sae, 3).to_json()
    assert np.allclose(d.vector, sae.W_dec[3].detach().float().numpy())
    assert d.recipe["positive"] == ([t.strip() for t, _ in page.up[:5] if t.strip()] or [page.label])
    assert d.layer == sae.layer and page.label in d.positive
