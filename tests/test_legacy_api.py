"""Issue 9, legacy API: Variable, grad(..., only_inputs=True), and tensor.data as PyTorch has them."""
import warnings

import numpy as np
import pytest

import deepdive
from parity import require_torch, assert_close


def test_variable_returns_a_leaf_tensor_sharing_values():
    torch = require_torch()
    from deepdive.autograd import Variable
    for lib, V in ((deepdive, Variable), (torch, torch.autograd.Variable)):
        t = lib.ones(3)
        v = V(t, requires_grad=True)
        assert type(v) is lib.Tensor and v is not t
        assert v.requires_grad and not t.requires_grad and v.is_leaf
        assert isinstance(t, V) and isinstance(v, V)
        assert v.data_ptr() == t.data_ptr()
        assert not V(t).requires_grad
    with pytest.raises(TypeError, match="has to be a tensor"):
        Variable([1.0, 2.0])
    for V, lib in ((Variable, deepdive), (torch.autograd.Variable, torch)):
        with pytest.warns(UserWarning, match="volatile was removed"):
            assert not V(lib.ones(1), volatile=True).requires_grad


def test_only_inputs_is_accepted_with_pytorchs_warning():
    torch = require_torch()
    for lib in (deepdive, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (g,) = lib.autograd.grad((x ** 3).sum(), x, only_inputs=True)
        assert g.tolist() == [3.0, 12.0]
        with pytest.warns(FutureWarning, match="only_inputs argument is deprecated"):
            lib.autograd.grad((x ** 3).sum(), x, only_inputs=False)


def test_data_shares_values_is_detached_and_keeps_its_own_version():
    torch = require_torch()
    for lib in (deepdive, torch):
        x = lib.ones(3, requires_grad=True)
        d = x.data
        assert not d.requires_grad and d.grad_fn is None and d.data_ptr() == x.data_ptr()
        d.add_(1)
        assert x.tolist() == [2.0, 2.0, 2.0]
        assert x._version == 0 and d._version == 1
        # an in-place change through .data is invisible to autograd: no error, the new value is used
        y = x * x
        x.data.mul_(2)
        y.sum().backward()
        assert x.grad.tolist() == [8.0, 8.0, 8.0]
        # while through detach() the shared counter catches it
        z = x * x
        x.detach().mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_data_setter_replaces_the_values():
    torch = require_torch()
    a, b = deepdive.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    a.data = deepdive.tensor([3.0, 4.0])
    b.data = torch.tensor([3.0, 4.0])
    assert_close(a.detach(), b.detach())
    assert a.requires_grad and a.is_leaf


WGAN_GP = '''
import torch
from torch.autograd import Variable, grad

def gradient_penalty(netD, real, fake, LAMBDA=10.0):
    alpha = torch.rand(real.size(0), 1)
    alpha = alpha.expand(real.size())
    interpolates = alpha * real + ((1 - alpha) * fake)
    interpolates = Variable(interpolates, requires_grad=True)
    disc_interpolates = netD(interpolates)
    gradients = grad(outputs=disc_interpolates, inputs=interpolates,
                     grad_outputs=torch.ones(disc_interpolates.size()),
                     create_graph=False, retain_graph=True, only_inputs=True)[0]
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * LAMBDA
'''


def test_wgan_gp_penalty_with_only_the_import_swapped(monkeypatch):
    torch = require_torch()
    from program_swap import run_both
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal((8, 5)).astype(np.float32)
    alpha = rng.random((8, 1)).astype(np.float32)
    w1, w2 = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 1)).astype(np.float32)
    results = {}
    for name, ns in run_both(WGAN_GP).items():
        lib = ns["torch"]
        monkeypatch.setattr(lib, "rand", lambda *size, _a=alpha, _lib=lib: _lib.tensor(_a))   # the same alpha
        W1, W2 = lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)
        netD = lambda x, W1=W1, W2=W2, lib=lib: lib.tanh(x @ W1) @ W2
        results[name] = ns["gradient_penalty"](netD, lib.tensor(real), lib.tensor(fake)).item()
        monkeypatch.undo()
    assert results["deepdive"] == pytest.approx(results["torch"], rel=1e-5)
