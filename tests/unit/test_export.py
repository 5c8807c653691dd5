
import numpy as np
import pytest

from latent import export
from latent.recipes import RecipeError, replay


def test_hover_text_is_escaped():
    import pandas as pd

    from latent.dialogues.figures import dialogue_map_figure

    df = pd.DataFrame({"dialogue": ["u"], "title": ["<i>t</i>"], "turn": [0], "speaker": ["<b>x</b>"],
                       "text": ['<a href="http://evil">click</a><script>alert(1)</script>'],
                       "x": [0.0], "y": [0.0]})
    fig = dialogue_map_figure(df)
    text = fig.data[-1].text[0]
    assert "<script>" not in text and "<a href" not in text and "&lt;script&gt;" in text


@pytest.mark.parametrize("recipe,msg", [
    ({}, "must be a JSON object"), ({"kind": "nope", "params": {}}, "Unknown recipe kind 'nope'"),
    ({"kind": "dialogue_map", "params": {"bogus": 1}}, "Bad dialogue_map params"),
])
def test_bad_recipes(recipe, msg):
    with pytest.raises(RecipeError, match=msg):
        replay(recipe)


def test_unknown_format():
    with pytest.raises(export.ExportError, match="Unknown format"):
        export.export_bytes("gif", fig=None)


def test_vector_cache_round_trip(tmp_path, monkeypatch):
    from latent.dialogues.map import cached_vectors

    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))
    calls = []
    X = cached_vectors("test", ["a", "b"], lambda: calls.append(1) or np.eye(2, dtype=np.float32))
    Y = cached_vectors("test", ["a", "b"], lambda: calls.append(1) or np.zeros((2, 2)))
    np.testing.assert_array_equal(X, Y)
    assert calls == [1]  # computed once, then read from disk
    Z = cached_vectors("test", ["a", "c"], lambda: calls.append(1) or np.zeros((2, 2), np.float32))
    assert calls == [1, 1] and not Z.any()  # other texts, other file


def test_static_exports_drop_animation_controls_and_html_does_not_autoplay(monkeypatch):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), frames=[go.Frame(data=[go.Scatter(x=[1, 2], y=[1, 2])], name="1")])
    fig.update_layout(sliders=[dict(active=0, steps=[dict(label="1", method="animate", args=[["1"]])])],
                      updatemenus=[dict(type="buttons", buttons=[dict(label="▶", method="animate", args=[None])])])
    seen = {}
    monkeypatch.setattr(export, "_ensure_kaleido", lambda: None)
    monkeypatch.setattr(go.Figure, "to_image", lambda self, **kw: seen.setdefault("fig", self) and b"img")
    export.figure_bytes(fig, "png")
    assert not seen["fig"].layout.sliders and not seen["fig"].layout.updatemenus and not seen["fig"].frames
    assert fig.layout.sliders  # the on-screen figure is untouched
    html = export.figure_bytes(fig, "html").decode()
    assert "Plotly.animate(" not in html   # auto_play=True would call Plotly.animate( on load




def test_a_wrong_output_suffix_is_said_before_a_model_loads(monkeypatch, capsys):
    """The CLI checks --out's suffix first: a typo costs no model load (the loader here would fail the test)."""
    import latent.cli as cli
    from latent.export import output_format

    monkeypatch.setattr(cli, "_lm", lambda a: pytest.fail("a model was loaded"))
    monkeypatch.setattr(cli, "load_encoder", lambda *a, **k: pytest.fail("a model was loaded"))
    for argv in (["dialogues", "--out", "x.xyz"], ["dialogues", "--out", "x.txt", "--layer", "3"],
                 ["tokens", "--text", "a", "--out", "m.docx"], ["replay", "r.json", "--out", "x.gif"]):
        assert cli.main(argv) == 2                 # a bad input: one line, exit 2
        err = capsys.readouterr().err
        assert err.startswith("error: Unknown output type .") and "Must be one of" in err, err
    assert output_format("map.PNG") == "png" and output_format("t.csv") == "csv"   # the control: good names pass


def test_made_exports_are_kept_by_the_figures_content_and_the_oldest_go_first(monkeypatch):
    import plotly.graph_objects as go

    export._kept.clear()
    a, b = go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), go.Figure(go.Scatter(x=[1, 2], y=[3, 5]))
    ka, kb = (export.export_key(export.figure_digest(f), "html") for f in (a, b))
    assert ka != kb and ka == export.export_key(export.figure_digest(go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))), "html")
    assert export.made_export(ka) is None
    made = export.kept_export(ka, "html", fig=a)
    assert made.startswith(b"<html") or made.lower().startswith(b"<!doctype html>")
    assert export.made_export(ka) is made
    calls = []
    monkeypatch.setattr(export, "export_bytes", lambda *a, **kw: calls.append(1) or b"x")
    assert export.kept_export(ka, "html", fig=a) is made and not calls          # made once
    monkeypatch.setattr(export, "KEPT_BYTES", len(made))
    export.kept_export(kb, "html", fig=b)                                        # over the cap: the oldest goes
    assert export.made_export(ka) is None and export.made_export(kb) == b"x"
    with pytest.raises(export.ExportError, match="Unknown format"):
        export.export_key("d", "gif")
    export._kept.clear()
