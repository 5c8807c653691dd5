"""AppTest, on the tests' tiny random model: a figure's export buttons hand the browser a file that a class's
other sessions cannot delete before it is fetched (the walk's 404), made once and given again on every rerun."""
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

APP = "../../app.py"
MODEL = "tiny-llama"


class _KeptManager(MediaFileManager):
    """The media file manager of an AppTest run, kept for the test to read (AppTest drops it after each run)."""
    made: list = []

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        _KeptManager.made.append(self)


def _file(button) -> tuple[str, bytes]:
    """The download button's file id and the bytes the browser gets for it after three other sessions' runs end
    (each run's end deletes files no session shows; a downloadable file goes at the second)."""
    assert button.proto.url and not button.proto.deferred_file_id, button.proto    # bytes, not a callable
    name = button.proto.url.rsplit("/", 1)[1]
    mgr = _KeptManager.made[-1]
    for _ in range(3):
        mgr.remove_orphaned_files()
    return name.split(".")[0], mgr._storage.get_file(name).content


def test_figure_exports_are_files_that_outlive_other_sessions_runs_and_reruns(monkeypatch):
    """Before: every export button was a callable run on the click, whose file belonged to no session: any two
    script runs of any session (a class redraws every 2 s) deleted it before the browser's GET, and a rerun
    dropped the callable the click named. Now the CSV and the recipe are bytes from the first draw; HTML (like
    PNG, SVG, PDF) is made by its button and then offered as bytes, the same file on every later run."""
    from streamlit.testing.v1 import app_test

    monkeypatch.setattr(app_test, "MediaFileManager", _KeptManager)
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["model_name"] = MODEL
    at.run()
    at.switch_page("app_pages/2_Hidden_states.py").run()
    assert not at.exception, at.exception
    for fmt, magic in (("csv", b"text_index,"), ("json", b"{")):
        _, content = _file(at.download_button(key=f"do_export_export-tm-{fmt}"))
        assert content.startswith(magic), content[:40]
    # HTML: not made while the page draws (seconds and ~5 MB each); its button makes it
    assert "do_export_export-tm-html" not in [b.key for b in at.get("download_button")]
    at.button(key="do_make_export-tm-html").click().run()
    assert not at.exception, at.exception
    file_id, content = _file(at.download_button(key="do_export_export-tm-html"))
    assert content.lower().startswith(b"<!doctype html>"), content[:40]
    assert at.download_button(key="do_export_export-tm-html").label == "⬇ HTML"
    at.run()                                            # a rerun (a class's redraw) hands the button the same file
    again, _ = _file(at.download_button(key="do_export_export-tm-html"))
    assert again == file_id
