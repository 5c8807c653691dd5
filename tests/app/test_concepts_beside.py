"""AppTest: concepts beside the other views (Hidden states, Dialogues, Senses), the Concepts page's activation bins
and its "Steer with this feature" button into the Latent walk, on the tests' tiny model with a tiny dictionary
(trained here, as in test_concepts_page.py); and with no dictionary, one quiet caption."""
import pytest

from latent.concepts.features import ENV_DIR
from tests.support import app_dictionary_root, open_page

D_SAE = 48
NONE = "No concept dictionary for"


@pytest.fixture(scope="module")
def dict_root(tmp_path_factory):
    return app_dictionary_root(tmp_path_factory, D_SAE)


def feature_links(at) -> list[str]:
    """The query strings of the page's links to the Concepts page."""
    return [p.proto.query_string for p in at.get("page_link") if p.proto.page == "Concepts"]


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def _open(page, root, monkeypatch, **query):
    monkeypatch.setenv(ENV_DIR, str(root))
    at = open_page(page, timeout=300, **query)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


@pytest.mark.parametrize("page", ["app_pages/2_Hidden_states.py", "app_pages/1_Dialogues.py", "app_pages/3_Senses.py"])
def test_each_view_links_its_top_features_to_their_concepts_pages(page, dict_root, monkeypatch):
    at = _open(page, dict_root, monkeypatch)
    links = feature_links(at)
    assert links and all(q.startswith("feature=") and 0 <= int(q.split("=")[1]) < D_SAE for q in links), links
    assert any("layer 2, the dictionary's own layer" in c for c in captions(at)), captions(at)
    assert not any(c.startswith(NONE) for c in captions(at))


@pytest.mark.parametrize("page", ["app_pages/2_Hidden_states.py", "app_pages/1_Dialogues.py", "app_pages/3_Senses.py"])
def test_with_no_dictionary_a_view_says_so_once_and_nothing_else(page, monkeypatch, tmp_path):
    at = _open(page, tmp_path, monkeypatch)
    assert sum(c.startswith(NONE) for c in captions(at)) == 1 and not feature_links(at)


def test_the_hidden_states_token_picker_reads_the_chosen_token(dict_root, monkeypatch):
    at = _open("app_pages/2_Hidden_states.py", dict_root, monkeypatch)
    at.selectbox(key="states_co_token").select(3).run()
    assert not at.exception and any("on token 3 (" in c for c in captions(at)), captions(at)
    assert feature_links(at)


def test_the_concepts_page_shows_activation_bins_and_steers_with_a_feature(dict_root, monkeypatch):
    at = _open("app_pages/8_Concepts.py", dict_root, monkeypatch, feature="5")
    bins = [c for c in captions(at) if c.startswith("Activation in (")]
    assert len(bins) == 4, captions(at)
    at.button(key="do_co_steer").click().run()
    assert not at.exception, at.exception
    assert at.radio(key="walk_source").value == "concept feature"
    assert at.number_input(key="walk_feature").value == 5
    assert any("Feature 5 of the concept dictionary" in c and "random directions" in c and "does not apply" in c
               for c in captions(at)), captions(at)
    at.switch_page("app_pages/4_Latent_walk.py")        # AppTest's next run goes back to its own page; a browser stays
    at.slider(key="walk_tokens").set_value(5).run()
    assert at.radio(key="walk_source").value == "concept feature" and at.number_input(key="walk_feature").value == 5
    at.button(key="do_walk_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["n_random"]) == [8, 0, 8] and list(table["n_data"]) == [0, 0, 0]      # random directions only
    assert any("random directions" in i.value and "not as the difference of two sets of texts" in i.value
               for i in at.info), [i.value for i in at.info]


def test_a_walk_link_to_a_feature_out_of_range_falls_back_with_one_sentence(dict_root, monkeypatch):
    at = _open("app_pages/4_Latent_walk.py", dict_root, monkeypatch, walk_source="concept feature",
               walk_feature=str(D_SAE + 3))
    assert at.number_input(key="walk_feature").value == 0
    assert any(f"Feature {D_SAE + 3} is out of range" in w.value for w in at.warning), [w.value for w in at.warning]
