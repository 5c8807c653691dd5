"""AppTest: the Lessons page's handouts download (a file a class's other sessions cannot delete before the
browser fetches it), and the page and the class's own words in the lesson language."""
import re

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from latent.lessons.words import WORDS

APP = "../../app.py"


class _KeptManager(MediaFileManager):
    """The media file manager of an AppTest run, kept for the test to read (AppTest drops it after each run)."""
    made: list = []

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        _KeptManager.made.append(self)


def test_the_handout_pdf_downloads_and_outlives_other_sessions_runs(monkeypatch):
    """The walk's 404: the handout was made on the click, a file no session references, which the next two script
    runs of any session (a class's pages redraw every 2 s) deleted before the browser's GET. Now the page hands the
    button its bytes: the file is this session's and stays while its button is shown."""
    from streamlit.testing.v1 import app_test

    monkeypatch.setattr(app_test, "MediaFileManager", _KeptManager)
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.switch_page("app_pages/6_Lessons.py").run()
    assert not at.exception
    mgr = _KeptManager.made[-1]
    for kind, magic in (("pdf", b"%PDF"), ("html", b"<!doctype html>")):
        button = at.download_button(key=f"do_handout_{kind}_queen-hive")
        assert button.proto.url and not button.proto.deferred_file_id, button.proto
        file_id = button.proto.url.rsplit("/", 1)[1].split(".")[0]
        for _ in range(3):                          # other sessions' script runs end: their clean-ups run
            mgr.remove_orphaned_files()
        content = mgr._storage.get_file(button.proto.url.rsplit("/", 1)[1]).content
        assert content.startswith(magic), content[:20]
        assert any(file_id in refs.values() for refs in mgr._files_by_session_and_coord.values())
    assert at.download_button(key="do_handout_pdf_queen-hive").proto.url.endswith(".pdf")


# The class's and the Lessons page's own words that were English only (the walk: with lang=de the page stayed English)
PAGE_KEYS = [k for k in WORDS["en"] if k.startswith(("lp_", "cb_"))] + ["start_help", "local_only"]
JOIN_KEYS = ["jn_intro", "jn_code", "jn_join"]


def _texts(at) -> list[str]:
    """Every text the page shows: bodies, labels, help texts, placeholders (of every element, known to AppTest or not)."""
    out = []

    def walk(node):
        for name in ("value", "label", "body", "help", "placeholder"):
            v = getattr(node, name, None)
            if isinstance(v, str):
                out.append(v)
        proto = getattr(node, "proto", None)
        for name in ("label", "body", "help", "placeholder"):
            v = getattr(proto, name, None) if proto is not None and hasattr(type(proto), "DESCRIPTOR") and \
                name in type(proto).DESCRIPTOR.fields_by_name else None
            if isinstance(v, str):
                out.append(v)
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    return [x.replace("\\", "") for x in out if x]


def _fixed_part(text: str) -> str:
    """The longest piece of a word's text that no value fills in."""
    return max(re.split(r"\{[^}]*\}", text), key=len).strip()


@pytest.mark.parametrize("lang", ["de", "es"])
def test_the_lessons_page_and_the_class_box_speak_the_lesson_language(lang, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=240).run()
    at.query_params["lang"] = lang
    at.switch_page("app_pages/6_Lessons.py").run()
    at.button(key="do_class_start_queen-hive").click().run()          # the class box: code, links, notes
    assert not at.exception
    shown = "\n".join(_texts(at))
    for key in PAGE_KEYS:
        english, own = _fixed_part(WORDS["en"][key]), _fixed_part(WORDS[lang][key])
        assert english not in shown, (key, english)
        assert own in shown, (key, own)
    assert at.download_button(key="do_handout_pdf_queen-hive").label == WORDS[lang]["lp_pdf"]
    join = AppTest.from_file(APP, default_timeout=240).run()         # a student's tab, not in a class
    join.query_params["lang"] = lang
    join.switch_page("app_pages/7_Join.py").run()
    assert not join.exception
    shown = "\n".join(_texts(join))
    for key in JOIN_KEYS:
        assert _fixed_part(WORDS["en"][key]) not in shown and _fixed_part(WORDS[lang][key]) in shown, key
