"""The embedded models' safetensors cache: built once when several processes start at once."""
import json
import threading
import time

import pytest

from latent.core import models


def test_two_loaders_at_once_build_the_cache_once(tmp_path, monkeypatch):
    """Two loaders racing on an empty cache (two test workers, two app servers on a fresh machine): the lock
    makes the second wait for the first's build and read the finished cache, never a half-replaced one."""
    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))
    builds, reads = [], []

    def slow_build(gguf, target):
        builds.append(threading.current_thread().name)
        time.sleep(0.5)                     # long enough for the other loader to arrive mid-build
        target.mkdir(parents=True)
        (target / "latent-complete.json").write_text(json.dumps({"from": str(gguf)}))

    def read(path, dtype):
        assert (tmp_path / path / "latent-complete.json").is_file()   # never an unfinished folder
        reads.append(path)
        return "model", "tokenizer"

    emb = models.Embedded("fake", "json", "fake.gguf", "w", "l")   # "json": any importable package
    monkeypatch.setattr(models.Embedded, "gguf_path", lambda self: tmp_path / "fake.gguf")
    monkeypatch.setattr(models, "_build_cache", slow_build)
    monkeypatch.setattr(models, "_from_pretrained", read)
    out = []
    threads = [threading.Thread(target=lambda: out.append(models._load_embedded(emb)), name=f"t{i}")
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(builds) == 1 and len(reads) == 2 and len(out) == 2
    assert out[0][2] == out[1][2] == tmp_path / "fake-v{}".format(models._CACHE_FORMAT)


def test_without_the_lock_both_loaders_would_build(tmp_path, monkeypatch):
    """The control: with the lock replaced by a no-op, the same race builds twice (so the test above can fail)."""
    import contextlib

    monkeypatch.setenv("LATENT_CACHE_DIR", str(tmp_path))
    builds = []

    def slow_build(gguf, target):
        builds.append(1)
        time.sleep(0.5)
        target.mkdir(parents=True, exist_ok=True)
        (target / "latent-complete.json").write_text("{}")

    emb = models.Embedded("fake", "json", "fake.gguf", "w", "l")
    monkeypatch.setattr(models.Embedded, "gguf_path", lambda self: tmp_path / "fake.gguf")
    monkeypatch.setattr(models, "_build_cache", slow_build)
    monkeypatch.setattr(models, "_from_pretrained", lambda path, dtype: ("m", "t"))
    monkeypatch.setattr(models, "_build_lock", lambda target: contextlib.nullcontext())
    threads = [threading.Thread(target=models._load_embedded, args=(emb,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(builds) == 2


def test_a_cache_build_parses_each_gguf_once_and_puts_the_reader_back(tmp_path, monkeypatch):
    """transformers asks ``gguf.GGUFReader`` for the same file three times during a build (tokenizer, config,
    weights); inside ``_one_gguf_parse`` the file is parsed once, another file gets its own reader, and the
    library's own class is back afterwards, also after an error. The control: outside it, every call parses."""
    import gguf

    parsed = []

    class Reader:
        def __init__(self, path, mode="r"):
            parsed.append(str(path))

    monkeypatch.setattr(gguf, "GGUFReader", Reader)
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    with models._one_gguf_parse():
        first = [gguf.GGUFReader(str(a)) for _ in range(3)]
        other = gguf.GGUFReader(str(b))
    assert parsed == [str(a), str(b)] and first[0] is first[1] is first[2] and other is not first[0]
    assert gguf.GGUFReader is Reader
    with pytest.raises(RuntimeError):
        with models._one_gguf_parse():
            raise RuntimeError("a failed build")
    assert gguf.GGUFReader is Reader
    parsed.clear()
    for _ in range(3):
        gguf.GGUFReader(str(a))
    assert parsed == [str(a)] * 3
