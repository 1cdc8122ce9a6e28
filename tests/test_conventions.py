"""Conventions users bring from PyTorch: NumPy input to a Module, .grad of a non-leaf, warnings torch has or not."""
import warnings

import numpy as np
import pytest

import deepdive
from deepdive import nn
from parity import require_torch


def _torch_error(module, x):
    try:
        module(x)
    except TypeError as error:
        return str(error)
    raise AssertionError("torch accepted a NumPy array")


@pytest.mark.parametrize("make", [lambda m: m.Linear(3, 2), lambda m: m.ReLU(), lambda m: m.Sequential(m.Linear(3, 2))],
                         ids=["Linear", "ReLU", "Sequential"])
def test_numpy_array_into_a_module_gets_pytorchs_type_error(make):
    torch = require_torch()
    x = np.zeros((2, 3), np.float32)
    expected = _torch_error(make(torch.nn), x)               # e.g. "linear(): argument 'input' (position 1) ..."
    with pytest.raises(TypeError) as info:
        make(nn)(x)
    assert str(info.value).startswith(expected), (str(info.value), expected)


def test_numpy_array_into_a_users_module_names_its_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x.reshape(x.size(0), -1))          # ndarray.size is an int: fails before fc
    with pytest.raises(TypeError, match=r"Net.forward\(\): argument 'x' \(position 1\) must be Tensor, not "
                                        r"numpy.ndarray"):
        Net()(np.zeros((2, 3), np.float32))


def test_keras_layers_still_take_arrays():
    import deepdive.layers as L
    out = L.Dense(2)(np.ones((1, 3), np.float32))
    assert tuple(out.shape) == (1, 2)
    q = np.ones((1, 4, 8), np.float32)
    assert tuple(L.MultiHeadAttention(2, 4)(q, q).shape) == (1, 4, 8)


def _warning_texts(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [(w.category, str(w.message)) for w in caught]


def test_grad_of_a_non_leaf_warns_as_pytorch_does():
    torch = require_torch()
    expected = _warning_texts(lambda: (torch.ones(2, requires_grad=True) * 2).grad)[1]
    value, got = _warning_texts(lambda: (deepdive.ones(2, requires_grad=True) * 2).grad)
    assert value is None and len(got) == 1 and got[0][0] is UserWarning
    assert got[0][1] == expected[0][1].split(" (Triggered internally")[0]
    # no warning for leaves, tensors that retain grad, or non-leaves whose grad was filled
    x = deepdive.ones(2, requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.sum().backward()
    for t in (x, y, deepdive.ones(2)):
        assert _warning_texts(lambda: t.grad)[1] == []
    assert y.grad.tolist() == [1.0, 1.0]


def test_no_nested_tensor_warning():
    _, got = _warning_texts(lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2))
    assert not any("nested" in text for _, text in got), got


def test_mean_of_an_empty_tensor_is_nan_without_numpy_warnings():
    torch = require_torch()
    for make in (lambda m: m.tensor([]).mean(), lambda m: m.zeros(0, 3).mean(0), lambda m: m.zeros(2, 0).mean(1)):
        value, got = _warning_texts(lambda: make(deepdive))
        expected = make(torch)
        assert got == [], got
        assert tuple(value.shape) == tuple(expected.shape) and np.isnan(value.numpy()).all()
        assert value.dtype == deepdive.float32
