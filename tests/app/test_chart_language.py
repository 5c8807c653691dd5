"""AppTest, on the tests' tiny random model: a lesson step in German or Spanish draws its charts' titles, panel
titles and legend in that language (the walk: with lang=de every chart stayed English); sense names stay."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.support import ROOT, open_page


def _charts(at) -> dict:
    """The page's charts by key: their title text and every legend entry."""
    out = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        out[c.proto.id.rsplit("-", 1)[-1]] = (spec["layout"]["title"]["text"], {t.get("name") for t in spec["data"]})
    return out


@pytest.mark.parametrize("lang,sep,smap,rel", [("de", "Trennen sich die Bedeutungen", "Bedeutungskarte in Schicht",
                                                "Verlässlichkeit in Schicht"),
                                               ("es", "¿Se separan los sentidos", "Mapa de sentidos en la capa",
                                                "Fiabilidad en la capa")])
def test_a_senses_lesson_step_in_german_or_spanish_shows_its_charts_in_that_language(lang, sep, smap, rel):
    at = open_page("app_pages/3_Senses.py", lesson="queen-hive", step="1", lang=lang)
    charts = _charts(at)
    title, names = charts["sn_sep"]                           # the chart the step is about
    assert sep in title and "separate?" not in title, title
    title, names = charts["sn_rel"]                           # the reliability chart
    assert rel in title and "Reliability" not in title, title
    title, names = charts["sn_map"]
    assert smap in title and "Sense map" not in title, title
    assert {"bee", "monarch"} <= names                        # the set's sense names are never translated
    english = _charts(open_page("app_pages/3_Senses.py", lesson="queen-hive", step="1"))
    assert "Do the senses of" in english["sn_sep"][0] and "Sense map" in english["sn_map"][0]


def test_homes_tour_map_follows_the_link_language():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)          # Home is the first page: the link's lang= from the start
    at.session_state["model_name"] = "tiny-llama"
    at.query_params.update({"v": "1", "lang": "de"})
    at.run()
    assert not at.exception, at.exception
    title, names = _charts(at)["home_map"]
    assert "Jeder Beitrag der fünf Ausgangstexte" in title and "Every turn" not in title, title
    assert "nächstes Paar aus zwei Texten" in names
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    notes = " ".join(a.get("text", "") for a in spec["layout"].get("annotations", []))
    assert "Anfang: „" in notes and "Start:" not in notes, notes
