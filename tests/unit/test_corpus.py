import json

import pytest

from latent.core import corpus
from latent.core.corpus import CorpusError, parse_upload, parse_user_text

EXPECTED_TURNS = {"000": 16, "001": 7, "002": 34, "003": 44, "004": 11}


def test_parser_reproduces_committed_assets():
    built = [d.to_dict() for d in corpus.build_corpus()]
    committed = json.loads(corpus.DIALOGUES_JSON.read_text(encoding="utf-8"))
    assert built == committed
    assert {d["id"]: len(d["turns"]) for d in committed} == EXPECTED_TURNS


def test_assets_match_shared_seeds_when_present():
    shared = corpus.ASSETS.parent.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("../shared/seeds not beside this checkout")
    for f in shared.glob("*.txt"):
        assert (corpus.SEEDS_DIR / f.name).read_bytes() == f.read_bytes()


def test_speakers_kinds_and_sections():
    ds = {d.id: d for d in corpus.load_corpus()}
    assert {t.speaker for t in ds["000"].turns} == {"Frank", "DeepSeek"}
    assert {t.speaker for t in ds["002"].turns} == {"Frank", "GPT"}
    assert ds["001"].kind == "thread" and ds["004"].kind == "insights"
    assert "suprjami" in {t.speaker for t in ds["001"].turns}
    assert ds["002"].turns[2].section.startswith("1. What We Mean")
    assert len({t.section for t in ds["003"].turns if t.section}) == 20
    # quoted lines are marked as quotes, not mixed into the commenter's own text
    terr = next(t for t in ds["001"].turns if t.speaker == "Terr_")
    assert len(terr.quotes) == 2 and "queen" in terr.quotes[1]
    assert not terr.text.startswith(">")
    # turns alternate in the Frank/GPT dialogues
    sp = [t.speaker for t in ds["002"].turns]
    assert all(a != b for a, b in zip(sp, sp[1:]))


def test_furniture_removed():
    text = json.dumps(corpus.load_corpus()[0].to_dict()) + corpus.DIALOGUES_JSON.read_text()
    for junk in ("Trinity Audio", "Leave a Reply", '"discuss"', '"order"', "(no title)", "We scan new podcasts"):
        assert junk not in text


def test_user_text_parses_and_keeps_html_as_text():
    d = parse_user_text("Ann: <script>alert(1)</script>\n\nBob: hi")
    assert [t.speaker for t in d.turns] == ["Ann", "Bob"]
    assert d.turns[0].text == "<script>alert(1)</script>"


@pytest.mark.parametrize("text,msg", [
    ("", "empty"), ("   \n\n", "empty"), ("Ann: hi\njust words", "Line 2 has no speaker"),
    ("Ann:", "no text"), ("A: " + "x" * 1_000_001, "limit"),
])
def test_user_text_errors(text, msg):
    with pytest.raises(CorpusError, match=msg):
        parse_user_text(text)


@pytest.mark.parametrize("data,name,msg", [
    (b"\x00\x01\x02binary", "x.txt", "binary"),
    (b"\xff\xfe\xfa bad", "x.txt", "UTF-8"),
    (b'{"turns": 3}', "x.json", "JSON must be"),
    (b'[{"speaker": 1, "text": "x"}]', "x.json", "Turn 0"),
    (b"{not json", "x.json", "not valid JSON"),
    (b"Ann: hi", "x.exe", "Unknown file type"),
])
def test_upload_errors(data, name, msg):
    with pytest.raises(CorpusError, match=msg):
        parse_upload(data, name)


def test_upload_json_ok():
    d = parse_upload(json.dumps({"title": "T", "turns": [{"speaker": "A", "text": "x"},
                                                          {"speaker": "B", "text": "y"}]}).encode(), "t.json")
    assert d.title == "T" and [t.text for t in d.turns] == ["x", "y"]
