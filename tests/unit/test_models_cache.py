"""The embedded models' safetensors cache: built once when several processes start at once."""
import json
import threading
import time

import pytest

from latent.core import gguf_patch, models


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
    weights); inside ``one_gguf_parse`` the file is parsed once, another file gets its own reader, and the
    library's own class is back afterwards, also after an error. The control: outside it, every call parses."""
    import gguf

    parsed = []

    class Reader:
        def __init__(self, path, mode="r"):
            parsed.append(str(path))

    monkeypatch.setattr(gguf, "GGUFReader", Reader)
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    with gguf_patch.one_gguf_parse():
        first = [gguf.GGUFReader(str(a)) for _ in range(3)]
        other = gguf.GGUFReader(str(b))
    assert parsed == [str(a), str(b)] and first[0] is first[1] is first[2] and other is not first[0]
    assert gguf.GGUFReader is Reader
    with pytest.raises(RuntimeError):
        with gguf_patch.one_gguf_parse():
            raise RuntimeError("a failed build")
    assert gguf.GGUFReader is Reader
    parsed.clear()
    for _ in range(3):
        gguf.GGUFReader(str(a))
    assert parsed == [str(a)] * 3



def test_the_cache_build_reads_the_gguf_inside_the_fast_parse(tmp_path, monkeypatch):
    """models builds the cache inside gguf_patch.one_gguf_parse: while transformers reads the GGUF, the
    reader is the patched one; after the build (here stopped at its first read) the stock one is back."""
    import gguf
    import transformers

    stock, seen = gguf.GGUFReader, []

    class Stop(Exception):
        pass

    def from_pretrained(*args, **kwargs):
        seen.append(gguf.GGUFReader is not stock)
        raise Stop

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    with pytest.raises(Stop):
        models._build_cache(tmp_path / "x.gguf", tmp_path / "cache")
    assert seen == [True] and gguf.GGUFReader is stock


def _write_gguf(path):
    """A small GGUF with every kind of metadata value transformers reads: strings, arrays of strings,
    integers, floats and booleans, scalars and arrays, and one tensor."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_string("test.string", "héllo ▁wörld")
    w.add_array("test.strings", ["a", "", "▁bee", "<0x0A>", "日本"])
    w.add_uint32("test.uint32", 7)
    w.add_int32("test.int32", -3)
    w.add_uint64("test.uint64", 2**40)
    w.add_float32("test.float32", 0.25)
    w.add_bool("test.bool", True)
    w.add_array("test.ints", [1, -2, 3])
    w.add_array("test.floats", [0.5, -1.5])
    w.add_array("test.bools", [True, False])
    w.add_tensor("t", np.arange(4, dtype=np.float32).reshape(2, 2))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _parsed(reader, parse):
    return {k: [parse(f.parts[i], f.types) for i in f.data] for k, f in reader.fields.items()}


def test_the_fast_gguf_parse_reads_every_value_as_transformers_does(tmp_path):
    """Inside ``one_gguf_parse`` the reader maps the file as a plain array and transformers' value parser
    is a faster one: every field parses to the same value (and type) as with the library's own reader
    and parser, the tensor reads the same, and the library's functions are back afterwards. The control:
    the comparison sees a changed value."""
    import gguf
    import numpy as np
    import transformers.modeling_gguf_pytorch_utils as mgu

    path = tmp_path / "t.gguf"
    _write_gguf(path)
    stock_reader, stock_parse, stock_load = gguf.GGUFReader, mgu._gguf_parse_value, mgu.load_gguf_checkpoint
    stock_names = gguf.get_tensor_name_map
    want = _parsed(stock_reader(str(path)), stock_parse)
    with gguf_patch.one_gguf_parse():
        r = gguf.GGUFReader(str(path))
        got = _parsed(r, mgu._gguf_parse_value)
        assert mgu._gguf_parse_value is not stock_parse and type(r.data) is np.ndarray
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2) is gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)
    assert got == want and [type(v) for vs in got.values() for v in vs] == [type(v) for vs in want.values() for v in vs]
    stock = stock_reader(str(path))
    for k, f in stock.fields.items():       # the same fields: parts (bytes and dtype), data indices, types
        g = r.fields[k]
        assert (g.offset, g.name, g.data, g.types) == (f.offset, f.name, f.data, f.types), k
        assert [(p.tobytes(), p.dtype.str) for p in g.parts] == [(p.tobytes(), p.dtype.str) for p in f.parts], k
    assert got["test.strings"] == ["a", "", "▁bee", "<0x0A>", "日本"] and got["test.uint64"] == [2**40]
    assert np.array_equal(r.tensors[0].data, stock_reader(str(path)).tensors[0].data)
    assert (gguf.GGUFReader, mgu._gguf_parse_value, mgu.load_gguf_checkpoint, gguf.get_tensor_name_map) == \
        (stock_reader, stock_parse, stock_load, stock_names)
    got["test.int32"] = [3]
    assert got != want


def test_the_fast_gguf_parse_gives_transformers_the_same_metadata(tmp_path):
    """On SmolLM2's GGUF: transformers' metadata read (config and tokenizer) inside ``one_gguf_parse`` equals
    the stock read, and a second read inside it is a copy (a caller that changes it changes nothing else)."""
    import transformers.modeling_gguf_pytorch_utils as mgu

    path = str(models.embedded_gguf())
    want = mgu.load_gguf_checkpoint(path, return_tensors=False)
    with gguf_patch.one_gguf_parse():
        first = mgu.load_gguf_checkpoint(path, return_tensors=False)
        first["tokenizer"]["tokens"].append("changed")
        second = mgu.load_gguf_checkpoint(path, return_tensors=False)
    assert second == want and first != want
