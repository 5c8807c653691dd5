"""The charts' own words in German and Spanish: every word in every language, and every figure builder (Senses,
Latent walk, Seed claims and each claim's chart, Dialogues and Home's tour map, Hidden states and the logit lens,
Concepts: a feature's density and the features beside the other views)
speaks ``lang`` in its title, axes, notes, legend and hover text, while names and model text stay as they are."""
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
    """Title, axis titles (colour bars' too), annotations (panel titles, notes), legend entries and hover text of a
    figure."""
    lay = fig.layout
    axes = [lay[a].title.text for a in lay if a.startswith(("xaxis", "yaxis")) and lay[a].title.text]
    axes += [t.marker.colorbar.title.text or "" for t in fig.data if getattr(t, "marker", None) is not None
             and getattr(t.marker, "colorbar", None) is not None and t.marker.colorbar.title.text]
    axes += [t.colorbar.title.text for t in fig.data if getattr(t, "colorbar", None) is not None and t.colorbar.title.text]
    hover = [str(t.hovertemplate or "") for t in fig.data]
    for t in fig.data:
        for part in ("hovertext", "text"):
            value = getattr(t, part, None)
            if value is not None:
                hover += [str(v) for v in np.atleast_1d(np.asarray(value, dtype=object)).ravel()]
    return {"title": lay.title.text or "", "axes": " | ".join(axes), "notes": " | ".join(a.text or "" for a in lay.annotations),
            "legend": " | ".join(t.name or "" for t in fig.data), "hover": " | ".join(hover)}


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


def _reliability(lang):
    from latent.senses.figures import reliability_figure

    cal = SimpleNamespace(table=[{"n": 4, "confidence": 0.5, "accuracy": 0.75}, {"n": 0}], layer=3, ece=0.05, n=48,
                          ece_null_p95=0.117)
    return reliability_figure(SimpleNamespace(calibration=cal), lang=lang)


def _probs(lang):
    from latent.senses.figures import probs_heatmap

    steps = [SimpleNamespace(context="hive queen", probs=np.array([[0.2, 0.8], [0.4, 0.6]]))]
    return probs_heatmap(SimpleNamespace(senses=["monarch", "bee"], steps=steps, layers=[0, 1]), "bee", lang=lang)


def _steered_map(lang):
    from latent.walk.figures import steered_map_figure

    df = pd.DataFrame({"kind": ["positive pole", "negative pole", "baseline", "generation"], "x": [0.0, 1, 2, 3],
                       "y": [0.0, 1, 2, 3], "text": ["I love it.", "I hate it.", "It is.", "Lovely!"],
                       "strength": [0.0, 0, 0, 0.2]})
    return steered_map_figure(df, "Love − Hate", lang=lang)


def _interpolation(lang):
    from latent.walk.figures import interpolation_figure

    path = pd.DataFrame({"kind": ["A", "B", "mix"], "x": [0.0, 1, 2], "y": [0.0, 1, 2], "label": ["cat", "dog", "0.5"]})
    return interpolation_figure(path, 4, lang=lang)


def _tour(lang):
    from latent.dialogues.figures import tour_figure
    from latent.dialogues.tour import Note

    df = pd.DataFrame({"dialogue": ["u", "u", "v"], "title": ["Tea", "Tea", "Bees"], "turn": [0, 1, 0],
                       "speaker": ["Ann", "Bob", "Cy"], "text": ["Hello there.", "Hi.", "The queen."],
                       "x": [0.0, 1.0, 0.5], "y": [0.0, 1.0, -0.5]})
    notes = [Note("u", 0, "Start: “Tea”", "Start: “{title}”", "Tea"), Note("u", 1, "End: “Tea”", "End: “{title}”", "Tea"),
             Note("v", 0, "The first turn that says “queen”", "The first turn that says “queen”")]
    return tour_figure(SimpleNamespace(table=df, notes=notes, pair=(("u", 1), ("v", 0)), nearest_cos=0.61), lang=lang)


def _lens(lang):
    from latent.states.figures import lens_heatmap

    t = pd.DataFrame({"rank": [0, 0], "layer": [0, 1], "position": [0, 0], "prob": [0.3, 0.9], "final_rank": [4, 0],
                      "prediction": [" the", " queen"], "token": ["The", "The"]})
    return lens_heatmap(t, title=tr("Logit lens · {model}", lang, model="tiny"), value="final_rank", lang=lang)


def _claim(name):
    """A claim's own chart from a result shaped as its experiment writes it (table and numbers, no model)."""
    import importlib

    return importlib.import_module(f"latent.claims.experiments.{name}").figure


def _cousins(lang):
    t = pd.DataFrame({"cousin": ["fp32 copy", "int8", "other model"], "first_word_agreement": [1.0, 0.9, 0.2]})
    by = {c: {"continuation_differs": k, "differs_ci": [max(k - 0.1, 0), k + 0.1]} for c, k in (("fp32 copy", 0.0), ("int8", 0.3))}
    return _claim("cousins")(SimpleNamespace(table=t, numbers={"by_cousin": by, "prompts": 50}), lang=lang)


def _economy(lang):
    t = pd.DataFrame({"layer": [0, 1], "active_fraction": [0.4, 0.3]})
    r_by_tau = [{"tau": tau, "null_lo": -0.2, "null_hi": 0.2, "r": 0.5, "ci_lo": 0.4, "ci_hi": 0.6} for tau in (0.5, 1.0)]
    survival = [{"kept": kept, "k": k, "share": 0.5, "ci": [0.4, 0.6]} for kept in ("largest |a|", "random") for k in (8, 32)]
    numbers = {"r_by_tau": r_by_tau, "survival": survival, "tau": 1.0, "gaussian_active_fraction": 0.32, "prompts": 20,
               "probes": 8}
    return _claim("economy")(SimpleNamespace(table=t, numbers=numbers), lang=lang)


def _reasoning(lang):
    t = pd.DataFrame({"condition": ["no reasoning", "own reasoning"], "answer_logprob": [-3.0, -1.0], "logprob_lo": [-3.5, -1.5],
                      "logprob_hi": [-2.5, -0.5], "wrong_logprob": [-4.0, -4.2], "wrong_lo": [-4.5, -4.7], "wrong_hi": [-3.5, -3.7],
                      "accuracy": [0.2, 0.6], "acc_lo": [0.1, 0.4], "acc_hi": [0.4, 0.8]})
    return _claim("reasoning")(SimpleNamespace(table=t, numbers={"questions": 30, "reasonings_containing_the_answer": 12}),
                               lang=lang)


def _reuse(lang):
    from latent.claims.experiments.reuse import MODES

    t = pd.DataFrame([{"mode": m, "history_tokens": h, "gmacs": 1.0 + h, "seconds_median": 0.1 * h} for m in MODES
                      for h in (64, 256)])
    return _claim("reuse")(SimpleNamespace(table=t, numbers={"questions": 4, "new_tokens": 8}), lang=lang)


def _sparse_messages(lang):
    from latent.claims.experiments.sparse_messages import BASES

    rows = [{"basis": b, "k": k, "bytes": 4.0 * k, "top1_agreement": 0.5, "kl": 0.2, "ci_lo": 0.4, "ci_hi": 0.6}
            for b in BASES for k in (4, 16)]
    rows += [{"basis": f, "k": 0, "bytes": 0.0, "top1_agreement": 0.1, "kl": 2.0, "ci_lo": 0.05, "ci_hi": 0.15}
             for f in ("mean state (floor)", "zero state (floor)")]
    numbers = {"mean_text_bytes": 40.0, "layer": 5, "prompts": 30}
    return _claim("sparse_messages")(SimpleNamespace(table=pd.DataFrame(rows), numbers=numbers), lang=lang)


def _density(lang):
    from latent.concepts.figures import density_figure

    page = SimpleNamespace(bins=[0.0, 1.0, 2.0], counts=[90, 6, 4], feature=7, fired=10, tokens=100, density=0.1)
    return density_figure(page, lang=lang)


def _token_features(lang):
    from latent.concepts.beside import TopFeatures
    from latent.concepts.figures import features_figure

    tf = TopFeatures("token", 12, 1, [(7, 3.5, 1), (2, 1.0, 1)], [" queen"])
    return features_figure(tf, tr("Top features of token {token} at layer {layer}", lang, token="' queen'", layer=12), lang=lang)


def _text_features(lang):
    from latent.concepts.beside import TopFeatures
    from latent.concepts.figures import features_figure

    tf = TopFeatures("text", 12, 40, [(7, 0.5, 9)])
    return features_figure(tf, tr("Most active features of this text at layer {layer} · n = {n} tokens", lang, layer=12, n=40),
                           lang=lang)


def _sense_features(lang):
    from latent.concepts.beside import TopFeatures
    from latent.concepts.figures import features_figure

    found = {"bee": TopFeatures("sense", 12, 3, [(7, 2.0, 3)]), "monarch": TopFeatures("sense", 12, 2, [(4, 1.0, 1)])}
    return features_figure(found, tr("Features on '{word}' per sense at layer {layer}", lang, word="queen", layer=12), lang=lang)


# per figure: the words each language must show, by part of the figure
EXPECT = {
    "sense map": (_sense_map, {"de": {"title": "Bedeutungskarte in Schicht 3", "legend": "Kontextschritte",
                                      "hover": "Schritt 0"},
                               "es": {"title": "Mapa de sentidos en la capa 3", "legend": "pasos de contexto",
                                      "hover": "paso 0"}}),
    "meters": (_meters, {"de": {"title": "Messwerte · Schicht 4", "axes": "Stärke", "notes": "Konzeptänderung",
                                "legend": "zufällige Richtungen"},
                         "es": {"title": "Medidores · capa 4", "axes": "intensidad", "notes": "cambio de concepto",
                                "legend": "direcciones aleatorias"}}),
    "evidence": (_evidence, {"de": {"title": "Befunde", "legend": "Nullverteilung", "hover": "Effekt"},
                             "es": {"title": "Hallazgos", "legend": "distribución nula", "hover": "efecto"}}),
    "dialogue map": (_dialogue_map, {"de": {"title": "Dialogkarte", "legend": "gewählter Beitrag", "hover": "Beitrag 1"},
                                     "es": {"title": "Mapa de diálogos", "legend": "turno elegido", "hover": "turno 1"}}),
    "token map": (_token_map, {"de": {"title": "Token-Karte · tiny · PCA · Schicht 2", "legend": "massives Token",
                                      "hover": "Position 1<br>Prompt 0: The queen"},
                               "es": {"title": "Mapa de tokens · tiny · PCA · capa 2", "legend": "token masivo",
                                      "hover": "posición 1<br>indicación 0: The queen"}}),
    "reliability": (_reliability, {"de": {"title": "Verlässlichkeit in Schicht 3: ECE 0.050", "axes": "Anteil richtig",
                                          "legend": "perfekte Kalibrierung"},
                                   "es": {"title": "Fiabilidad en la capa 3: ECE 0.050", "axes": "fracción correcta",
                                          "legend": "calibración perfecta"}}),
    "probabilities by layer": (_probs, {"de": {"title": "P(bee) in jeder Schicht", "axes": "Schicht", "hover": "Schicht %{x}"},
                                        "es": {"title": "P(bee) en cada capa", "axes": "capa", "hover": "capa %{x}"}}),
    "steered map": (_steered_map, {"de": {"title": "Wo die gesteuerten Texte landen · x = entlang Love − Hate",
                                          "axes": "erste Hauptkomponente", "legend": "positiver Pol"},
                                   "es": {"title": "Dónde caen los textos dirigidos", "axes": "primera componente principal",
                                          "legend": "polo positivo"}}),
    "interpolation": (_interpolation, {"de": {"title": "Interpolationspfad", "legend": "Tokens von A"},
                                       "es": {"title": "Trayectoria de interpolación", "legend": "tokens de A"}}),
    "tour map": (_tour, {"de": {"title": "Jeder Beitrag der fünf Ausgangstexte", "notes": "Anfang: „Tea“",
                                "legend": "nächstes Paar aus zwei Texten", "hover": "Beitrag 1"},
                         "es": {"title": "Cada turno de los cinco textos semilla", "notes": "Inicio: «Tea»",
                                "legend": "par más cercano de dos textos", "hover": "turno 1"}}),
    "logit lens": (_lens, {"de": {"title": "Logit-Linse · tiny", "axes": "des letzten Tokens", "hover": "Schicht %{y}"},
                           "es": {"title": "Lente de logits · tiny", "axes": "del token final", "hover": "capa %{y}"}}),
    "cousins claim": (_cousins, {"de": {"title": "Quantisierte Verwandte gegen fp32", "notes": "Fortsetzung weicht",
                                        "legend": "Übereinstimmung im ersten Wort"},
                                 "es": {"title": "Primos cuantizados frente a fp32", "notes": "la continuación difiere",
                                        "legend": "coincidencia de la primera palabra"}}),
    "economy claim": (_economy, {"de": {"title": "Sparsamkeit der MLP-Aktivierung", "axes": "behaltene Neuronen",
                                        "notes": "aktiver Anteil (τ = 1)", "legend": "k zufällige behalten"},
                                 "es": {"title": "Economía de activación MLP", "axes": "neuronas conservadas",
                                        "notes": "fracción activa (τ = 1)", "legend": "conservar k al azar"}}),
    "reasoning claim": (_reasoning, {"de": {"title": "Hebt das Antwortwort", "notes": "gierige Antwort richtig",
                                            "legend": "die richtige Antwort"},
                                     "es": {"title": "¿La palabra de la respuesta", "notes": "respuesta voraz correcta",
                                            "legend": "la respuesta correcta"}}),
    "reuse claim": (_reuse, {"de": {"title": "Caching: berechnete Kosten", "axes": "Gesprächsverlauf",
                                    "notes": "gemessene Laufzeit", "legend": "kein Cache · analytisch"},
                             "es": {"title": "Caché: coste calculado", "axes": "historial de la conversación",
                                    "notes": "tiempo real medido", "legend": "sin caché · analítico"}}),
    "sparse messages claim": (_sparse_messages, {"de": {"title": "Treue gegen Nachrichtengröße · Schicht 5",
                                                        "axes": "Nachrichtengröße in Bytes",
                                                        "legend": "mittlerer Zustand (Untergrenze): 95-%-Band",
                                                        "hover": "Übereinstimmung"},
                                                 "es": {"title": "Fidelidad frente al tamaño del mensaje · capa 5",
                                                        "axes": "tamaño del mensaje en bytes",
                                                        "legend": "estado medio (suelo): banda del 95 %",
                                                        "hover": "coincidencia"}}),
    "concept density": (_density, {"de": {"title": "Merkmal 7: aktiv auf 10 von 100 Sonden-Tokens", "axes": "Aktivierung"},
                                   "es": {"title": "Rasgo 7: se activa en 10 de 100 tokens de sondeo", "axes": "activación"}}),
    "token features": (_token_features, {"de": {"title": "Stärkste Merkmale des Tokens ' queen' in Schicht 12",
                                                "axes": "Aktivierung", "hover": "Aktivierung"},
                                         "es": {"title": "Rasgos principales del token ' queen' en la capa 12",
                                                "axes": "activación", "hover": "activación"}}),
    "text features": (_text_features, {"de": {"title": "Aktivste Merkmale dieses Texts in Schicht 12 · n = 40 Tokens",
                                              "axes": "mittlere Aktivierung"},
                                       "es": {"title": "Rasgos más activos de este texto en la capa 12 · n = 40 tokens",
                                              "axes": "activación media"}}),
    "sense features": (_sense_features, {"de": {"title": "Merkmale auf „queen“ je Bedeutung in Schicht 12",
                                                "legend": "Bedeutung bee · n = 3 Sätze", "hover": "mittlere Aktivierung"},
                                         "es": {"title": "Rasgos sobre «queen» por sentido en la capa 12",
                                                "legend": "sentido bee · n = 3 frases", "hover": "activación media"}}),
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
    tour = _texts(_tour("de"))
    assert "Tea" in tour["notes"] and "Hello there." in tour["hover"]    # a text's title, a turn's words
    lens = _lens("es")
    assert "queen" in _texts(lens)["hover"] and list(lens.data[0].x) == ["0:'The'"]     # the model's tokens
