"""Results share memory with their input exactly where PyTorch's do (its view/copy contract).

A result that aliases its input where PyTorch copies is silent corruption: a later in-place op on the
result rewrites the input, a parameter included. A no-op view that returns the input object itself lets
``y.unsqueeze_(0)`` reshape the input. So every public function and Tensor method that both libraries have
is called on contiguous, transposed, strided, 0-d and 1-d inputs, with each argument form PyTorch accepts
from a fixed menu, and two things are compared with PyTorch: whether the result *is* the input object, and
whether it shares the input's memory.
"""
import warnings

import numpy as np
import pytest

import deepdive
from parity import require_torch

# Random draws, global state, I/O and constructors that take no input tensor: nothing to alias.
NOT_OPS = {"manual_seed", "seed", "set_printoptions", "set_default_dtype", "get_default_dtype", "save", "load",
           "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal", "bernoulli",
           "multinomial", "poisson", "empty", "empty_like", "set_num_threads", "get_num_threads",
           "set_grad_enabled", "use_deterministic_algorithms", "compile", "from_numpy", "tensor", "as_tensor",
           "asarray", "dropout", "feature_dropout", "alpha_dropout", "native_dropout", "set_rng_state",
           "get_rng_state", "initial_seed", "is_tensor", "numel", "typename", "is_floating_point", "is_complex",
           "is_nonzero", "share_memory", "pin_memory", "new_empty", "new_empty_strided", "empty_strided",
           "uniform", "random", "exponential", "geometric", "cauchy", "log_normal", "unfold"}
VARIANTS = ["contiguous", "transposed", "strided", "0-d", "1-d"]


def _input(lib, variant):
    x = lib.arange(12, dtype=lib.float32).reshape(3, 4) + 1
    return {"contiguous": x, "transposed": x.t(), "strided": x[:, ::2], "0-d": x[0, 0].clone(),
            "1-d": x[0].clone()}[variant]


def _argument_forms(lib, x):
    index = lib.tensor([0, 2])
    return [(), (0,), (1,), (x,), (-1,), (0, 1), ((4, 3),), ((12,),), (index,), (0, index), (1, 0, 2),
            ((2, 0),), (0, 0), (1, 1), (-1, -1), (0, 0, 1)]


# Calls that need a list or a specific index, named after what they do.
NAMED = {
    "cat([x])": lambda L, x: L.cat([x]), "cat([x, empty])": lambda L, x: L.cat([x.flatten(), L.zeros(0)]),
    "stack([x])": lambda L, x: L.stack([x]), "hstack([x])": lambda L, x: L.hstack([x]),
    "vstack([x])": lambda L, x: L.vstack([x]), "take(x, 0-d)": lambda L, x: L.take(x, L.tensor(0)),
    "take(x, [0, 1])": lambda L, x: L.take(x, L.tensor([0, 1])),
    "index_select": lambda L, x: L.index_select(x, 0, L.tensor([0])), "x[[0]]": lambda L, x: x[[0]],
    "x[x > 0]": lambda L, x: x[x > 0], "x[...]": lambda L, x: x[...], "x[:]": lambda L, x: x[:],
    "x[None]": lambda L, x: x[None], "reshape(same)": lambda L, x: x.reshape(x.shape),
    "view(same)": lambda L, x: x.view(x.shape), "contiguous()": lambda L, x: x.contiguous(),
    "to(float32)": lambda L, x: x.to(L.float32), "float()": lambda L, x: x.float(), "detach()": lambda L, x: x.detach(),
    ".data": lambda L, x: x.data, "clone()": lambda L, x: x.clone(), "where(m, x, x)": lambda L, x: L.where(x > 0, x, x),
    "split()[0]": lambda L, x: L.split(x, 100)[0], "chunk()[0]": lambda L, x: L.chunk(x, 1)[0],
    "unbind()[0]": lambda L, x: L.unbind(x)[0], "broadcast_tensors": lambda L, x: L.broadcast_tensors(x, x)[0],
    "atleast_1d": lambda L, x: L.atleast_1d(x), "atleast_2d": lambda L, x: L.atleast_2d(x),
    "tensor_split()[0]": lambda L, x: L.tensor_split(x, 1)[0], "movedim(0, 0)": lambda L, x: L.movedim(x, 0, 0),
    "permute(identity)": lambda L, x: x.permute(*range(x.dim())), "type_as(x)": lambda L, x: x.type_as(x),
    "squeeze(0)": lambda L, x: x.squeeze(0), "flip([])": lambda L, x: L.flip(x, []), "roll(0)": lambda L, x: L.roll(x, 0),
    "max(0).values": lambda L, x: x.max(0).values, "sort().values": lambda L, x: x.sort().values,
    "x * 1": lambda L, x: x * 1, "+x": lambda L, x: +x, "long().abs()": lambda L, x: x.long().abs(),
    "clamp(max=big)": lambda L, x: x.clamp(min=None, max=1e9), "nan_to_num": lambda L, x: L.nan_to_num(x),
    "unfold(0, 1, 1)": lambda L, x: x.unfold(0, 1, 1) if x.dim() else x.unfold(0, 1, 1),
}


def _shares(y, x):
    if isinstance(y, deepdive.Tensor):
        return bool(np.shares_memory(y._data, x._data)) if y.numel() and x.numel() else None
    return y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() if y.numel() and x.numel() else None


def _convert(args, ours_x, their_x):
    return [ours_x if a is their_x else deepdive.tensor(a.numpy()) if hasattr(a, "numpy") else a for a in args]


def _mismatches():
    torch = require_torch()
    found, compared = [], 0

    def compare(label, variant, theirs_fn, ours_fn, args):
        nonlocal compared
        their_x = _input(torch, variant)
        try:
            theirs = theirs_fn(their_x, *args)
        except Exception:
            return
        if not isinstance(theirs, torch.Tensor) or theirs.layout != torch.strided:
            return          # sparse results (to_sparse) have no single storage to compare
        ours_x = _input(deepdive, variant)
        try:
            ours = ours_fn(ours_x, *_convert(args, ours_x, their_x))
        except Exception:
            return          # a missing op or argument form is not an aliasing question
        if not isinstance(ours, deepdive.Tensor) or getattr(ours, "is_sparse", False):
            return
        compared += 1
        want = (theirs is their_x, _shares(theirs, their_x))
        got = (ours is ours_x, _shares(ours, ours_x))
        if want != got:
            found.append(f"{label} on a {variant} input: PyTorch (is input, shares memory) = {want}, deepdive {got}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for variant in VARIANTS:
            forms = _argument_forms(torch, _input(torch, variant))
            for name in sorted(set(dir(torch)) & set(dir(deepdive))):
                fn = getattr(torch, name)
                if name.startswith("_") or name.endswith("_") or name in NOT_OPS or not callable(fn) \
                        or isinstance(fn, type):
                    continue
                for args in forms:
                    compare(f"torch.{name}{tuple(args)!r:.40}", variant, fn, getattr(deepdive, name), args)
            for name in sorted(set(dir(torch.Tensor)) & set(dir(deepdive.Tensor))):
                if name.startswith("_") or name.endswith("_") or name in NOT_OPS \
                        or not callable(getattr(torch.Tensor, name, None)):
                    continue
                method = lambda x, *a, n=name: getattr(x, n)(*a)            # noqa: E731
                for args in forms:
                    compare(f"Tensor.{name}{tuple(args)!r:.40}", variant, method, method, args)
            for label, fn in NAMED.items():
                compare(label, variant, lambda x, f=fn: f(torch, x), lambda x, f=fn: f(deepdive, x), ())
    return found, compared


def test_every_public_op_aliases_exactly_where_pytorch_does():
    found, compared = _mismatches()
    assert compared > 1500, f"only {compared} calls compared: the sweep no longer reaches the API"
    assert not found, f"{len(found)} of {compared} calls differ from PyTorch:\n" + "\n".join(found)


# The cases the campaign found, each as a user meets it.
def test_diag_of_a_parameter_is_a_copy():
    x = deepdive.ones(3, 3, requires_grad=True)
    d = deepdive.diag(x)
    d.relu_()
    d.sum().backward()
    assert x.detach()[0, 0].item() == 1.0
    with deepdive.no_grad():
        deepdive.diag(x).mul_(0)
    assert x.detach().diagonal().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("make", [lambda x: deepdive.cat([x]), lambda x: deepdive.cat([x, deepdive.zeros(0)]),
                                  lambda x: deepdive.take(x, deepdive.tensor(0)),
                                  lambda x: deepdive.ravel(x[::2]), lambda x: deepdive.hstack([x])],
                         ids=["cat([x])", "cat([x, empty])", "take(x, 0-d)", "ravel(x[::2])", "hstack([x])"])
def test_in_place_change_of_a_copying_ops_result_leaves_the_input(make):
    x = deepdive.arange(6.0)
    y = make(x)
    y.add_(10)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("make", [lambda x: x.squeeze(), lambda x: x.transpose(0, 0), lambda x: x.expand_as(x),
                                  lambda x: x.t(), lambda x: x.squeeze(0)],
                         ids=["squeeze()", "transpose(0, 0)", "expand_as(x)", "t() of 1-d", "squeeze(0) of size 6"])
def test_no_op_views_are_new_tensors_that_share_values(make):
    x = deepdive.arange(6.0)
    y = make(x)
    assert y is not x
    y.unsqueeze_(0)
    assert x.shape == (6,)
    y.mul_(2)                          # still a view: values are shared, as in PyTorch
    assert x.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_no_op_view_of_a_leaf_that_requires_grad_carries_the_graph():
    x = deepdive.ones(2, 3, requires_grad=True)
    y = x.squeeze()
    assert y is not x and y.grad_fn is not None and not y.is_leaf
    (y * 3).sum().backward()
    assert x.grad.tolist() == [[3.0] * 3] * 2
