"""One word per idea (Hidden states: ``states``; Latent walk: ``walk``), and the older names still work:
links with ``hs_``/``wk_`` settings, recipes of kind ``token_map``/``steer``, the commands ``tokens``/``steer``."""
from streamlit.testing.v1 import AppTest

from tests.support import APP_MODEL

APP = "../../app.py"


def _app():
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["model_name"] = APP_MODEL           # a UI flow: the tiny model
    return at.run()


def test_an_old_link_opens_the_same_view_under_todays_keys():
    at = _app()
    at.query_params.update({"v": "1", "hs_method": "pca", "hs_seed": "7", "hide": "hs_layers"})
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception and not at.sidebar.warning
    assert at.radio(key="states_method").value == "pca" and at.number_input(key="states_seed").value == 7
    assert "hs_seed" not in at.query_params and at.query_params["states_seed"] in ("7", ["7"])
    assert at.session_state["_hide"] == ["states_layers"]
    walk = _app()
    walk.query_params.update({"v": "1", "wk_tokens": "12"})
    walk.switch_page("app_pages/4_Latent_walk.py").run()
    assert not walk.exception and walk.slider(key="walk_tokens").value == 12


def test_old_recipe_kinds_replay_as_todays():
    from latent.recipes import KINDS, OLD_KINDS, make_recipe

    assert set(OLD_KINDS.values()) <= set(KINDS) and not set(OLD_KINDS) & set(KINDS)
    r = make_recipe("token_map", {"prompts": ["a"], "layers": [0], "method": "pca", "dims": 2, "seed": 0})
    assert r["kind"] == "states_map"
    assert make_recipe("steer", {"prompts": ["a"], "figure": "meters"})["kind"] == "walk"
