"""Reading a GGUF once and fast while transformers builds a model from it: the one place that patches
``gguf``'s and ``transformers``' internals, for the length of a ``with`` block and under a lock, putting
the originals back after (also after an error). :mod:`latent.core.models` builds the embedded models'
safetensors cache inside :func:`one_gguf_parse`; nothing else changes these libraries.

The parse gives the same values, field for field, as the libraries' own (``tests/unit/test_models_cache.py``
compares every field, the tensors and transformers' metadata read). If a new ``gguf`` or ``transformers``
renames what is patched here (``gguf.GGUFReader._get_field_parts``, ``gguf.gguf_reader.np``,
``transformers.modeling_gguf_pytorch_utils.load_gguf_checkpoint`` / ``_gguf_parse_value``,
``gguf.get_tensor_name_map``), those tests fail here first.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

_GGUF_LOCK = threading.Lock()


@contextmanager
def one_gguf_parse():
    """Within this block a GGUF's metadata is read once and fast. transformers reads it afresh for the
    tokenizer, for the config and for the weights: three parses of Gemma 3's 262k-token vocabulary, each
    field a numpy view (``bench/bench_model_start.py``: its first start 54 → 33 s with one reader per
    file). Here, one build at a time:

    - ``gguf.GGUFReader`` gives one reader per file (read-only, a memory map), which reads arrays of
      strings and numbers in one pass (:func:`_fast_reader`) over a plain array (:class:`_PlainNumpy`);
    - transformers' metadata read without weights runs once per file (the tokenizer and the config both
      ask), each caller getting its own copy;
    - its value parser is :func:`_parse_value` (the same values), and ``gguf.get_tensor_name_map`` is
      asked once per architecture and depth instead of once per module.

    The cache built is byte for byte the one the library's own path builds (both embedded models, every
    file compared by hand; the tests compare every field and the metadata). The originals are put back after, also after an error."""
    import copy  # noqa: PLC0415
    import functools  # noqa: PLC0415

    import gguf  # noqa: PLC0415 - only when a cache is built
    import numpy as np  # noqa: PLC0415
    import transformers.modeling_gguf_pytorch_utils as mgu  # noqa: PLC0415
    from gguf import gguf_reader  # noqa: PLC0415

    with _GGUF_LOCK:
        original, readers = gguf.GGUFReader, {}

        def reader(path, mode="r"):
            key = (os.path.realpath(path), mode)
            if key not in readers:
                gguf_reader.np = _PLAIN_NUMPY       # fields as plain arrays: numpy's memmap views cost 2x
                try:
                    readers[key] = _fast_reader(original)(path, mode)
                finally:
                    gguf_reader.np = np
            return readers[key]

        metadata = {}

        def load_checkpoint(path, return_tensors=False, **kw):
            if return_tensors or kw.get("model_to_load") is not None:
                return load(path, return_tensors=return_tensors, **kw)
            key = os.path.realpath(path)
            if key not in metadata:
                metadata[key] = load(path, return_tensors=False, **kw)
            return copy.deepcopy(metadata[key])

        load, parse, names = mgu.load_gguf_checkpoint, mgu._gguf_parse_value, gguf.get_tensor_name_map
        gguf.GGUFReader, mgu.load_gguf_checkpoint, mgu._gguf_parse_value = reader, load_checkpoint, _parse_value
        gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(names)   # asked once per module (313 in Gemma 3)
        try:
            yield
        finally:
            gguf.GGUFReader, mgu.load_gguf_checkpoint, mgu._gguf_parse_value = original, load, parse
            gguf.get_tensor_name_map = names


class _PlainNumpy:
    """``numpy`` as ``gguf.gguf_reader`` sees it while it parses: ``memmap`` gives a plain ndarray view of
    the mapped file (the map stays open as its base), so each of the vocabulary's half a million field
    slices is a cheap ndarray view instead of a memmap subclass view."""

    @staticmethod
    def memmap(*args, **kwargs):
        import numpy as np  # noqa: PLC0415

        return np.memmap(*args, **kwargs).view(np.ndarray)

    def __getattr__(self, name):
        import numpy as np  # noqa: PLC0415

        return getattr(np, name)


_PLAIN_NUMPY = _PlainNumpy()


def _fast_reader(base):
    """``base`` (``gguf.GGUFReader``) reading an array of strings or numbers (a vocabulary: Gemma 3's 262k
    tokens, their scores and types) in one pass over the bytes, into the same fields (parts, data indices
    and types) as its own reader, which recurses once per element and makes several numpy views each.
    Nested or empty arrays and big-endian files take the library's own path."""
    import sys  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from gguf import GGUFValueType  # noqa: PLC0415

    array, string = int(GGUFValueType.ARRAY), int(GGUFValueType.STRING)
    numbers = {int(k): np.dtype(v) for k, v in getattr(base, "gguf_scalar_to_np", {}).items()}

    class FastReader(base):
        def _get_field_parts(self, orig_offs, raw_type):
            if int(raw_type) != array or getattr(self, "byte_order", "I") != "I" or sys.byteorder != "little":
                return super()._get_field_parts(orig_offs, raw_type)
            data, offs = self.data, orig_offs + 12
            raw_itype, alen = data[orig_offs:orig_offs + 4].view(np.uint32), data[orig_offs + 4:offs].view(np.uint64)
            itype, n = int(raw_itype[0]), int(alen[0])
            if n == 0 or (itype != string and itype not in numbers):
                return super()._get_field_parts(orig_offs, raw_type)
            parts = [raw_itype, alen]
            if itype == string:
                raw, idxs = memoryview(data), []
                for _ in range(n):
                    size = int.from_bytes(raw[offs:offs + 8], "little")
                    parts += (data[offs:offs + 8].view(np.uint64), data[offs + 8:offs + 8 + size])
                    idxs.append(len(parts) - 1)
                    offs += 8 + size
            else:
                dt = numbers[itype]
                values = data[offs:offs + n * dt.itemsize].view(dt)
                parts += [values[i:i + 1] for i in range(n)]
                idxs = list(range(2, 2 + n))
                offs += n * dt.itemsize
            return offs - orig_offs, parts, idxs, [GGUFValueType.ARRAY, GGUFValueType(itype)]

    return FastReader


def _parse_value(value, data_type):
    """transformers' ``_gguf_parse_value``, the same values: a string's bytes decoded at once instead of
    through a list of numpy integers, scalars read directly."""
    types = data_type if isinstance(data_type, list) else [data_type]
    if len(types) == 2:
        if types[0] != 9:
            raise ValueError("Received multiple types, therefore expected the first type to indicate an array.")
        kind = types[1]
    elif len(types) == 1:
        kind = types[0]
    else:
        raise ValueError("Received multiple types, therefore expected the first type to indicate an array.")
    if kind in (0, 1, 2, 3, 4, 5, 10, 11):
        return int(value[0])
    if kind in (6, 12):
        return float(value[0])
    if kind == 7:
        return bool(value[0])
    if kind == 8:
        return value.tobytes().decode()
    return value
