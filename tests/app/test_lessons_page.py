"""AppTest: the Lessons page's handouts download (a file a class's other sessions cannot delete before the
browser fetches it), and the page and the class's own words in the lesson language."""
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

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
