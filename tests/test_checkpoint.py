"""deepdive.save / deepdive.load: safetensors on disk, interoperable with PyTorch, atomic, never pickle."""
import collections
import os
import pickle

import numpy as np
import pytest

import deepdive
from parity import require_torch


def _state():
    return collections.OrderedDict([("layer1.weight", deepdive.randn(20, 10)), ("layer1.bias", deepdive.zeros(20)),
                                    ("bn.num_batches_tracked", deepdive.tensor(3)),
                                    ("mask", deepdive.tensor([True, False])),
                                    ("h", deepdive.ones(2, 2, dtype=deepdive.float16)),
                                    ("d", deepdive.ones(3, dtype=deepdive.float64))])


def test_flat_state_dict_round_trip(tmp_path):
    sd = _state()
    deepdive.save(sd, tmp_path / "m.safetensors")
    loaded = deepdive.load(tmp_path / "m.safetensors")
    assert list(loaded) == list(sd)
    for k in sd:
        assert loaded[k].dtype == sd[k].dtype and loaded[k].shape == sd[k].shape
        np.testing.assert_array_equal(loaded[k].numpy(), sd[k].numpy())


def test_nested_optimizer_state_round_trip(tmp_path):
    state = {"state": {0: {"step": deepdive.tensor(3.0), "exp_avg": deepdive.ones(2, 3)}, 1: {}},
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False, "params": [0, 1],
                               "name": None, "foreach": None}],
             "epoch": 7, "note": "hello"}
    deepdive.save(state, tmp_path / "opt.safetensors")
    loaded = deepdive.load(tmp_path / "opt.safetensors")
    assert loaded["param_groups"] == state["param_groups"]
    assert loaded["epoch"] == 7 and loaded["note"] == "hello" and loaded["state"][1] == {}
    assert set(loaded["state"]) == {0, 1}                      # integer keys come back as integers
    assert loaded["state"][0]["step"].shape == () and loaded["state"][0]["exp_avg"].shape == (2, 3)


def test_saved_weights_load_in_pytorch_and_back(tmp_path):
    torch = require_torch()
    from safetensors.torch import load_file, save_file
    sd = _state()
    deepdive.save(sd, tmp_path / "dd.safetensors")
    theirs = load_file(str(tmp_path / "dd.safetensors"))
    for k in sd:
        np.testing.assert_array_equal(theirs[k].numpy(), sd[k].numpy())
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    save_file(model.state_dict(), str(tmp_path / "torch.safetensors"))
    ours = deepdive.load(tmp_path / "torch.safetensors")
    assert set(ours) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(ours[k].numpy(), v.numpy())
    bf = {"w": torch.randn(3, 2).to(torch.bfloat16)}
    save_file(bf, str(tmp_path / "bf16.safetensors"))
    np.testing.assert_array_equal(deepdive.load(tmp_path / "bf16.safetensors")["w"].numpy(), bf["w"].float().numpy())


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    deepdive.save({"w": deepdive.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        deepdive.save({"w": deepdive.zeros(3)}, path)
    monkeypatch.undo()
    assert deepdive.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]        # no temporary file left behind


@pytest.mark.parametrize("cut", [3, 20, -5])
def test_truncated_file_names_the_file(tmp_path, cut):
    path = tmp_path / "bad.safetensors"
    deepdive.save(_state(), path)
    blob = path.read_bytes()
    path.write_bytes(blob[:cut])
    with pytest.raises(RuntimeError, match="bad.safetensors.*not a valid safetensors checkpoint"):
        deepdive.load(path)


def test_pickle_is_never_executed(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(RuntimeError, match="is a Python pickle.*never unpickles"):
        deepdive.load(path)
    assert not (tmp_path / "pwned").exists()


def test_unsupported_objects_and_missing_file(tmp_path):
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        deepdive.save({"x": object()}, tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        deepdive.load(tmp_path / "nope.safetensors")


def test_file_objects(tmp_path):
    import io
    buf = io.BytesIO()
    deepdive.save({"w": deepdive.arange(4)}, buf)
    buf.seek(0)
    assert deepdive.load(buf)["w"].tolist() == [0, 1, 2, 3]


def test_model_state_dict_round_trips_between_deepdive_and_pytorch(tmp_path):
    """A torch model's weights, saved with safetensors, load into the deepdive twin (same outputs), and back."""
    torch = require_torch()
    from safetensors.torch import load_file, save_file
    import deepdive.nn as nn
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        theirs(torch.randn(8, 6))                     # give BatchNorm running statistics
    theirs.eval()
    ours = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)).eval()
    save_file(theirs.state_dict(), str(tmp_path / "from_torch.safetensors"))
    ours.load_state_dict(deepdive.load(tmp_path / "from_torch.safetensors"))
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(deepdive.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    for p in ours.parameters():
        with deepdive.no_grad():
            p.mul_(0.5)
    deepdive.save(ours.state_dict(), tmp_path / "from_deepdive.safetensors")
    theirs.load_state_dict(load_file(str(tmp_path / "from_deepdive.safetensors")))
    np.testing.assert_allclose(ours(deepdive.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ malformed files, foreign files, leftovers
import json
import signal
import struct
import subprocess
import sys
import time


def _blob(header, data=b"", pad=True):
    head = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(head)) + head + data


def _f32(n=2):
    return {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}


MALFORMED = {
    "float offsets": _blob({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, b"\0" * 8),
    "string offsets": _blob({"w": {"dtype": "F32", "shape": [2], "data_offsets": ["0", "8"]}}, b"\0" * 8),
    "null offsets": _blob({"w": {"dtype": "F32", "shape": [2], "data_offsets": None}}, b"\0" * 8),
    "negative shape": _blob({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "overflowing shape": _blob({"w": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62], "data_offsets": [0, 8]}}, b"\0" * 8),
    "float shape": _blob({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, b"\0" * 8),
    "string shape": _blob({"w": {"dtype": "F32", "shape": ["2"], "data_offsets": [0, 8]}}, b"\0" * 8),
    "non-dict metadata": _blob({"__metadata__": [1, 2], "w": _f32()}, b"\0" * 8),
    "non-string metadata value": _blob({"__metadata__": {"a": 1}, "w": _f32()}, b"\0" * 8),
    "deep JSON": _blob(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "overlapping offsets": _blob({"a": _f32(), "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
    "hole": _blob({"a": _f32(), "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}}, b"\0" * 20),
    "trailing bytes": _blob({"w": _f32()}, b"\0" * 12),
    "unknown dtype": _blob({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "tensor entry not an object": _blob({"w": [1, 2, 3]}),
    "header is a list": _blob(b"[1, 2]"),
    "huge header length": struct.pack("<Q", 2 ** 63) + b"{}",
}


# NOTE: the safetensors package keeps the last of duplicated names; deepdive refuses such a file, since
# which tensor was meant is ambiguous (stricter, deliberately).
DUPLICATE_KEYS = _blob(b'{"w":' + json.dumps(_f32()).encode() + b',"w":' + json.dumps(_f32()).encode() + b"}",
                       b"\0" * 8)


@pytest.mark.parametrize("case", sorted(MALFORMED) + ["duplicate keys"])
def test_malformed_files_give_the_clean_error(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(MALFORMED.get(case, DUPLICATE_KEYS))
    with pytest.raises(RuntimeError, match="not a valid safetensors checkpoint|not a safetensors file"):
        deepdive.load(path)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_we_reject_what_the_safetensors_library_rejects(case):
    require_torch()
    from safetensors.numpy import load as safetensors_load
    with pytest.raises(Exception):
        safetensors_load(MALFORMED[case])


def test_well_formed_files_load_as_in_the_safetensors_library(tmp_path):
    require_torch()
    from safetensors.numpy import load as safetensors_load
    blob = _blob({"b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}, "a": {"dtype": "F32", "shape": [2],
                                                                                      "data_offsets": [0, 8]},
                  "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [16, 16]}},
                 np.array([1.5, 2.5], np.float32).tobytes() + np.array([7], np.int64).tobytes())
    path = tmp_path / "ok.safetensors"
    path.write_bytes(blob)
    ours, theirs = deepdive.load(path), safetensors_load(blob)
    assert set(ours) == set(theirs)
    for k in theirs:
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k])


def test_a_pytorch_pt_file_says_what_it_is_and_how_to_convert(tmp_path):
    torch = require_torch()
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    with pytest.raises(RuntimeError, match=r"(?s)model\.pt' is a PyTorch checkpoint.*save_file") as error:
        deepdive.load(path)
    assert "never unpickles" in str(error.value)
    torch.save(torch.nn.Linear(2, 3).state_dict(), path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="is a Python pickle"):
        deepdive.load(path)


def test_a_text_file_is_not_read_as_a_huge_header(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello, these are my training notes\n")
    with pytest.raises(RuntimeError, match=r"is not a safetensors file: it starts with text \('hello, these") as error:
        deepdive.load(path)
    assert "bytes" not in str(error.value).split("(")[1][:30]


def test_saving_into_a_missing_folder_names_the_users_path(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "model.safetensors"
    with pytest.raises(FileNotFoundError, match=r"cannot write .*model\.safetensors.*does not exist") as error:
        deepdive.save({"w": deepdive.ones(2)}, target)
    assert ".tmp" not in str(error.value)


_SLOW_WRITER = """
import os, sys, time
sys.path.insert(0, {src!r})
import deepdive
real_fsync = os.fsync
def stall(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stall
deepdive.save({{"w": deepdive.zeros(1000, 1000)}}, {path!r})
"""


def test_a_killed_writers_temporary_file_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    deepdive.save({"w": deepdive.ones(3)}, path)
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    for _ in range(3):                                       # three writers, each SIGKILLed mid-save
        writer = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER.format(src=src, path=str(path))],
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "writing"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        writer.stdout.close()
    # each writer's save already removed the one before it left; the last leftover stays until a save
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".tmp")]) == 1
    assert deepdive.load(path)["w"].tolist() == [1.0, 1.0, 1.0]     # never corrupt
    deepdive.save({"w": deepdive.full((3,), 2.0)}, path)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert deepdive.load(path)["w"].tolist() == [2.0, 2.0, 2.0]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    writer = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER.format(src=src, path=str(path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        deepdive.save({"w": deepdive.ones(3)}, path)
        assert len([n for n in os.listdir(tmp_path) if n.endswith(".tmp")]) == 1   # still being written
    finally:
        writer.kill()
        writer.wait(timeout=10)
        writer.stdout.close()
