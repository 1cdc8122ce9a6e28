"""Issue 9: the module paths scripts import in their headers are real modules that behave as PyTorch's."""
import importlib

import numpy as np
import pytest

import deepdive
from parity import require_torch, check_parity, gradcheck, assert_close


@pytest.mark.parametrize("name", ["backends", "backends.cudnn", "backends.cuda", "backends.mps", "backends.mkldnn",
                                  "backends.openmp", "nn.parallel", "multiprocessing", "_utils", "accelerator", "hub",
                                  "version", "utils.checkpoint", "amp"])
def test_module_imports_as_a_real_module(name):
    module = importlib.import_module("deepdive." + name)
    assert module.__name__ == "deepdive." + name
    attr = deepdive
    for part in name.split("."):
        attr = getattr(attr, part)
    assert attr is module


def test_backends_availability_and_flags_as_pytorch_cpu_build():
    torch = require_torch()
    import deepdive.backends.cudnn as cudnn
    for flag in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, flag) == getattr(torch.backends.cudnn, flag), flag
    assert cudnn.version() is None and torch.backends.cudnn.version() is None
    assert not cudnn.is_available() and not torch.backends.cudnn.is_available()
    assert deepdive.backends.mps.is_available() is False and deepdive.backends.mps.is_built() is False
    assert deepdive.backends.cuda.is_built() is False
    assert deepdive.backends.mkldnn.is_available() is False     # deepdive has no oneDNN kernels
    cudnn.benchmark = True
    assert deepdive.backends.cudnn.benchmark is True
    cudnn.benchmark = False


def test_tensor_device_attributes_are_false():
    torch = require_torch()
    a, b = deepdive.ones(2), torch.ones(2)
    for name in ("is_cuda", "is_xpu", "is_mps", "is_meta"):
        assert getattr(a, name) is False and getattr(b, name) is False, name


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
def test_keyword_size_for_filled_creation(fn):
    torch = require_torch()
    for size in ((2, 3), [4], (1, 0, 2)):
        a = getattr(deepdive, fn)(size=size)
        b = getattr(torch, fn)(size=size)
        assert tuple(a.shape) == tuple(b.shape) and str(a.dtype)[-7:] == str(b.dtype)[-7:]
        if fn != "empty":
            assert_close(a, b)
    assert getattr(deepdive, fn)(size=(2,), dtype=deepdive.float64).dtype is deepdive.float64
    with pytest.raises(TypeError, match="invalid combination"):
        getattr(deepdive, fn)(2, size=(2,))


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_keyword_size_for_random_creation(fn):
    deepdive.manual_seed(3)
    a = getattr(deepdive, fn)(size=(3, 2))
    deepdive.manual_seed(3)
    b = getattr(deepdive, fn)(3, 2)
    assert a.shape == (3, 2) and a.dtype is deepdive.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert deepdive.full(size=(2,), fill_value=1.5).tolist() == [1.5, 1.5]


def test_apply_matches_pytorch():
    torch = require_torch()
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    a, b = deepdive.tensor(values.copy()), torch.tensor(values.copy())
    assert a.apply_(lambda v: v * v - 1) is a
    b.apply_(lambda v: v * v - 1)
    assert_close(a, b)
    assert a._version == b._version
    ints = deepdive.tensor([1, 2, 3]).apply_(lambda v: v + 10)
    assert ints.dtype is deepdive.int64 and ints.tolist() == [11, 12, 13]
    with pytest.raises(RuntimeError, match="apply_"):
        deepdive.ones(2, requires_grad=True).apply_(lambda v: v)


def test_flatten_and_unflatten_dense_tensors_as_pytorch():
    torch = require_torch()
    from torch._utils import _flatten_dense_tensors as t_flat, _unflatten_dense_tensors as t_unflat
    from deepdive._utils import _flatten_dense_tensors, _unflatten_dense_tensors
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((2, 3), (4,), (1, 2, 2))]

    def dd(*ts):
        flat = _flatten_dense_tensors(ts)
        return (flat,) + tuple(o * (i + 1) for i, o in enumerate(_unflatten_dense_tensors(flat * 2, ts)))

    def tt(*ts):
        flat = t_flat(ts)
        return (flat,) + tuple(o * (i + 1) for i, o in enumerate(t_unflat(flat * 2, ts)))

    check_parity(dd, tt, arrays)
    gradcheck(lambda *ts: _unflatten_dense_tensors(_flatten_dense_tensors(ts) ** 2, ts)[1], *arrays)
    with pytest.raises(RuntimeError, match="7 elements"):
        _unflatten_dense_tensors(deepdive.zeros(7), [deepdive.zeros(3)])


def test_data_parallel_is_a_passthrough_with_pytorchs_state_dict():
    torch = require_torch()
    import deepdive.nn as nn
    deepdive.manual_seed(0)
    net = nn.Linear(3, 2)
    dp = nn.DataParallel(net)
    tdp = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert list(dp.state_dict()) == list(tdp.state_dict()) == ["module.weight", "module.bias"]
    assert dp.module is net and dp.device_ids == tdp.device_ids == []
    tdp.load_state_dict({k: torch.tensor(v.numpy()) for k, v in dp.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    check_parity(lambda t: dp(t), lambda t: tdp(t), [x])
    assert deepdive.nn.parallel.DataParallel is nn.DataParallel
    out = deepdive.nn.parallel.data_parallel(net, deepdive.tensor(x))
    assert_close(out, net(deepdive.tensor(x)))


def test_distributed_data_parallel_needs_a_process_group_as_in_pytorch():
    torch = require_torch()
    from deepdive.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError) as ours:
        DistributedDataParallel(deepdive.nn.Linear(2, 2))
    with pytest.raises(ValueError) as theirs:
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
    assert str(ours.value) == str(theirs.value)


def test_multiprocessing_reexports_and_sharing_strategy():
    import multiprocessing
    import deepdive.multiprocessing as mp
    assert mp.Process is multiprocessing.Process and mp.Queue is multiprocessing.Queue
    assert mp.get_sharing_strategy() == "file_descriptor"
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError):
        mp.set_sharing_strategy("shm")


def _square_into(i, queue):
    queue.put((i, deepdive.tensor([float(i)]) ** 2))


def test_multiprocessing_spawn_runs_each_process_and_passes_tensors():
    import deepdive.multiprocessing as mp
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    mp.spawn(_square_into, args=(queue,), nprocs=2, start_method="fork")
    got = sorted((i, t.item()) for i, t in (queue.get(timeout=20) for _ in range(2)))
    assert got == [(0, 0.0), (1, 1.0)]


def test_accelerator_hub_and_version():
    torch = require_torch()
    assert deepdive.accelerator.is_available() is False and deepdive.accelerator.current_accelerator() is None
    assert deepdive.accelerator.device_count() == 0
    assert torch.accelerator.current_accelerator() is None          # the CPU build says the same
    for call in (lambda: deepdive.hub.load("pytorch/vision", "resnet18"),
                 lambda: deepdive.hub.load_state_dict_from_url("https://example.com/w.pth"),
                 lambda: deepdive.hub.list("pytorch/vision"),
                 lambda: deepdive.hub.download_url_to_file("https://example.com/w.pth", "/tmp/w")):
        with pytest.raises(RuntimeError, match="cannot download"):
            call()
    assert deepdive.hub.get_dir().endswith("hub")
    assert deepdive.version.__version__ == deepdive.__version__
    assert deepdive.version.cuda is None and torch.version.cuda is None
    assert deepdive.version.hip is None and deepdive.version.debug is False
