"""AppTest: every page runs without exceptions and its widgets drive it.

The UI flows (widgets, errors, links, caps, handoffs, a class) run on the tests' tiny random Llama
(``tests.support.APP_MODEL``, chosen per session as a user picks a model: ``session_state["model_name"]``);
their layer numbers come from the loaded model. Only what is the real model's own stays on SmolLM2 (the
``at_real`` fixture): Home's model card and the sense the queen steps pull toward on the Senses page; the
other numbers the app teaches are checked in tests/real."""
import base64
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from latent.core.models import DEFAULT_LM
from tests.support import APP_MODEL

APP = "../../app.py"


def open_app(model: str = APP_MODEL, timeout: int = 240) -> AppTest:
    """A fresh app session on ``model`` (the tiny model unless a test needs the real one), run once on Home."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["model_name"] = model
    at.run()
    assert at.session_state["model_name"] == model, [e.value for e in at.error]   # it loaded (a failed load goes back to the default)
    return at


def n_layers(at) -> int:
    """The number of layers of the model this session loaded."""
    from app_pages.ui import models

    return models.lm_named(at.session_state["model_name"]).n_layers


def chart(at, i=0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def xs(trace) -> np.ndarray:
    x = trace["x"]
    if isinstance(x, dict):
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"])
    return np.asarray(x, dtype=float)


@pytest.fixture
def at():
    """A fresh app session per test on the tiny model, opened on Home (the models load once per process, so a
    new session costs one script run): no test depends on another's order or state."""
    return open_app()


@pytest.fixture
def at_real():
    """A fresh app session on the real default model (SmolLM2), for the checks of its own card."""
    return open_app(DEFAULT_LM)


def test_home_shows_model_card_and_links(at_real):
    """On the real model: its card's numbers (30 layers, 576 dims) are what Home shows of SmolLM2."""
    at = at_real
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Layers"] == "30" and metrics["Hidden size"] == "576"
    assert len(at.get("page_link")) >= 1
    home_map = chart(at)                       # the first screen teaches without a click: the annotated map
    assert len(home_map["layout"]["annotations"]) >= 4 and "PCA" in home_map["layout"]["xaxis"]["title"]["text"]
    assert any(c.value.startswith("A point is one turn") for c in at.caption)


def test_home_says_where_model_work_runs_and_why_an_unreachable_cluster_was_not_used(monkeypatch):
    from latent.serving import backends

    monkeypatch.setenv("LATENT_BACKEND", "ray://127.0.0.1:9")        # nothing listens there
    monkeypatch.setattr(backends, "_BACKEND", None)
    monkeypatch.setattr(backends, "_NOTE", None)
    at = open_app()
    assert not at.exception
    plain = [w.value.replace("\\", "") for w in at.warning]          # the page escapes markdown
    assert any("Cannot reach the Ray cluster at 127.0.0.1:9" in w and "in this process" in w for w in plain), plain
    assert "Model work runs in this process." in [c.value.replace("\\", "") for c in at.caption]
    monkeypatch.setattr(backends, "_BACKEND", None)                  # the next test reads its own setting
    monkeypatch.setattr(backends, "_NOTE", None)



def test_a_lesson_naming_a_page_that_does_not_exist_is_a_visible_note(monkeypatch, tmp_path):
    """The library does not know the app's pages; the app passes its titles when it reads lessons, so a lesson
    file naming another page is a note on every page (the sidebar) and on the Lessons page, not a crash."""
    import latent.lessons

    (tmp_path / "bad.json").write_text(json.dumps({"id": "bad", "title": "B", "steps": [{"page": "Nowhere", "text": "t"}]}))
    monkeypatch.setattr(latent.lessons, "lessons_dir", lambda: tmp_path)
    at = open_app()
    assert not at.exception
    note = "bad.json, step 1: unknown page 'Nowhere'. Must be one of: Home, Dialogues"
    assert any(note in e.value for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    at.switch_page("app_pages/6_Lessons.py").run()
    assert not at.exception
    assert any(note in e.value for e in at.main.error), [e.value for e in at.main.error]


def test_home_offers_both_embedded_models(at_real):
    """On the real model: the weights line is SmolLM2's card (a GGUF file; the tiny model has none)."""
    at = at_real
    assert at.radio(key="model_choice").options[:2] == ["SmolLM2-135M-Instruct", "gemma-3-270m"]
    assert any("Q4_1 GGUF dequantised to fp32" in t.value for t in at.text)


def test_home_unknown_model_message(at):
    at.radio(key="model_choice").set_value("another model…").run()
    at.text_input(key="model_input").input("no-such/model-abc").run()
    at.button(key="do_use_model").click().run()
    assert not at.exception
    assert any("Cannot load model 'no-such/model-abc'" in e.value for e in at.error)
    at.run()  # next run is back on the app's default model
    from app_pages.ui import models

    assert at.session_state["model_name"] == models.DEFAULT
    assert {m.label: m.value for m in at.metric}["Layers"] == str(n_layers(at))
    at.radio(key="model_choice").set_value("SmolLM2-135M-Instruct").run()


def test_dialogues_page_map_and_widgets(at):
    at.switch_page("app_pages/1_Dialogues.py").run()
    assert not at.exception
    fig = chart(at)
    n_points = sum(len(xs(t)) for t in fig["data"] if t.get("mode") == "markers")
    assert n_points == 112
    at.radio(key="map_method").set_value("pca").run()
    at.radio(key="map_color").set_value("dialogue").run()
    assert not at.exception
    names = {t["name"] for t in chart(at)["data"] if t.get("mode") == "markers"}
    assert len(names) == 5


def test_dialogues_lm_source(at):
    at.switch_page("app_pages/1_Dialogues.py").run()
    at.radio(key="map_method").set_value("pca").run()
    at.radio(key="map_source").set_value("lm").run()
    at.slider(key="map_layer").set_value(3).run()
    assert not at.exception
    assert "layer 3" in chart(at)["layout"]["title"]["text"]
    at.radio(key="map_source").set_value("encoder").run()


def test_long_text_inputs_are_capped_in_the_widget(at):
    """A 1 MB paste once froze the tab before the server's check ran: every text box now has max_chars."""
    from latent.core.corpus import MAX_USER_CHARS

    at.switch_page("app_pages/1_Dialogues.py").run()
    assert at.text_area(key="paste").max_chars == MAX_USER_CHARS
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert at.text_area(key="states_prompts").max_chars == 50_000
    at.switch_page("app_pages/4_Latent_walk.py").run()
    assert all(t.max_chars for t in at.text_input) and all(t.max_chars for t in at.text_area)


@pytest.mark.parametrize("text,expect", [
    ("", "empty"), ("no speaker on this line", "no speaker"),
])
def test_dialogues_bad_paste(at, text, expect):
    at.switch_page("app_pages/1_Dialogues.py").run()
    at.text_area(key="paste").input(text).run()
    at.button(key="do_add_dialogue").click().run()
    assert not at.exception
    assert any(expect in e.value for e in at.error)


def test_dialogues_paste_joins_map_and_stays_text(at):
    at.switch_page("app_pages/1_Dialogues.py").run()
    at.radio(key="map_method").set_value("pca").run()
    at.text_area(key="paste").input("Ann: <script>alert('x')</script> bees\nBob: honey and hives").run()
    at.button(key="do_add_dialogue").click().run()
    assert not at.exception and at.success
    fig = chart(at)
    turns = [t for t in fig["data"] if t.get("mode") == "markers" and t.get("hoverinfo") != "skip"]
    assert sum(len(xs(t)) for t in turns) == 114
    rings = [t for t in fig["data"] if t.get("name") == "added (placed, not fitted)"]
    assert len(rings) == 1 and len(xs(rings[0])) == 2       # the two added turns are ringed
    hover = " ".join(" ".join(t.get("text", [])) for t in fig["data"] if t.get("mode") == "markers")
    assert "<script>" not in hover and "&lt;script&gt;" in hover
    at.button(key="do_clear_dialogues").click().run()


def test_hidden_states_page(at):
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception
    before = chart(at, 0)
    # one layer control: the app's slider; the figure carries no second (plotly) slider or frames
    assert not before.get("frames") and not before["layout"].get("sliders")
    last = n_layers(at)
    middle = (last + 1) // 2                  # the slider opens in the middle of layers 0..last (15 of SmolLM2's 30)
    other = middle - 1
    assert before["layout"]["title"]["text"].endswith(f"layer {middle}")
    names = [t.get("name", "") for t in before["data"]]
    n_prompts = len([p for p in at.text_area(key="states_prompts").value.splitlines() if p.strip()])
    assert sum(bool(re.match(r"\d+: ", n)) for n in names) == n_prompts   # colour key: one entry per prompt
    at.select_slider(key="states_layer").set_value(other).run()
    assert not at.exception
    after = chart(at, 0)
    assert after["layout"]["title"]["text"].endswith(f"layer {other}")
    assert not np.array_equal(xs(before["data"][1]), xs(after["data"][1]))
    # ▶ play moves the same slider, one layer per rerun, to the last layer, then stops
    at.button(key="do_states_play").click().run()
    assert not at.exception
    assert at.select_slider(key="states_layer").value == last and at.session_state["states_playing"] is False
    assert chart(at, 0)["layout"]["title"]["text"].endswith(f"layer {last}")
    # the lens heatmap is the second chart; its note is on the page
    assert len(at.get("plotly_chart")) == 2
    assert any(f"last few of {last} layers" in i.value and "reads back the input token" in i.value for i in at.info)


def test_hidden_states_rings_massive_tokens_and_the_toggle_leaves_them_out(at_real):
    """SmolLM2's first word "Hello" is massive at layer 6 (docs/models.md): ringed, with a legend entry; the
    toggle takes it off the map. On the real model: which tokens are massive is SmolLM2's own fact."""
    at = at_real
    at.switch_page("app_pages/2_Hidden_states.py").run()
    at.selectbox(key="states_preset").set_value("(type your own)").run()
    at.text_area(key="states_prompts").input("Hello there, friend\nWater is wet").run()
    at.select_slider(key="states_layer").set_value(6).run()
    assert not at.exception
    ring = [t for t in chart(at, 0)["data"] if t.get("name", "").startswith("massive token")]
    assert len(ring) == 1 and ring[0]["showlegend"] and len(xs(ring[0])) == 2                # Hello, Water
    points = len(xs(chart(at, 0)["data"][1]))
    at.toggle(key="states_no_massive").set_value(True).run()
    assert not at.exception
    ring = [t for t in chart(at, 0)["data"] if t.get("name", "").startswith("massive token")]
    assert len(xs(ring[0])) == 0 and len(xs(chart(at, 0)["data"][1])) == points - 2
    assert any("left out now" in c.value for c in at.caption)


def test_hidden_states_custom_axis_and_presets(at):
    at.switch_page("app_pages/2_Hidden_states.py").run()
    at.selectbox(key="states_preset").set_value("GPS coordinates to a tree (Frank/DeepSeek)").run()
    assert "GPS" in at.text_area(key="states_prompts").value
    at.toggle(key="ax_on").set_value(True).run()
    assert not at.exception
    assert "monarch → bee" in chart(at, 0)["layout"]["xaxis"]["title"]["text"]
    at.text_input(key="ax_neg").input("bee").run()
    assert any("zero" in e.value for e in at.error)
    at.toggle(key="ax_on").set_value(False).run()


@pytest.mark.parametrize("prompts,layers,msg", [          # layers: n is the loaded model's last layer
    ("", "0-{n}", "No prompts"), ("\n".join(["p"] * 500), "0-{n}", "too many"),
    ("x" * 20_000, "0-{n}", "token limit"), ("ok", "0-{n_plus_10}", "out of range"),
])
def test_hidden_states_bad_input(at, prompts, layers, msg):
    at.switch_page("app_pages/2_Hidden_states.py").run()
    n = n_layers(at)
    at.selectbox(key="states_preset").set_value("(type your own)").run()
    at.text_area(key="states_prompts").input(prompts).run()
    at.text_input(key="states_layers").input(layers.format(n=n, n_plus_10=n + 10)).run()
    assert not at.exception
    assert any(msg in e.value for e in [*at.error, *at.warning])     # a bad layer list warns and draws every layer
    at.text_input(key="states_layers").input(f"0-{n}").run()


def test_senses_page(at):
    at.switch_page("app_pages/3_Senses.py").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 5   # separability, reliability, dose-response, heatmap, sense map
    senses = at.selectbox(key="sn_target").options      # the pull line names one sense's probability (which one
    assert any(f"P({s})" in i.value for i in at.info for s in senses)     # is the model's: SmolLM2's is below)
    assert any("shuffles" in i.value and "nested" in i.value for i in at.info)
    assert any("calibration error" in c.value for c in at.caption)
    names = {t["name"] for t in chart(at, 0)["data"]}
    assert any("shuffled senses" in n for n in names) and any("The weather" in n for n in names)
    dose = chart(at, 2)
    n_steps = len(dose["data"][0]["x"])
    at.text_input(key="sn_add_word").input("nectar").run()
    at.button(key="do_sn_add").click().run()
    assert not at.exception
    assert len(chart(at, 2)["data"][0]["x"]) == n_steps + 1
    # the word-order control was filled in at the end of the run: its table, and the pull's verdict
    assert any("share_mean" in df.value.columns for df in at.dataframe)
    assert not any("still computing" in i.value for i in at.info)
    at.button(key="do_sn_send").click().run()
    assert "walk_direction" in at.session_state and not at.exception
    # the handoff: the Latent walk opens on the Senses direction, with a prompt about the word
    sent = at.session_state["walk_direction"]
    at.switch_page("app_pages/4_Latent_walk.py").run()
    assert not at.exception
    assert at.radio(key="walk_source").value == "from the Senses page"
    assert at.text_area(key="walk_prompt_from the Senses page").value == "The queen"
    assert any(f"Sense direction {sent.label} at layer {sent.layer}" in c.value for c in at.caption)


def test_the_senses_page_reads_the_queen_steps_as_bee(at_real):
    """On the real model: the sense the queen steps pull toward, as a teacher reads it on the page, is bee
    (a random tiny model lands on any sense; the pull line's flow is checked on it above)."""
    at = at_real
    at.switch_page("app_pages/3_Senses.py").run()
    assert not at.exception
    assert any("P(bee)" in i.value for i in at.info)


def test_senses_other_word_and_readout(at):
    at.switch_page("app_pages/3_Senses.py").run()
    at.selectbox(key="sn_word").set_value("bank").run()
    at.radio(key="sn_readout").set_value("word").run()
    assert not at.exception and "bank" in chart(at, 0)["layout"]["title"]["text"]
    at.selectbox(key="sn_word").set_value("queen").run()
    at.radio(key="sn_readout").set_value("echo").run()


def test_senses_empty_context(at):
    at.switch_page("app_pages/3_Senses.py").run()
    key = "sn_steps_queen"
    at.text_area(key=key).input("   ").run()
    assert not at.exception and any("Empty context" in e.value for e in at.error)
    at.text_area(key=key).input("queen\nhoney queen").run()


def test_latent_walk_page(at):
    at.switch_page("app_pages/4_Latent_walk.py").run()
    assert not at.exception
    assert "from the Senses page" not in at.radio(key="walk_source").options   # a fresh session has no Senses direction
    at.radio(key="walk_source").set_value("preset").run()
    assert len(at.text_area(key="walk_prompt_preset").value.splitlines()) == 8      # the preset's 8 default prompts
    assert any("Layer" in c.value and ("hand-set" in c.value or "held-out" in c.value) for c in at.caption)
    at.text_area(key="walk_prompt_preset").input("I think that you\nMy neighbour is").run()
    at.text_input(key="walk_strengths_preset").input("-0.2,0,0.2").run()
    at.slider(key="walk_tokens").set_value(10).run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["strength"]) == [-0.2, 0.0, 0.2]
    assert table.loc[1, "kl"] == pytest.approx(0.0, abs=1e-6)
    assert list(table["n"]) == [2, 2, 2]                                  # 2 prompts × 1 seed
    assert {"random_mean", "difference", "difference_lo", "difference_null_lo", "effect_lo"} <= set(table.columns)
    assert list(table["n_random"]) == [8, 0, 8]                           # none at strength 0
    assert list(table["n_data"]) == [4, 0, 4]                             # the preset is built from texts: its data null
    assert any("Steerability" in i.value and "random directions" in i.value and "data-shaped null directions" in i.value
               for i in at.info)
    assert len(at.get("plotly_chart")) == 2


def test_latent_walk_a_bad_neutral_set_is_one_clear_error(at):
    at.switch_page("app_pages/4_Latent_walk.py").run()
    at.radio(key="walk_source").set_value("preset").run()
    at.text_area(key="walk_neutral").input("The bus leaves at ten.\nThe oven is hot.").run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and any("The neutral set has 2 different texts; give at least 8" in e.value for e in at.error)
    at.text_area(key="walk_neutral").input("").run()


def test_latent_walk_runs_the_default_spec_of_its_preset(at, monkeypatch):
    """With its widgets untouched the page runs SweepSpec.default: the spec the CLI, the steer recipe and
    the walking lesson run for the same preset (tests/unit/test_sweep_spec.py)."""
    from latent.core.errors import LatentError
    from latent.walk.spec import SweepSpec

    seen = []

    def run(self, lm, encoder, **kw):
        seen.append((self, lm))
        raise LatentError("recorded")               # the spec, not the sweep, is under test
    monkeypatch.setattr(SweepSpec, "run", run)
    at.switch_page("app_pages/4_Latent_walk.py").run()
    at.radio(key="walk_source").set_value("preset").run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and any("recorded" in e.value for e in at.error)
    (spec, lm), = seen
    assert spec == SweepSpec.default(lm, at.selectbox(key="walk_preset").value) and spec.n_random == 8


@pytest.mark.parametrize("strengths,msg", [(",".join(["0.1"] * 40), "too many"), ("a,b", "Cannot read strengths")])
def test_latent_walk_bad_strengths(at, strengths, msg):
    at.switch_page("app_pages/4_Latent_walk.py").run()
    at.radio(key="walk_source").set_value("preset").run()
    at.text_input(key="walk_strengths_preset").input(strengths).run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and any(msg in e.value for e in at.error)
    at.text_input(key="walk_strengths_preset").input("-0.2,0,0.2").run()


def test_latent_walk_identical_poles(at):
    at.switch_page("app_pages/4_Latent_walk.py").run()
    at.radio(key="walk_source").set_value("two sets of texts").run()
    at.text_area(key="walk_pos").input("same").run()
    at.text_area(key="walk_neg").input("same").run()
    assert not at.exception and any("zero" in e.value for e in at.error)
    at.radio(key="walk_source").set_value("preset").run()


def test_seed_claims_page(at):
    at.switch_page("app_pages/5_Seed_claims.py").run()
    assert not at.exception
    assert not any("provisional" in w.value for w in at.warning)
    at.multiselect(key="cl_reuse_lengths").set_value([16, 32]).run()
    at.number_input(key="cl_reuse_questions").set_value(1).run()
    at.button(key="do_cl_run_reuse").click().run()
    assert not at.exception and not at.error
    assert any("arithmetic (not a verdict)" in i.value and "float32, seed 0" in i.value for i in at.info)
    md = " ".join(m.value for m in at.markdown)
    assert "**Tested:**" in md and "**Not tested:**" in md and "95 % interval" in md
    at.text_input(key="cl_sparse-messages_ks").input("0,4").run()
    at.button(key="do_cl_run_sparse-messages").click().run()
    assert not at.exception and any("k must be between 1 and d" in e.value for e in at.error)
    at.button(key="do_cl_goto_reasoning").click().run()
    assert at.session_state["reader_choice"] == "001"


@pytest.fixture
def at_gemma(request):
    return open_app(request.param, timeout=300)


# the Gemma 3 family's code paths on its tiny config in CI; the real Gemma 3 270M in `make test-all`
@pytest.mark.parametrize("at_gemma", ["tiny-gemma3", pytest.param("gemma-3-270m", marks=[pytest.mark.full, pytest.mark.slow])],
                         indirect=True)
def test_every_page_runs_on_gemma(at_gemma):
    """Sliders, dimensions and defaults come from the loaded model (Gemma: 18 layers, 640 dims; its tiny
    config: 3 layers), never SmolLM2's 30/576."""
    from app_pages.ui import models

    at = at_gemma
    assert not at.exception
    n = models.lm_named(at.session_state["model_name"]).n_layers
    assert n != 30 and {m.label: m.value for m in at.metric}["Layers"] == str(n)
    at.switch_page("app_pages/1_Dialogues.py").run()
    at.radio(key="map_source").set_value("lm").run()
    assert not at.exception and at.slider(key="map_layer").max == n
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception
    assert at.text_input(key="states_layers").value == f"0-{n}"
    assert at.select_slider(key="states_layer").options[-1] == str(n)          # the layer slider runs to the model's last
    assert sum(len(xs(t)) for t in chart(at)["data"] if "x" in t) > 0      # and the map has points
    at.switch_page("app_pages/3_Senses.py").run()
    assert not at.exception and len(at.get("plotly_chart")) >= 3
    at.switch_page("app_pages/4_Latent_walk.py").run()
    assert not at.exception
    at.text_area(key="walk_prompt_preset").input("I think that you").run()    # one prompt: a quick sweep
    at.slider(key="walk_tokens").set_value(6).run()
    at.button(key="do_walk_run").click().run()
    assert not at.exception and not at.error
    assert any("strength-0 row reproduces" in c.value for c in at.caption)
    at.switch_page("app_pages/5_Seed_claims.py").run()
    assert not at.exception
    assert at.slider(key="cl_sparse-messages_layer").max == n
    assert at.slider(key="cl_sparse-messages_layer").value == round(0.4 * n)


def test_lessons_page_and_link_builder(at):
    at.switch_page("app_pages/6_Lessons.py").run()
    assert not at.exception
    assert len([b for b in at.button if b.key.startswith("do_lesson_start_")]) >= 4
    at.number_input(key="lb_step").set_value(2).run()
    at.multiselect(key="lb_hide").set_value(["do_sn_upload"]).run()
    students, projector = [c.value for c in at.code if "lesson=" in c.value][:2]
    assert "lesson=queen-hive" in projector and "step=2" in projector and "present=1" in projector
    assert "hide=do_sn_upload" in projector and "hide=do_sn_upload" in students and "present" not in students
    # the controls are listed by the labels on the page, not by their keys
    assert at.multiselect(key="lb_hide").format_func("do_sn_upload") == "…or load a senses JSON"


def test_starting_a_class_gives_a_code_and_two_links(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_DATA_DIR", str(tmp_path))
    at = open_app()
    at.switch_page("app_pages/6_Lessons.py").run()
    at.button(key="do_class_start_queen-hive").click().run()
    assert not at.exception
    links = [c.value for c in at.code if "class=" in c.value]
    projector, students = links[0], links[1]
    assert "teach=" in projector and "present=1" in projector and "teach=" not in students
    code = students.split("class=")[1][:6]
    from latent.lessons.classes import ClassDB

    info = ClassDB(tmp_path / "classes.sqlite3").get(code)
    assert info.lesson == "queen-hive" and f"teach={info.teacher}" in projector
    assert any("listens only on this computer" in w.value for w in at.warning)     # AppTest is not on the network


def test_lesson_language_from_the_link():
    at = open_app()
    at.query_params.update({"v": "1", "lesson": "conversation-path", "step": "2", "lang": "de"})
    at.switch_page("app_pages/1_Dialogues.py").run()
    assert not at.exception
    assert any("Lektion: Ein Gespräch ist ein Pfad" in m.value for m in at.markdown)
    radio = next(r for r in at.radio if r.key.startswith("lesson_guess_"))
    assert radio.options == ["ja", "nein", "lässt sich nicht sagen"]
    assert "de" in str(at.query_params.get("lang"))          # the language stays in the link


def test_links_carry_option_values_and_still_read_old_labels():
    at = open_app()
    layer = round(0.4 * n_layers(at)) + 1                # a layer the link sets: not the slider's default
    at.query_params.update({"v": "1", "map_source": "lm", "map_layer": str(layer)})
    at.switch_page("app_pages/1_Dialogues.py").run()
    assert not at.exception and at.radio(key="map_source").value == "lm" and at.slider(key="map_layer").value == layer
    assert not at.sidebar.warning                        # map_layer is a setting once the source is the LM
    old = open_app()
    old.query_params.update({"v": "1", "map_source": "language model", "map_method": "PCA"})
    old.switch_page("app_pages/1_Dialogues.py").run()
    assert old.radio(key="map_source").value == "lm" and old.radio(key="map_method").value == "pca"


def test_every_unusable_link_value_gets_a_note_and_the_page_still_renders():
    at = open_app()
    at.query_params.update({"v": "1", "states_seed": "-1", "states_layers": "zz", "model": "evil/model"})
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception
    note = " ".join(w.value for w in at.sidebar.warning)
    assert "states_seed='-1'" in note and "model='evil/model' is not an embedded model" in note
    assert any("Cannot read layers 'zz'" in w.value for w in at.warning)       # the page draws every layer instead
    assert at.get("plotly_chart") and any("Hidden_states" in c.value for c in at.sidebar.code)
    step = open_app()
    step.query_params.update({"v": "1", "lesson": "queen-hive", "step": "99"})
    step.switch_page("app_pages/6_Lessons.py").run()
    assert "step=99: this lesson has steps 1 to 4" in " ".join(w.value for w in step.sidebar.warning)


def test_link_notes_and_link_box_belong_to_their_own_session():
    """A session's note on unusable link settings, and its link box, never reach another session
    (they were once emitted inside a cached function, which Streamlit replays to later sessions)."""
    first = open_app()     # (st.navigation registers the pages on a run)
    first.query_params.update({"v": "1", "lesson": "nope", "zzz": "1"})
    first.switch_page("app_pages/6_Lessons.py").run()
    assert not first.exception
    note = " ".join(w.value for w in first.sidebar.warning)
    assert "lesson='nope' is not a lesson" in note and "'zzz' is not a setting" in note
    assert any("zzz=1" in c.value for c in first.sidebar.code)
    second = open_app()
    second.switch_page("app_pages/6_Lessons.py").run()
    assert not second.exception
    assert not second.sidebar.warning
    links = [c.value for c in second.sidebar.code]
    assert links and not any("zzz" in c for c in links)


def test_a_hide_parameter_never_reaches_the_html_it_writes():
    """The one ``unsafe_allow_html`` (presenter CSS and hidden controls) only ever gets keys that match
    KEY: a link that tries to inject markup gets a note and the markup is dropped."""
    at = open_app()
    at.query_params.update({"v": "1", "hide": "do_sn_upload,x</style><script>alert(1)</script>"})
    at.switch_page("app_pages/3_Senses.py").run()
    assert not at.exception
    note = " ".join(w.value for w in at.sidebar.warning)
    assert "is not a control key; ignored" in note and "alert(1)" in note
    html = [m.value for m in at.markdown if "<style>" in m.value]
    assert html and all("<script" not in h and "alert" not in h for h in html)
    assert any(".st-key-do_sn_upload" in h for h in html)


def test_starting_a_lesson_computes_its_answers_in_the_background(monkeypatch):
    """The queen lesson's first answer is kept on the model before anyone presses Reveal."""
    monkeypatch.setenv("LATENT_WARM", "on")
    import time

    from app_pages.ui import models

    at = open_app()
    at.button(key="do_home_lesson").click().run()
    assert not at.exception
    lm = models._lm_loader(at.session_state["model_name"]).result       # the session's model: one shared object
    t0 = time.time()
    while lm.peek(("lesson", "queen_sense", "queen")) is None and time.time() - t0 < 120:
        time.sleep(0.5)
    assert lm.peek(("lesson", "queen_sense", "queen")) is not None


def test_adding_a_context_word_scores_only_that_step_and_reuses_the_sets_fit(tiny_lm, monkeypatch):
    """The Senses page's data path (no page run): the per-set fit is computed once, each step once; the
    word-order control is computed on its own (the page draws it last)."""
    from latent.core.store import Memo
    from latent.senses import study
    from latent.senses.sets import get_builtin
    from latent.senses.study import QUEEN_STEPS, fit_senses, kept_orders, kept_report, score_steps

    fits, scored = [], []
    monkeypatch.setattr(study, "memo", Memo())               # this process's memo starts empty for this test
    monkeypatch.setattr(study, "fit_senses", lambda *a, **k: fits.append(1) or fit_senses(*a, **{**k, "n_perm": 20}))
    monkeypatch.setattr(study, "score_steps", lambda lm, f, cs, **k: scored.append(list(cs)) or score_steps(lm, f, cs, **k))
    sset = get_builtin("queen")
    first = kept_report(tiny_lm, sset, QUEEN_STEPS[:3], orders=False)
    more = kept_report(tiny_lm, sset, QUEEN_STEPS[:4], orders=False)
    assert fits == [1] and scored == [QUEEN_STEPS[:3], QUEEN_STEPS[3:4]]
    assert more.orders is None and [s.context for s in more.steps] == QUEEN_STEPS[:4]
    np.testing.assert_allclose(more.steps[2].probs, first.steps[2].probs)
    orders = kept_orders(tiny_lm, sset, QUEEN_STEPS[:4])
    assert orders is not None and sorted(orders.words) == ["hive", "honey", "worker"]
    assert fits == [1]


def test_a_lessons_queen_answer_reuses_the_senses_pages_fit(tiny_lm, monkeypatch):
    """The queen lesson's answer and the Senses page compute the queen set's fit once between them (a class
    on that step asks for both at once), and the answer equals one from a whole analysis computed afresh."""
    import dataclasses

    from latent.core.store import Memo
    from latent.lessons.facts import queen_sense
    from latent.senses import study
    from latent.senses.sets import get_builtin

    fits = []
    fit = study.fit_senses
    monkeypatch.setattr(study, "memo", Memo())
    monkeypatch.setattr(study, "fit_senses", lambda *a, **k: fits.append(1) or fit(*a, **{**k, "n_perm": 20}))
    study.kept_report(tiny_lm, get_builtin("queen"), ["queen", "honey queen"], orders=False)    # the Senses page's call
    context = "honey worker hive queen"
    fact = queen_sense(dataclasses.replace(tiny_lm, _derived={}, _key_locks={}), context)   # no answer kept yet
    assert fits == [1]                                                   # the page's fit, not a second one
    fresh = study.analyze(tiny_lm, get_builtin("queen"), [context], n_perm=20, orders=False)
    assert len(fits) == 2                                                # the control: analyze fits afresh
    li = fresh.layers.index(fresh.layer)
    assert fact["answer"] == fresh.steps[0].predicted_sense and fact["layer"] == fresh.layer
    np.testing.assert_allclose(fact["p"], fresh.steps[0].probs[li].max(), rtol=1e-6)


def test_the_hidden_states_pages_results_are_kept_and_equal_fresh_ones(tiny_lm, tmp_path, monkeypatch):
    """The Hidden states page's token map and logit lens come from the result store after their first
    computation (a new process reads them back): equal to computing afresh; another seed is computed."""
    import pandas as pd

    from latent.core.hidden import hidden_states
    from latent.core.lens import lens_table
    from latent.core.massive import massive_rule
    from latent.core.store import Memo, store
    from latent.states import lens as lens_mod
    from latent.states import map as map_mod
    from latent.states.lens import kept_lens
    from latent.states.map import kept_token_map, token_map

    monkeypatch.setenv("LATENT_STORE", "on")
    monkeypatch.setenv("LATENT_STORE_DIR", str(tmp_path / "store"))
    prompts, layers = ("the queen bee", "a hive of bees"), (0, 1, 2)
    massive_rule(tiny_lm)      # the map's massive-token rule reads the model's layer norms (stored too): read them first
    s = store()
    m0, h0 = s.misses, s.hits
    got = []
    for _ in range(2):                                   # two processes: each starts with an empty memo
        monkeypatch.setattr(map_mod, "memo", Memo())
        monkeypatch.setattr(lens_mod, "memo", Memo())
        got.append((kept_token_map(tiny_lm, prompts, layers, method="pca", dims=2, seed=0), kept_lens(tiny_lm, "the queen bee")))
    assert (s.misses - m0, s.hits - h0) == (2, 2)
    fresh_map = token_map(tiny_lm, list(prompts), list(layers), method="pca", dims=2, seed=0)
    fresh_lens = lens_table(tiny_lm, hidden_states(tiny_lm, ["the queen bee"])[0], k=3)
    for tm, lens in got:
        pd.testing.assert_frame_equal(tm.table, fresh_map.table)
        np.testing.assert_array_equal(tm.vectors, fresh_map.vectors)
        pd.testing.assert_frame_equal(lens, fresh_lens)
    kept_token_map(tiny_lm, prompts, layers, method="pca", dims=2, seed=1)   # another seed: not the stored map
    assert (s.misses - m0, s.hits - h0) == (3, 2)


def test_umaps_code_compiles_when_a_page_offers_umap_not_at_every_start(monkeypatch):
    """Home (and any page without UMAP) leaves UMAP's ~40 s compile alone; Dialogues starts it in the background
    (once per process), and its map says UMAP is still compiling and shows PCA meanwhile."""
    import threading

    from app_pages.ui import models
    from latent.core import project

    monkeypatch.setenv("LATENT_UMAP_WARM", "on")                          # as the app runs (off in tests)
    started = threading.Event()
    calls = []                                                            # each warm-up's `large`
    monkeypatch.setattr(project, "warm_up", lambda large=True: calls.append(large) or started.set() or 0.0)
    monkeypatch.setattr(project, "_warm", threading.Event())               # not warm in this test
    models.warm_umap.clear()                                              # this process's loader: started afresh
    at = open_app()
    at.switch_page("app_pages/6_Lessons.py").run()
    assert not at.exception and not started.wait(3)
    at.switch_page("app_pages/1_Dialogues.py").run()
    assert not at.exception and started.wait(30)
    assert any("UMAP is still compiling" in i.value for i in at.info)
    assert "PCA" in chart(at)["layout"]["title"]["text"]
    assert calls == [True]                                                # the large maps' path too
    # LATENT_UMAP_WARM=small (the browser tests' servers): only the small maps' path
    monkeypatch.setenv("LATENT_UMAP_WARM", "small")
    models.warm_umap.clear()
    started.clear()
    at.switch_page("app_pages/1_Dialogues.py").run()
    assert not at.exception and started.wait(30) and calls == [True, False]
    models.warm_umap.clear()                                              # later tests start their own


def _class(tmp_path, monkeypatch, alphabet=None):
    """A class on a fresh data directory (optionally its codes made from another alphabet)."""
    from latent.lessons import classes

    monkeypatch.setenv("LATENT_DATA_DIR", str(tmp_path))
    if alphabet:
        monkeypatch.setattr(classes, "CODE_ALPHABET", alphabet)
    return classes.class_db().create("queen-hive")


def _join(typed):
    at = open_app()
    at.switch_page("app_pages/7_Join.py").run()
    assert not at.exception
    at.text_input(key="jn_code").input(typed)
    at.button(key="do_join").click().run()
    assert not at.exception
    return at


def _code_spans_removed(md: str) -> str:
    return re.sub(r"(`+)(.+?)\1", "", md, flags=re.S)


def test_the_join_page_opens_the_class_by_its_code_in_any_case(tmp_path, monkeypatch):
    info = _class(tmp_path, monkeypatch)
    for typed in (info.code, info.code.lower(), f" {info.code[:3].lower()} {info.code[3:]} "):
        at = _join(typed)
        assert at.session_state["_class"] == info.code and at.session_state["_member"], typed
        assert str(at.query_params.get("class")) in (info.code, str([info.code])), at.query_params     # the code as made
        assert any("Lesson: The queen" in m.value for m in at.main.markdown), typed    # the lesson's panel, as a student
        assert "do_class_reset" not in [b.key for b in at.button]                    # a student's view, not the presenter's


def test_the_join_page_reads_o_for_0_and_i_for_1(tmp_path, monkeypatch):
    info = _class(tmp_path, monkeypatch, alphabet="0I")           # codes with the look-alikes in them
    typed = info.code.replace("0", "O").replace("I", "1").lower()
    at = _join(typed)
    assert at.session_state["_class"] == info.code


def test_a_wrong_join_code_says_so_in_the_main_area(tmp_path, monkeypatch):
    info = _class(tmp_path, monkeypatch)
    wrong = ("A" if info.code[0] != "A" else "B") + info.code[1:]
    at = _join(wrong.lower())
    errors = [e.value for e in at.main.error]
    assert any("No class was joined" in e and f"There is no class {wrong}" in e for e in errors), errors
    assert "_class" not in at.session_state
    crafted = _join("[x](http://evil)")
    errors = " ".join(e.value for e in crafted.main.error)
    assert "did not open one" in errors and "evil" not in _code_spans_removed(errors), errors


def test_a_lower_case_class_link_joins_and_a_wrong_one_says_so_in_the_main_area(tmp_path, monkeypatch):
    info = _class(tmp_path, monkeypatch)
    at = open_app()
    at.query_params.update({"v": "1", "lesson": "queen-hive", "class": info.code.lower()})
    at.switch_page("app_pages/3_Senses.py").run()
    assert not at.exception and at.session_state["_class"] == info.code
    assert not at.main.error
    bad = open_app()
    bad.query_params.update({"v": "1", "lesson": "queen-hive", "class": "ZZZZZ9"})
    bad.switch_page("app_pages/3_Senses.py").run()
    assert not bad.exception and "_class" not in bad.session_state
    errors = [e.value for e in bad.main.error]
    assert any("You are not in a class" in e and "ZZZZZ9" in e for e in errors), errors
    assert any("Lesson: The queen" in m.value for m in bad.main.markdown)          # the lesson runs on this device only


def test_present_1_without_the_class_key_is_a_students_view_and_notes_need_the_key(tmp_path, monkeypatch):
    info = _class(tmp_path, monkeypatch)

    def open_(**q):
        at = open_app()
        at.query_params.update({"v": "1", "lesson": "queen-hive", "class": info.code, **q})
        at.switch_page("app_pages/3_Senses.py").run()
        assert not at.exception
        return at

    def notes_shown(at):
        return any(e.label == "Teacher's notes" for e in at.expander)

    student = open_(present="1")
    assert not notes_shown(student) and student.session_state["_member"]
    assert "do_class_reset" not in [b.key for b in student.button]
    projector = open_(present="1", teach=info.teacher)
    assert not notes_shown(projector)                                   # the class reads the projector
    assert "do_class_reset" in [b.key for b in projector.button]        # ... which is the presenter's screen
    assert "teach" not in projector.query_params                        # the key left the address bar
    assert projector.session_state["_teach"] == info.teacher
    notes = open_(notes="1", teach=info.teacher)
    assert notes_shown(notes) and "teach" not in notes.query_params
    assert "do_class_reset" not in [b.key for b in notes.button]        # it follows the class, it does not move it
    fake = open_(notes="1", teach="not-the-key")
    assert not notes_shown(fake)


def test_a_crafted_link_value_renders_as_plain_text():
    at = open_app()
    at.query_params.update({"v": "1", "states_seed": "[x](http://evil)", "[y](http://evil2)": "1",
                            "lang": "<http://evil3>"})
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception
    note = " ".join(w.value for w in at.sidebar.warning)
    assert "[x](http://evil)" in note and "[y](http://evil2)" in note and "http://evil3" in note
    assert "evil" not in _code_spans_removed(note), note           # every link value sits in a code span


def test_start_a_class_is_one_click_from_home_with_the_code_links_and_projector_button(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_DATA_DIR", str(tmp_path))
    at = open_app()
    at.button(key="do_class_start_home").click().run()
    assert not at.exception
    code = at.session_state["_class"]
    assert any(f"Class {code}" in m.value for m in at.main.markdown) or any(code in h.value for h in at.subheader)
    links = [c.value for c in at.main.code if "class=" in c.value]
    assert "teach=" in links[0] and "present=1" in links[0] and "teach=" not in links[1] and f"class={code}" in links[1]
    buttons = {b.key: b for b in at.get("link_button")}
    assert buttons["do_open_projector"].proto.url == links[0]
    assert "notes=1" in buttons["do_open_notes"].proto.url
