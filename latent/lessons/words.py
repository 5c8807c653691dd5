"""The lesson panel's and the class's own words, per language (English is the fallback), and the
glossary file per language. Lesson texts are translated in ``assets/lessons/i18n/<lang>/``.

Example::

    >>> t("step_of", "de", i=2, n=4)
    'Schritt 2 von 4'
    >>> t("step_of", "xx", i=2, n=4)
    'step 2 of 4'
"""
from __future__ import annotations

from pathlib import Path

from latent.core.assets import asset
from latent.lessons import LANGUAGES, check_lang

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "lesson": "Lesson",
        "step_of": "step {i} of {n}",
        "predict": "Predict first: {ask}",
        "reveal": "Reveal the model's answer",
        "unlock": "Choose an answer to unlock the reveal.",
        "computing": "Computing the answer on the model…",
        "failed": "This step could not be computed",
        "answer": "Model's answer",
        "as_predicted": "as you predicted",
        "you_predicted": "you predicted {guess}",
        "details": "Details: the numbers behind it",
        "back": "← Back",
        "next": "Next →",
        "jump": "Jump to step",
        "end": "End lesson",
        "keys": "Space or → for the next step, ← to go back.",
        "teacher_says": "Teacher's notes",
        "class": "Class {code}",
        "tally": "The class's predictions",
        "joined": "{n} joined",
        "no_predictions": "No predictions yet.",
        "model_said": "The model said",
        "not_revealed": "not revealed yet",
        "follow": "Follow the teacher",
        "following": "Following the teacher's screen (step {i}).",
        "sent": "Your prediction is in.",
        "your_prediction": "Your prediction: {guess}",
        "join_name": "Your name (optional)",
        "class_gone": "This class is no longer on this server; the lesson goes on without it.",
        "reset": "Reset the class",
        "reset_done": "The class is empty again: ready for the next group.",
        "students_link": "Students' link",
        "projector_link": "Projector link",
        "scan": "Scan to join",
        "glossary": "Glossary: the words in plain English",
        "go_chart": "The chart for this step: {chart}",
    },
    "de": {
        "lesson": "Lektion",
        "step_of": "Schritt {i} von {n}",
        "predict": "Erst vorhersagen: {ask}",
        "reveal": "Antwort des Modells zeigen",
        "unlock": "Wähle eine Antwort, um die Auflösung freizuschalten.",
        "computing": "Das Modell berechnet die Antwort…",
        "failed": "Dieser Schritt konnte nicht berechnet werden",
        "answer": "Antwort des Modells",
        "as_predicted": "wie vorhergesagt",
        "you_predicted": "deine Vorhersage: {guess}",
        "details": "Details: die Zahlen dahinter",
        "back": "← Zurück",
        "next": "Weiter →",
        "jump": "Zu Schritt springen",
        "end": "Lektion beenden",
        "keys": "Leertaste oder → für den nächsten Schritt, ← zurück.",
        "teacher_says": "Notizen für die Lehrkraft",
        "class": "Klasse {code}",
        "tally": "Vorhersagen der Klasse",
        "joined": "{n} beigetreten",
        "no_predictions": "Noch keine Vorhersagen.",
        "model_said": "Das Modell sagte",
        "not_revealed": "noch nicht aufgelöst",
        "follow": "Der Lehrkraft folgen",
        "following": "Folgt dem Bildschirm der Lehrkraft (Schritt {i}).",
        "sent": "Deine Vorhersage ist angekommen.",
        "your_prediction": "Deine Vorhersage: {guess}",
        "join_name": "Dein Name (freiwillig)",
        "class_gone": "Diese Klasse gibt es auf diesem Server nicht mehr; die Lektion geht ohne sie weiter.",
        "reset": "Klasse zurücksetzen",
        "reset_done": "Die Klasse ist wieder leer: bereit für die nächste Gruppe.",
        "students_link": "Link für die Klasse",
        "projector_link": "Link für den Beamer",
        "scan": "Zum Beitreten scannen",
        "glossary": "Glossar: die Begriffe in einfachen Worten",
        "go_chart": "Das Diagramm zu diesem Schritt: {chart}",
    },
    "es": {
        "lesson": "Lección",
        "step_of": "paso {i} de {n}",
        "predict": "Primero, predice: {ask}",
        "reveal": "Revelar la respuesta del modelo",
        "unlock": "Elige una respuesta para poder revelar.",
        "computing": "El modelo está calculando la respuesta…",
        "failed": "No se pudo calcular este paso",
        "answer": "Respuesta del modelo",
        "as_predicted": "como predijiste",
        "you_predicted": "tu predicción: {guess}",
        "details": "Detalles: los números detrás",
        "back": "← Atrás",
        "next": "Siguiente →",
        "jump": "Ir al paso",
        "end": "Terminar la lección",
        "keys": "Espacio o → para el siguiente paso, ← para volver.",
        "teacher_says": "Notas para el docente",
        "class": "Clase {code}",
        "tally": "Las predicciones de la clase",
        "joined": "{n} conectados",
        "no_predictions": "Aún no hay predicciones.",
        "model_said": "El modelo dijo",
        "not_revealed": "aún sin revelar",
        "follow": "Seguir al docente",
        "following": "Siguiendo la pantalla del docente (paso {i}).",
        "sent": "Tu predicción ha llegado.",
        "your_prediction": "Tu predicción: {guess}",
        "join_name": "Tu nombre (opcional)",
        "class_gone": "Esta clase ya no está en este servidor; la lección sigue sin ella.",
        "reset": "Reiniciar la clase",
        "reset_done": "La clase está vacía otra vez: lista para el siguiente grupo.",
        "students_link": "Enlace para estudiantes",
        "projector_link": "Enlace para el proyector",
        "scan": "Escanea para unirte",
        "glossary": "Glosario: las palabras en lenguaje sencillo",
        "go_chart": "El gráfico de este paso: {chart}",
    },
}
assert set(WORDS) == set(LANGUAGES)


def t(key: str, lang: str = "en", **values) -> str:
    """The panel's word ``key`` in ``lang`` (English where missing), filled with ``values``."""
    text = WORDS.get(check_lang(lang), {}).get(key) or WORDS["en"][key]
    return text.format(**values) if values else text


def glossary_file(lang: str = "en") -> Path:
    """``assets/glossary.<lang>.md`` where it exists, else the English ``assets/glossary.md``."""
    lang = check_lang(lang)
    p = asset(f"glossary.{lang}.md") if lang != "en" else None
    return p if p is not None and p.exists() else asset("glossary.md")
