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
    with pytest.raises(RuntimeError, match="not a valid safetensors checkpoint"):
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
