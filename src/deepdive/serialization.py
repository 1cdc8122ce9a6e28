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
checkpoint intact; the next save of that checkpoint removes the temporary file a
killed writer left behind.

Loading checks the file as strictly as the safetensors library does (exact byte
layout, types of every header field, no duplicate keys), recognises PyTorch's own
``.pt`` files and says how to convert them.
"""
import collections
import io
import json
import os
import socket
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
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"deepdive.save: cannot write {path!r}: the folder {os.path.dirname(path) or folder!r} "
                                "does not exist (create it first, e.g. os.makedirs(folder, exist_ok=True))")
    _remove_stale_temporaries(folder, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(os.path.basename(path)), suffix=".tmp", dir=folder)
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


# A temporary file is named <checkpoint>.<host>.<pid>.<random>.tmp, so that a later save can tell the
# leftovers of a writer that was killed mid-save (SIGKILL, power cut: no ``except`` ever ran) from the
# file of a writer that is still busy: on this host, a temporary whose process is gone is stale.
def _temporary_prefix(basename):
    return f"{basename}.{socket.gethostname()}.{os.getpid()}."


def _remove_stale_temporaries(folder, basename):
    prefix = f"{basename}.{socket.gethostname()}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for n in names:
        pid = n[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(folder, n))
            except OSError:
                pass


def _alive(pid):
    if pid == os.getpid():
        return True                     # another thread of ours may be saving it right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                     # e.g. PermissionError: the process exists under another user
        return True
    return True


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``save`` wrote (or any safetensors file, e.g. from ``safetensors.torch.save_file``).

    Only JSON is parsed and numbers copied: no code from the file ever runs. The file is checked as
    strictly as the safetensors library checks it (see ``_parse``); a PyTorch ``.pt`` file is recognised
    and the error says how to convert it. ``map_location`` and ``weights_only`` are accepted for PyTorch
    compatibility.
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


# The safetensors library's own limit on the JSON header, so a corrupt length cannot make us read gigabytes.
_MAX_HEADER_BYTES = 100_000_000
_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4, "F64": 8,
          "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
_TORCH_CONVERT = ("deepdive never unpickles (a pickle can run any code). Convert it once with PyTorch:\n"
                  "    import torch; from safetensors.torch import save_file\n"
                  "    state = torch.load({name!r}, weights_only=True)      # a state dict\n"
                  "    save_file({{k: v.contiguous() for k, v in state.items()}}, 'model.safetensors')\n"
                  "then deepdive.load('model.safetensors')")


def _foreign(blob, name):
    """A clear error for files that are not safetensors at all, or None if the file may be one."""
    if blob[8:9] == b"{":
        return None             # shaped like safetensors (whose length field may well begin b"\x80\x02")
    if blob[:4] == b"PK\x03\x04":
        return RuntimeError(f"deepdive.load: {name!r} is a PyTorch checkpoint (a zip archive of pickles written "
                            "by torch.save), not a safetensors file. " + _TORCH_CONVERT.format(name=name))
    if blob[:1] == b"\x80" and blob[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return RuntimeError(f"deepdive.load: {name!r} is a Python pickle (a legacy torch.save file or pickle.dump), "
                            "not a safetensors file. " + _TORCH_CONVERT.format(name=name))
    if len(blob) >= 9:
        text = _text_prefix(blob[:40])
        if text is not None:
            return RuntimeError(f"deepdive.load: {name!r} is not a safetensors file: it starts with text "
                                f"({text[:24]!r}), not with an 8-byte header length and a JSON header")
        return RuntimeError(f"deepdive.load: {name!r} is not a safetensors file: after the 8-byte header length "
                            "a JSON header starting with '{' must follow")
    return None


def _text_prefix(sample):
    """The sample as text if it reads as text (UTF-8, printable or whitespace), else None."""
    for cut in range(4):                    # the sample may end inside a multi-byte character
        try:
            text = sample[:len(sample) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return text if all(c.isprintable() or c in "\n\r\t" for c in text) else None
    return None


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"duplicate key {duplicated[0]!r} in the header")
    return dict(pairs)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_header(blob, name):
    """The header as a dict, with every field type-checked. Raises the clean error for anything else."""
    if len(blob) < 8:
        raise _bad(name, f"only {len(blob)} bytes, shorter than the 8-byte header length")
    foreign = _foreign(blob, name)
    if foreign is not None:
        raise foreign
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER_BYTES:
        raise _bad(name, f"header length field says {n} bytes, more than safetensors' limit of {_MAX_HEADER_BYTES}")
    if n > len(blob) - 8:
        raise _bad(name, f"header says {n} bytes but the file has only {len(blob) - 8} after the length field")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(name, f"header is not valid JSON: {e}") from None
    except ValueError as e:                       # duplicate keys
        raise _bad(name, str(e)) from None
    except RecursionError:
        raise _bad(name, "header nests too deeply") from None
    if not isinstance(header, dict):
        raise _bad(name, "header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad(name, "__metadata__ must map strings to strings")
    for key, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _bad(name, f"entry {key!r} must have exactly dtype, shape and data_offsets")
        if not isinstance(info["dtype"], str):
            raise _bad(name, f"entry {key!r} has a dtype that is not a string: {info['dtype']!r}")
        if not isinstance(info["shape"], list) or not all(_is_count(d) for d in info["shape"]):
            raise _bad(name, f"entry {key!r} has a shape that is not a list of non-negative integers: {info['shape']!r}")
        offsets = info["data_offsets"]
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
            raise _bad(name, f"entry {key!r} has data_offsets that are not two non-negative integers: {offsets!r}")
    return n, header, metadata


def _parse(blob, name):
    """Check the file as the safetensors library does, then copy the tensors out.

    As in safetensors: tensors sorted by offset must tile the data section exactly, with no hole, no
    overlap and nothing after the last one, and each must hold exactly prod(shape) * itemsize bytes.
    """
    n, header, metadata = _read_header(blob, name)
    data = memoryview(blob)[8 + n:]
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    expected_begin = 0
    for key, info in entries:
        begin, end = info["data_offsets"]
        if begin != expected_begin or end < begin:
            what = "overlaps the previous tensor" if begin < expected_begin else "leaves a hole before it"
            raise _bad(name, f"tensor {key!r} at bytes {begin}..{end} {what} (expected it to start at {expected_begin})")
        if info["dtype"] not in _SIZES:
            raise _bad(name, f"tensor {key!r} has unknown dtype {info['dtype']!r}")
        count = 1
        for d in info["shape"]:
            count *= d                            # Python ints: a huge shape cannot overflow silently
        if count * _SIZES[info["dtype"]] != end - begin:
            raise _bad(name, f"tensor {key!r} of shape {info['shape']} and dtype {info['dtype']} needs "
                             f"{count * _SIZES[info['dtype']]} bytes, its offsets give {end - begin}")
        expected_begin = end
    if expected_begin != len(data):
        raise _bad(name, f"the tensors cover {expected_begin} bytes but the data section has {len(data)}")
    tensors = collections.OrderedDict()
    for key, info in entries:
        code, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        raw = data[begin:end]
        if code == "BF16":                 # NumPy has no bfloat16: widen to float32 (exact)
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif code in _FROM_CODE:
            array = np.frombuffer(raw, dtype=_FROM_CODE[code].newbyteorder("<")).astype(_FROM_CODE[code], copy=True)
        else:
            raise _bad(name, f"tensor {key!r} has dtype {code!r}, which deepdive cannot hold")
        tensors[key] = _wrap(array.reshape(shape))
    structure = metadata.get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    try:
        return _decode(json.loads(structure), tensors)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, RecursionError) as e:
        raise _bad(name, f"structure metadata is inconsistent: {type(e).__name__}: {e}") from None
