"""The feature-page computations (latent.concepts.features) on the tiny model with a tiny dictionary."""
import numpy as np
import pytest
import torch

from latent.concepts.collect import collect
from latent.concepts.features import (
    ENV_DIR,
    check_feature,
    feature_page,
    kept_dictionary,
    label_from_tokens,
    nearest_features,
    probe,
    read_text,
    shipped_folder,
    word_features,
)
from latent.concepts.figures import card_table, density_figure, shaded
from latent.concepts.sae import DictionaryError
from latent.core.errors import InputError
from tests.support import tiny_dictionary

TEXTS = [f"The queen {i} of the hive makes honey, and the bees make wax." for i in range(6)] + \
        ["A king and a queen sat on the throne.", "Numbers: 12, 34, 56 and 78."]


@pytest.fixture(scope="module")
def sae(tiny_lm, tmp_path_factory):
    folder = tiny_dictionary(tiny_lm, tmp_path_factory.mktemp("dict") / tiny_lm.name, TEXTS, d_sae=32)
    return kept_dictionary(tiny_lm, folder)


@pytest.fixture(scope="module")
def pr(tiny_lm, sae):
    return probe(tiny_lm, sae, TEXTS)


def busiest(pr, sae) -> int:
    return int(np.argmax(np.diff(pr.starts)))


def test_top_contexts_are_sorted_and_peak_at_their_activation(tiny_lm, sae, pr):
    f = busiest(pr, sae)
    page = feature_page(tiny_lm, sae, f, pr, top=6)
    acts = [c.activation for c in page.contexts]
    assert len(acts) >= 2 and acts == sorted(acts, reverse=True)
    rows, vals = pr.of(f)
    assert acts[0] == pytest.approx(float(vals.max()))
    for c in page.contexts:
        assert c.activations[c.peak] == pytest.approx(c.activation) and c.tokens[c.peak] == pr.tokens[
            np.flatnonzero((pr.text_index == c.text) & (pr.position == c.position))[0]]


def test_density_counts_sum_to_the_probe_tokens(tiny_lm, sae, pr):
    for f in range(sae.d_sae):
        page = feature_page(tiny_lm, sae, f, pr)
        assert sum(page.counts) == page.tokens == pr.n_kept, f
        assert page.counts[0] == page.tokens - page.fired and len(page.bins) == len(page.counts)
    fig = density_figure(page)
    assert sum(fig.data[0].y) == page.fired


def test_the_probe_matches_encoding_every_kept_state(tiny_lm, sae, pr):
    st = collect(tiny_lm, TEXTS, 2, rule=sae.rule)
    a = sae.encode(torch.from_numpy(st.X)).numpy()
    a[st.massive] = 0
    assert len(pr.vals) == int((a > 0).sum())
    f = busiest(pr, sae)
    rows, vals = pr.of(f)
    np.testing.assert_allclose(vals, a[rows, f], rtol=1e-5)


def test_nearest_features_exclude_itself_and_are_sorted(sae):
    for f in (0, 5, sae.d_sae - 1):
        near = nearest_features(sae, f, k=5)
        assert f not in [g for g, _ in near] and len(near) == 5
        cos = [c for _, c in near]
        assert cos == sorted(cos, reverse=True) and all(-1 - 1e-6 <= c <= 1 + 1e-6 for c in cos)
    W = torch.nn.functional.normalize(sae.W_dec, dim=1)
    g, c = nearest_features(sae, 3, k=1)[0]
    assert c == pytest.approx(float(W[3] @ W[g]), abs=1e-6)


def test_the_label_comes_from_the_top_tokens():
    assert label_from_tokens([" king", "King", " queen", " the"], [3.0, 2.0, 1.5, 0.2], n=2) == "king / queen"
    assert label_from_tokens([" x", " y"], [1.0, 2.0], n=1) == "y"
    assert label_from_tokens([], []).startswith("(no label")


def test_the_page_label_and_pushed_tokens(tiny_lm, sae, pr):
    page = feature_page(tiny_lm, sae, busiest(pr, sae), pr)
    peaks = [c.tokens[c.peak].strip().casefold() for c in page.contexts]
    assert page.label.split(" / ")[0] in peaks
    ups, downs = [v for _, v in page.up], [v for _, v in page.down]
    assert ups == sorted(ups, reverse=True) and downs == sorted(downs) and ups[0] >= downs[0]
    js = page.to_json()
    assert js["label_from"] == "top tokens" and js["probe"]["tokens"] == pr.n_kept


def test_feature_numbers_out_of_range_fall_back(tiny_lm, sae, pr):
    assert check_feature("5", 32) == (5, None)
    f, note = check_feature("32", 32)
    assert f == 0 and note == "Feature 32 is out of range: this dictionary has features 0 to 31; showing feature 0."
    assert check_feature("-1", 32)[0] == 0 and "whole number" in check_feature("two", 32)[1]
    with pytest.raises(DictionaryError, match="out of range"):
        feature_page(tiny_lm, sae, 32, pr)


def test_reading_a_text_and_finding_a_words_features(tiny_lm, sae):
    r = read_text(tiny_lm, sae, "The queen sat.")
    assert "".join(r.tokens) == "The queen sat." and r.acts.shape == (len(r.tokens), sae.d_sae)
    assert [a for _, a in r.shade(1)] == [None if m else float(r.acts[i, 1]) for i, m in enumerate(r.massive)]
    w = word_features(tiny_lm, sae, "The queen sat.", "QUEEN")
    assert "".join(w.tokens) == "queen"
    span = [i for i, t in enumerate(r.tokens) if 4 <= r.offsets[i][0] < 9]
    total = r.acts[span].sum(0)
    assert [f for f, _ in w.features] == [int(f) for f in np.argsort(-total, kind="stable")[:10] if total[f] > 0]
    with pytest.raises(InputError, match="does not occur"):
        word_features(tiny_lm, sae, "The queen sat.", "bee")
    with pytest.raises(InputError, match="under 2,000"):
        read_text(tiny_lm, sae, "x" * 2001)
    with pytest.raises(InputError, match="Type some text"):
        read_text(tiny_lm, sae, "  ")


def test_shipped_folders_and_bad_folders(tiny_lm, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    assert shipped_folder(tiny_lm.name) is None
    (tmp_path / tiny_lm.name).mkdir()
    (tmp_path / tiny_lm.name / "cfg.json").write_text("{}")
    assert shipped_folder(tiny_lm.name) == tmp_path / tiny_lm.name
    with pytest.raises(DictionaryError, match="There is no folder at"):
        kept_dictionary(tiny_lm, tmp_path / "nowhere")
    with pytest.raises(DictionaryError, match="Type the path"):
        kept_dictionary(tiny_lm, " ")


def test_shaded_text_is_plain_cells_coloured_by_activation():
    sty = shaded([[("<b>x</b>", 2.0), ("y", 0.0), ("z", None)]])
    assert list(sty.data.iloc[0]) == ["<b>x</b>", "y", "z"]      # the cells hold the text (st.dataframe draws it as text)
    css = sty._compute().ctx
    assert css[(0, 0)] == [("background-color", "rgba(230,120,20,1.000)")] and not css.get((0, 1))
    assert ("background-color", "rgb(220,220,220)") in css[(0, 2)]


def test_the_card_table_has_each_figure_with_its_interval():
    fig = {"value": 0.5, "ci": [0.4, 0.6], "n": 100, "interval": "bootstrap"}
    t = card_table({"trained": {"fve": fig}, "random": {"fve": {**fig, "value": 0.1}}})
    row = t.set_index("key").loc["fve"]
    assert (row["trained"], row["random"], row["n"], row["trained 95% interval"]) == (0.5, 0.1, 100, "[0.4, 0.6]")
    assert row["figure"] == "FVE (share of variance kept)"


def test_the_offline_text_needs_no_download_and_keeps_the_senses_held_out_sentences_out():
    import json

    from latent.concepts.offline import offline_texts, sources
    from latent.core.corpus import ASSETS

    src = sources()
    assert set(src) == {"seed dialogue turns", "pydoc_data.topics (PSF)", "sense and walk sentences (assets/)"}
    assert all(len(v) > 50 for v in src.values()) and all("\n" not in t and t.strip() for v in src.values() for t in v)
    words = {k: v for k, v in json.loads((ASSETS / "senses_heldout.json").read_text()).items() if isinstance(v, dict)}
    held = {s for senses in words.values() for sense in senses.values() for s in sense}
    assert len(words) >= 12 and held and not held & set(offline_texts())       # every word's, not only queen's
    assert offline_texts() == offline_texts()                  # a fixed order
