"""The charts' own words in German and Spanish: every word in every language, and the figure builders of the
lesson steps' charts (Senses, Latent walk, Seed claims, Dialogues, Hidden states) speak ``lang``, while names
and model text stay as they are."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from latent.chart_words import CHART_LANGUAGES, CHART_WORDS, _fields, tr
from latent.lessons import LANGUAGES


def test_every_chart_word_has_german_and_spanish_with_the_same_fields():
    assert set(CHART_LANGUAGES) == set(LANGUAGES)
    for key, words in CHART_WORDS.items():
        for lang in ("de", "es"):
            assert words.get(lang, "").strip(), (key, lang)
            assert _fields(words[lang]) == _fields(key), (key, lang)
            assert words[lang] != key or key in ("tokens", "control: {name}"), (key, lang)   # the same word in Spanish


def test_english_and_unknown_words_and_languages_stay_english():
    assert tr("layer", "en") == tr("layer", "xx") == "layer"
    assert tr("a sense named by a user", "de") == "a sense named by a user"
    assert tr("{n} sense-free contexts", "es", n=8) == "8 contextos sin sentido"


def _texts(fig) -> dict:
    """Title, axis titles, annotations (panel titles) and legend entries of a figure."""
    lay = fig.layout
    axes = [lay[a].title.text for a in lay if a.startswith(("xaxis", "yaxis")) and lay[a].title.text]
    return {"title": lay.title.text or "", "axes": " | ".join(axes), "notes": " | ".join(a.text or "" for a in lay.annotations),
            "legend": " | ".join(t.name or "" for t in fig.data)}


def _sense_map(lang):
    from latent.recipes import sense_map_title
    from latent.senses.figures import sense_map_figure

    df = pd.DataFrame({"kind": ["sentence", "sentence", "step"], "sense": ["bee", "monarch", None], "x": [0.0, 1, 2],
                       "y": [0.0, 1, 2], "text": ["The bee hums.", "The queen rules.", "hive queen"], "step": [None, None, 0]})
    return sense_map_figure(df, ["bee", "monarch"], sense_map_title(SimpleNamespace(layer=3), lang), lang=lang)


def _meters(lang):
    from latent.walk.figures import meters_figure

    s = [-0.2, 0.0, 0.2]
    t = pd.DataFrame({"strength": s, "n": [4] * 3})
    for col, band in (("effect", "random"), ("distinct2", "distinct2_random"), ("typicality", "typicality_random"),
                      ("kl", "kl_random")):
        t[col], t[f"{col}_lo"], t[f"{col}_hi"] = 0.1, 0.0, 0.2
        t[f"{band}_lo"], t[f"{band}_hi"] = -0.1, 0.1
    sw = SimpleNamespace(summary=t, recipe={"n_random": 8}, cliff=None, layer=4, rows=pd.DataFrame({"prompt": ["a", "b"]}))
    return meters_figure(sw, lang=lang)


def _evidence(lang):
    from latent.claims.evidence import Evidence, paired_finding
    from latent.claims.figures import evidence_figure

    return evidence_figure(Evidence("t", "n", paired_finding("x", [0.2, 0.3, 0.25, 0.1])), lang=lang)


def _dialogue_map(lang):
    from latent.dialogues.figures import dialogue_map_figure
    from latent.dialogues.map import MapSpec
    from latent.recipes import map_title

    df = pd.DataFrame({"dialogue": ["u", "u"], "title": ["Tea", "Tea"], "turn": [0, 1], "speaker": ["Ann", "Bob"],
                       "text": ["Hello there.", "Hi."], "x": [0.0, 1.0], "y": [0.0, 1.0]})
    return dialogue_map_figure(df, title=map_title(MapSpec(), None, lang), method="pca", highlight=("u", 1), lang=lang)


def _token_map(lang):
    from latent.states.figures import token_map_figure

    t = pd.DataFrame({"text_index": [0, 0], "token_index": [0, 1], "token": ["The", " queen"], "layer": [2, 2],
                      "x": [0.0, 1.0], "y": [0.0, 1.0], "placed": [False, False], "massive": [True, False]})
    return token_map_figure(t, ["The queen"], layer=2, title=tr("Token map · {model} · {method}", lang, model="tiny",
                                                                method="PCA"), massive_multiple=100, lang=lang)


# per figure: the words each language must show, by part of the figure
EXPECT = {
    "sense map": (_sense_map, {"de": {"title": "Bedeutungskarte in Schicht 3", "legend": "Kontextschritte"},
                               "es": {"title": "Mapa de sentidos en la capa 3", "legend": "pasos de contexto"}}),
    "meters": (_meters, {"de": {"title": "Messwerte · Schicht 4", "axes": "Stärke", "notes": "Konzeptänderung",
                                "legend": "zufällige Richtungen"},
                         "es": {"title": "Medidores · capa 4", "axes": "intensidad", "notes": "cambio de concepto",
                                "legend": "direcciones aleatorias"}}),
    "evidence": (_evidence, {"de": {"title": "Befunde", "legend": "Nullverteilung"},
                             "es": {"title": "Hallazgos", "legend": "distribución nula"}}),
    "dialogue map": (_dialogue_map, {"de": {"title": "Dialogkarte", "legend": "gewählter Beitrag"},
                                     "es": {"title": "Mapa de diálogos", "legend": "turno elegido"}}),
    "token map": (_token_map, {"de": {"title": "Token-Karte · tiny · PCA · Schicht 2", "legend": "massives Token"},
                               "es": {"title": "Mapa de tokens · tiny · PCA · capa 2", "legend": "token masivo"}}),
}


@pytest.mark.parametrize("name", list(EXPECT))
@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_lesson_steps_chart_speaks_the_lesson_language(name, lang):
    build, expect = EXPECT[name]
    english, own = _texts(build("en")), _texts(build(lang))
    for part, words in expect[lang].items():
        assert words in own[part], (part, own[part])
        assert own[part] != english[part] and words not in english[part], (part, english[part])


def test_names_and_model_text_are_never_translated():
    fig = _sense_map("de")
    assert {"bee", "monarch"} <= {t.name for t in fig.data}              # the set's sense names
    assert "The bee hums." in " ".join(np.asarray(fig.data[0].text, dtype=str).tolist() + list(fig.data[1].text))
    dm = _dialogue_map("es")
    assert {"Ann", "Bob"} <= {t.name for t in dm.data}                    # speakers
