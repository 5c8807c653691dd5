"""The layout rules, and the CLI on a local folder holding a GPT-2-family model."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, byte_tokenizer, tiny_config

FEATURES = {p.name for p in (ROOT / "latent").iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"core"}


def imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_core_imports_no_feature_and_no_streamlit():
    assert FEATURES >= {"dialogues", "states", "senses", "walk", "claims"}
    bad = []
    for f in (ROOT / "latent" / "core").glob("*.py"):
        for mod in imports_of(f):
            top = mod.split(".")
            if top[0] == "streamlit" or (top[0] == "latent" and len(top) > 1 and top[1] != "core"):
                bad.append(f"{f.name} imports {mod}")
    assert not bad, bad


def test_library_never_imports_streamlit():
    bad = [f"{f.relative_to(ROOT)}" for f in (ROOT / "latent").rglob("*.py")
           if any(m.split(".")[0] == "streamlit" for m in imports_of(f))]
    assert not bad, bad


def test_library_never_imports_the_app():
    """``latent/`` is the library; the app (``app.py``, ``app_pages/``: the page registry included) sits on it."""
    bad = [f"{f.relative_to(ROOT)} imports {m}" for f in (ROOT / "latent").rglob("*.py")
           for m in imports_of(f) if m.split(".")[0] in ("app_pages", "app")]
    assert not bad, bad


def load_lessons_calls_without_pages(source: str) -> list[int]:
    """Lines of ``load_lessons(...)`` calls that do not pass both ``pages=`` (the app's titles) and ``keys=``
    (its old-to-new widget key names)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)) == "load_lessons"
            and not {"pages", "keys"} <= {k.arg for k in node.keywords}]


def test_the_app_loads_lessons_with_its_page_titles():
    """The library does not know the app's pages, so every place the app reads lessons passes them: a lesson
    naming a page that does not exist is then a LessonError, which the app shows as a visible note."""
    files = [ROOT / "app.py", *(ROOT / "app_pages").rglob("*.py")]
    calls = sum(f.read_text().count("load_lessons(") for f in files)
    bad = {str(f.relative_to(ROOT)): lines for f in files if (lines := load_lessons_calls_without_pages(f.read_text()))}
    assert calls >= 3 and not bad, (calls, bad)
    assert load_lessons_calls_without_pages("load_lessons(lang=x)\nlessons.load_lessons(pages=T, keys=k)\nm.load_lessons()\n"
                                            "load_lessons(pages=T)") == [1, 3, 4]


def test_the_rule_checker_catches_a_violation(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("from latent.senses.sets import SenseSet\nimport streamlit as st\nfrom app_pages.site import page\n")
    assert {"latent.senses.sets", "streamlit", "app_pages.site"} <= imports_of(f)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    import torch
    from transformers import AutoModelForCausalLM

    d = tmp_path_factory.mktemp("tiny-gpt2")
    tok = byte_tokenizer()
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(tiny_config("gpt2", len(tok))).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def cli(*args):
    return subprocess.run([sys.executable, "-m", "latent", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})


def chart_calls_without_a_caption(source: str) -> list[int]:
    """Lines of ``chart(...)`` calls (app_pages.ui.export) with no caption (neither the second argument nor
    ``caption=``), or with an empty string for one, and of direct ``plotly_chart`` calls."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name == "plotly_chart":
            bad.append(node.lineno)
        elif name == "chart":
            cap = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "caption"), None)
            if cap is None or (isinstance(cap, ast.Constant) and not str(cap.value).strip()):
                bad.append(node.lineno)
    return bad


def test_every_chart_has_a_caption():
    """Every chart on every page goes through app_pages.ui.export.chart with a caption (what a point, an axis and
    a colour mean); every seed-claim experiment brings its chart's caption."""
    from latent.claims import registry

    bad = {f.name: lines for f in (ROOT / "app_pages").glob("*.py") if (lines := chart_calls_without_a_caption(f.read_text()))}
    assert not bad, bad
    assert all(len(e.caption) > 40 for e in registry().values()), [e.name for e in registry().values() if len(e.caption) <= 40]
    # the checker catches both faults
    assert chart_calls_without_a_caption("chart(fig, key='a')\nexport.chart(fig, caption='')\n"
                                         "st.plotly_chart(fig)\nchart(fig, 'ok')") == [1, 2, 3]
    assert sum(src.count("chart(") for src in (f.read_text() for f in (ROOT / "app_pages").glob("*.py"))) >= 10


ACTIONS = {"button", "download_button", "file_uploader", "data_editor"}


def action_keys_without_the_prefix(source: str) -> list[int]:
    """Lines of action widgets (buttons, downloads, uploads, editors) whose key does not start with
    ``do_`` (their state cannot be set, so the frame must be able to tell them from values)."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ACTIONS:
            key = next((k.value for k in node.keywords if k.arg == "key"), None)
            text = key.value if isinstance(key, ast.Constant) else (
                key.values[0].value if isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant) else "")
            if not str(text).startswith("do_"):
                bad.append(node.lineno)
    return bad


def test_every_action_widget_key_has_the_action_prefix():
    files = list((ROOT / "app_pages").glob("*.py")) + list((ROOT / "app_pages" / "ui").glob("*.py"))
    bad = {f.name: lines for f in files if (lines := action_keys_without_the_prefix(f.read_text()))}
    assert not bad, bad
    assert action_keys_without_the_prefix("st.button('x', key='run')\nst.button('y', key=f'do_{k}')\n"
                                          "c.file_uploader('z')") == [1, 3]



def test_cli_lens_on_a_local_gpt2_folder(gpt2_dir):
    r = cli("lens", "--model", str(gpt2_dir), "--text", "a bee", "--k", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tokens"] == ["a", " ", "b", "e", "e"]
    assert {e["layer"] for e in out["lens"]} == {0, 1, 2, 3}          # 3 blocks + embeddings
    assert all(len(e["top"]) == 2 and 0 <= e["top"][0]["prob"] <= 1 for e in out["lens"])


def test_cli_info_on_a_local_gpt2_folder(gpt2_dir):
    r = cli("info", "--model", str(gpt2_dir), "--json")
    assert r.returncode == 0, r.stderr
    card = json.loads(r.stdout)
    assert (card["family"], card["n_layers"], card["d_model"], card["dtype"]) == ("gpt2", 3, 32, "float32")


def test_cli_unsupported_family_is_one_line(tmp_path):
    import torch
    from transformers import BertConfig, BertLMHeadModel

    torch.manual_seed(0)
    BertLMHeadModel(BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                               intermediate_size=64, is_decoder=True)).save_pretrained(tmp_path)
    byte_tokenizer().save_pretrained(tmp_path)
    r = cli("info", "--model", str(tmp_path), "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Unknown model family 'bert'. Must be one of:" in r.stderr


def test_cli_commands_carry_their_feature_names_and_accept_the_old_ones():
    from latent.cli import build_parser

    p = build_parser()
    for new, old in (("claims", "experiment"), ("states", "project"), ("states", "tokens")):
        assert p.parse_args([new, "--list"] if new == "claims" else [new, "--text", "x", "--json"]).func is \
            p.parse_args([old, "--list"] if old == "experiment" else [old, "--text", "x", "--json"]).func
    assert p.parse_args(["walk", "--list-presets"]).func is p.parse_args(["steer", "--list-presets"]).func


def test_a_bug_in_a_command_prints_its_traceback_and_a_bad_input_one_line(monkeypatch, capsys):
    """A LatentError is the user's: one line, exit 2. Anything else is a bug: its traceback, exit 1."""
    import latent.cli as cli
    from latent.core.errors import LatentError

    def broken(args):
        raise KeyError("a bug")

    def refused(args):
        raise LatentError("Give a prompt.\nsecond line")
    for fn, rc, text in ((broken, 1, "Traceback"), (refused, 2, "error: Give a prompt.")):
        monkeypatch.setitem(cli.COMMANDS, "info", (fn, "x", lambda p: None, ()))
        assert cli.main(["info"]) == rc
        err = capsys.readouterr().err
        assert text in err and ("second line" not in err)


FIRST_MAP = """
import ast, json, sys
from pathlib import Path

heavy = ("torch", "transformers", "sentence_transformers", "umap")
for f in ("app.py", "app_pages/home.py"):       # the frame's and Home's own import statements, as written
    tree = ast.parse(Path(f).read_text())
    exec(compile(ast.Module([n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], []), f, "exec"))
fig = tour_figure(kept_first_screen(load_corpus(), encoder=models.encoder))   # what Home draws first
before = [m for m in heavy if m in sys.modules]
import latent.core.hidden                      # the control: model code does bring torch in
print(json.dumps({"traces": len(fig.data), "before": before, "after": [m for m in heavy if m in sys.modules]}))
"""


def test_home_draws_its_first_map_before_torch_is_imported():
    """App start to the first map: Home's and the frame's imports and the map itself need neither torch nor
    transformers (about 5 s to import on two cores): every page's script imports the frame first, so one
    top-level import of model code in it (or in what it imports) would hold the first screen back."""
    r = subprocess.run([sys.executable, "-c", FIRST_MAP], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["traces"] > 0
    assert out["before"] == [], f"imported before Home's map: {out['before']}"
    assert "torch" in out["after"]
