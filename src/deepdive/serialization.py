"""Checkpoints: ``deepdive.save(obj, path)`` / ``deepdive.load(path)`` in the safetensors format.

Why safetensors and not pickle: loading a pickle runs code chosen by whoever
wrote the file. A safetensors file is an 8-byte header length, a JSON header
(name -> dtype, shape, byte offsets) and raw little-endian bytes, so loading
only ever parses JSON and copies numbers. The format is written here directly
(a few dozen lines; NumPy is the only dependency), and tests check that files
load in PyTorch through the ``safetensors`` package and the other way round.

    [u64 little-endian N][N bytes of JSON header][tensor bytes ...]

A flat ``{name: Tensor}`` state dict is stored under its own names, exactly as
``safetensors.torch.save_file`` would. Nested structure (an optimizer's state
dict: dicts with integer keys, lists, numbers, strings, None) is kept in the
header's ``__metadata__`` as JSON whose tensor leaves point at stored names.

Writes are atomic: a temporary file in the same folder is written, flushed and
fsync'ed, then renamed over the target, so a crash mid-save leaves the previous
checkpoint intact.
"""
import collections
import io
import json
import os
import struct
import tempfile

import numpy as np

from .tensor import Tensor, _wrap

__all__ = ["save", "load"]

_STRUCTURE_KEY = "deepdive.structure"
_TO_CODE = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
            np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
            np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}
_FROM_CODE = {code: dtype for dtype, code in _TO_CODE.items()}


# ------------------------------------------------------------------ encoding
def _encode(obj, tensors, path):
    """Structure as JSON-able data; tensors are moved into ``tensors`` under a dotted path name."""
    if isinstance(obj, Tensor):
        name = path or "tensor"
        while name in tensors:
            name += "_"
        tensors[name] = obj
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return _encode(_wrap(obj), tensors, path)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise TypeError(f"deepdive.save: dict keys must be str/int/float/bool, got {type(key).__name__}")
            kind = type(key).__name__ if key is not None else "NoneType"
            items.append([str(key), kind, _encode(value, tensors, f"{path}.{key}" if path else str(key))])
        return {"__dict__": items, "__ordered__": isinstance(obj, collections.OrderedDict)}
    if isinstance(obj, (list, tuple)):
        values = [_encode(v, tensors, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
        return {"__tuple__": values} if isinstance(obj, tuple) else values
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"deepdive.save: cannot store an object of type {type(obj).__name__} (checkpoints hold nested "
                    "dicts/lists/tuples of tensors, numbers, strings and None; no pickled objects)")


_KEY_TYPES = {"str": str, "int": int, "float": float, "bool": lambda s: s == "True", "NoneType": lambda s: None}


def _decode(data, tensors):
    if isinstance(data, dict):
        if "__tensor__" in data:
            return tensors[data["__tensor__"]]
        if "__tuple__" in data:
            return tuple(_decode(v, tensors) for v in data["__tuple__"])
        if "__dict__" in data:
            cls = collections.OrderedDict if data.get("__ordered__") else dict
            return cls((_KEY_TYPES[kind](key), _decode(value, tensors)) for key, kind, value in data["__dict__"])
        raise ValueError("unknown structure entry")
    if isinstance(data, list):
        return [_decode(v, tensors) for v in data]
    return data


def _serialize(obj):
    tensors = {}
    if isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        for k, v in obj.items():         # a flat state dict keeps its own names (readable by PyTorch as is)
            tensors[k] = v
        structure = {"__dict__": [[k, "str", {"__tensor__": k}] for k in obj],
                     "__ordered__": isinstance(obj, collections.OrderedDict)}
    else:
        structure = _encode(obj, tensors, "")
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        array = np.asarray(t._data, order="C")     # (ascontiguousarray would turn 0-d into 1-d)
        if array.dtype not in _TO_CODE:
            raise TypeError(f"deepdive.save: tensor {name!r} has unsupported dtype {array.dtype}")
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _TO_CODE[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {_STRUCTURE_KEY: json.dumps(structure), "format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)          # align the data section to 8 bytes, as safetensors does
    return struct.pack("<Q", len(head)) + head, chunks


def save(obj, f, **kwargs):
    """Save nested dicts/lists of tensors, numbers and strings to ``f`` (a path or a binary file object).

    Writing to a path is atomic (temporary file, fsync, rename).
    """
    head, chunks = _serialize(obj)
    if hasattr(f, "write"):
        f.write(head)
        for c in chunks:
            f.write(c)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; a checkpoint gets the usual file mode
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            for c in chunks:
                out.write(c)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:                                    # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``save`` wrote (or any safetensors file, e.g. from ``safetensors.torch.save_file``).

    Only JSON is parsed and numbers copied: no code from the file ever runs.
    ``map_location`` and ``weights_only`` are accepted for PyTorch compatibility.
    """
    if hasattr(f, "read"):
        blob, name = f.read(), getattr(f, "name", "<file object>")
    else:
        name = os.fspath(f)
        if not os.path.exists(name):
            raise FileNotFoundError(f"deepdive.load: no such file: {name!r}")
        with open(name, "rb") as fh:
            blob = fh.read()
    return _parse(blob, name)


def _bad(name, why):
    return RuntimeError(f"deepdive.load: {name!r} is not a valid safetensors checkpoint ({why}); the file may be "
                        "truncated or corrupted, or not written by deepdive.save / safetensors")


def _parse(blob, name):
    if len(blob) < 8:
        raise _bad(name, f"only {len(blob)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise _bad(name, f"header says {n} bytes but the file has only {len(blob) - 8} after the length field")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(name, f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise _bad(name, "header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n:]
    tensors = collections.OrderedDict()
    entries = sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0] if isinstance(kv[1], dict) else 0)
    for key, info in entries:
        try:
            code, shape, (begin, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise _bad(name, f"entry {key!r} lacks dtype/shape/data_offsets") from None
        if not 0 <= begin <= end <= len(data):
            raise _bad(name, f"tensor {key!r} needs bytes {begin}..{end} but the data section has {len(data)}")
        raw = data[begin:end]
        if code == "BF16":                 # NumPy has no bfloat16: widen to float32 (exact)
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif code in _FROM_CODE:
            dtype = _FROM_CODE[code].newbyteorder("<")
            count = int(np.prod(shape)) if shape else 1
            if len(raw) != count * dtype.itemsize:
                raise _bad(name, f"tensor {key!r} of shape {shape} and dtype {code} needs {count * dtype.itemsize} "
                                 f"bytes, found {len(raw)}")
            array = np.frombuffer(raw, dtype=dtype).astype(_FROM_CODE[code], copy=True)
        else:
            raise _bad(name, f"tensor {key!r} has unsupported dtype {code!r}")
        tensors[key] = _wrap(array.reshape(shape))
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    try:
        return _decode(json.loads(structure), tensors)
    except (KeyError, ValueError, TypeError) as e:
        raise _bad(name, f"structure metadata is inconsistent: {e}") from None
