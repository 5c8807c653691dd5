"""AppTest: the Concepts page on the tests' tiny model, with a tiny dictionary trained here (a few steps) and
written in the SAELens layout to a temporary folder that ``LATENT_CONCEPTS_DIR`` points at."""
import json

import pytest

from latent.concepts.features import ENV_DIR
from tests.support import app_dictionary_root
from tests.support import open_page as open_app_page

PAGE = "app_pages/8_Concepts.py"
D_SAE = 48


@pytest.fixture(scope="module")
def dict_root(tmp_path_factory):
    return app_dictionary_root(tmp_path_factory, D_SAE)


def open_page(root, monkeypatch, **query):
    """The Concepts page with ``LATENT_CONCEPTS_DIR`` at ``root``."""
    monkeypatch.setenv(ENV_DIR, str(root))
    return open_app_page(PAGE, timeout=300, **query)


def label(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Feature "))


def test_the_page_draws_the_card_a_feature_and_its_figures(dict_root, monkeypatch):
    at = open_page(dict_root, monkeypatch)
    assert not at.error, [e.value for e in at.error]
    card = at.dataframe[0].value
    assert list(card["key"])[:2] == ["l0", "fve"] and card["n"].iloc[0] > 0 and card["random"].notna().all()
    assert label(at).startswith("**Feature 0**") and "label from top tokens" in label(at)
    assert at.number_input(key="co_feature").value == 0
    assert at.query_params["feature"] == ["0"] or at.query_params["feature"] == "0"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "bar"
    assert any(b.key.startswith("do_co_near_") for b in at.button)


def test_a_feature_link_opens_that_feature(dict_root, monkeypatch):
    at = open_page(dict_root, monkeypatch, feature="7")
    assert at.number_input(key="co_feature").value == 7 and label(at).startswith("**Feature 7**")
    assert not at.warning, [w.value for w in at.warning]
    at.run()                                          # a rerun (the URL now says 7) keeps it
    assert at.number_input(key="co_feature").value == 7


def test_an_out_of_range_feature_falls_back_with_a_note(dict_root, monkeypatch):
    at = open_page(dict_root, monkeypatch, feature=str(D_SAE + 5))
    assert at.number_input(key="co_feature").value == 0
    assert any(f"Feature {D_SAE + 5} is out of range" in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_bad_folder_gives_one_clear_sentence(dict_root, monkeypatch, tmp_path):
    at = open_page(dict_root, monkeypatch)
    (tmp_path / "cfg.json").write_text("{not json")
    at.text_input(key="co_folder").input(str(tmp_path)).run()
    assert not at.exception and len(at.error) == 1
    msg = at.error[0].value
    assert "\n" not in msg and msg.endswith(".") and "cfg.json" in msg, msg
    at.text_input(key="co_folder").input(str(tmp_path / "nowhere")).run()
    assert [e.value for e in at.error] == [f"There is no folder at {tmp_path / 'nowhere'}."]


def test_no_dictionary_says_how_to_build_one(monkeypatch, tmp_path):
    at = open_page(tmp_path, monkeypatch)
    assert any("python -m latent concepts build --model" in i.value for i in at.info)
    assert not at.dataframe


def test_the_try_box_shades_the_text_and_the_word_search_finds_features(dict_root, monkeypatch):
    at = open_page(dict_root, monkeypatch)
    at.text_area(key="co_try").input("Bees make honey.").run()
    rows = ["".join(d.value.iloc[0].astype(str)) for d in at.dataframe if len(d.value) == 1]
    assert "Bees make honey." in rows                   # the tiny model reads bytes: one cell a character
    at.text_area(key="co_try").input("   ").run()             # (an over-long text: the box's max_chars, and a unit test)
    assert [e.value for e in at.error] == ["Type some text to read through the dictionary."]
    at.text_area(key="co_try").input("Bees make honey.").run()
    table = next(d.value for d in at.dataframe if "feature" in d.value.columns)
    assert len(table) and (table.iloc[:, 1].diff().dropna() <= 0).all()
    at.button(key=f"do_co_open_{int(table.iloc[0, 0])}").click().run()
    assert at.number_input(key="co_feature").value == int(table.iloc[0, 0])
