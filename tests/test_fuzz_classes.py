"""The mismatch classes the differential fuzzer (test_fuzz.py) found, one regression test each.

PyTorch 2.13 is the spec. Where PyTorch is undefined or wrong, the test says
which choice deepdive makes and why (``deliberate difference``).
"""
import math

import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

NAN, INF = float("nan"), float("inf")


def _both(fn, *arrays, requires_grad=False):
    """fn run on deepdive and on torch tensors made from the same arrays."""
    torch = require_torch()
    return (fn(deepdive, *[deepdive.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]),
            fn(torch, *[torch.tensor(a.copy(), requires_grad=requires_grad) for a in arrays]))


# ------------------------------------------------ requires_grad of piecewise-constant and non-differentiable results
@pytest.mark.parametrize("fn", [
    lambda T, x: x.floor(), lambda T, x: x.ceil(), lambda T, x: x.round(), lambda T, x: x.trunc(),
    lambda T, x: x.sign(), lambda T, x: T.round(x, decimals=1),
    lambda T, x: T.div(x, 0.7, rounding_mode="floor"), lambda T, x: T.div(x, x + 3, rounding_mode="trunc"),
    lambda T, x: T.remainder(x, 0.7), lambda T, x: x.frac()])
def test_piecewise_constant_results_keep_the_graph_with_zero_gradient(fn):
    x = np.array([-1.5, -0.2, 0.0, 0.4, 2.5], dtype=np.float32)
    out = check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [x])[0]
    assert out.requires_grad


@pytest.mark.parametrize("fn", [
    lambda x: x.floor(), lambda x: x.ceil(), lambda x: x.round(), lambda x: x.trunc(), lambda x: x.sign(),
    lambda x: deepdive.div(x, 0.7, rounding_mode="floor"), lambda x: deepdive.div(x, x + 3, rounding_mode="trunc")])
def test_piecewise_constant_gradient_passes_gradcheck_away_from_the_jumps(fn):
    gradcheck(fn, np.array([-1.3, -0.2, 0.4, 2.3]))


@pytest.mark.parametrize("fn", [lambda T, x: T.floor_divide(x, 2.0), lambda T, x: x // x.detach(),
                                lambda T, x: T.unique(x)])
def test_results_without_a_derivative_require_grad_and_backward_raises(fn):
    x = np.array([3.0, 1.0, 3.0], dtype=np.float32)
    dd, ref = _both(fn, x, requires_grad=True)
    assert dd.requires_grad and ref.requires_grad
    with pytest.raises(RuntimeError, match="derivative for .* is not implemented"):
        dd.sum().backward()


def test_truncating_div_of_ints_stays_int():
    a, b = np.array([5, -5, 7, -7], dtype=np.int64), np.array([2, 2, -3, -3], dtype=np.int64)
    check_parity(lambda x, y: deepdive.div(x, y, rounding_mode="trunc"),
                 lambda x, y: require_torch().div(x, y, rounding_mode="trunc"), [a, b])
    check_parity(lambda x, y: deepdive.div(x, y, rounding_mode="floor"),
                 lambda x, y: require_torch().div(x, y, rounding_mode="floor"), [a, b])


@pytest.mark.parametrize("fn", [lambda T, x: x // T.tensor([0, 1]), lambda T, x: x % T.tensor([1, 0])])
def test_integer_division_by_zero_raises_like_pytorch(fn):
    x = np.array([1, 2], dtype=np.int64)
    torch = require_torch()
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(torch, torch.tensor(x))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(deepdive, deepdive.tensor(x))


def test_unique_keeps_each_nan():
    check_parity(lambda x: deepdive.unique(x, return_counts=True), lambda x: require_torch().unique(x, return_counts=True),
                 [np.array([1.0, NAN, NAN, 1.0], dtype=np.float32)], grad=False)


def test_sign_of_nan_is_zero():
    check_parity(deepdive.sign, require_torch().sign if require_torch() else None,
                 [np.array([NAN, -INF, -0.0, 0.0, 2.0], dtype=np.float32)])


# ------------------------------------------------ 0-d tensors
@pytest.mark.parametrize("fn", [lambda T, x: x.sigmoid(), lambda T, x: T.sigmoid(x.sum()), lambda T, x: x.flip(0),
                                lambda T, x: T.where(x > 0, x, -x), lambda T, x: T.where(x)[0],
                                lambda T, x: T.nonzero(x, as_tuple=True)[0], lambda T, x: x.flip(-1).exp()])
def test_zero_dim_tensors(fn):
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [np.array(0.7, dtype=np.float32)])


def test_zero_dim_sigmoid_saturates_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert deepdive.tensor(-1000.0).sigmoid().item() == 0.0


# ------------------------------------------------ dtypes: bools and integers
def test_integer_tensor_to_negative_integer_powers():
    base = np.array([2, -2, 1, -1, -1, 0, 3], dtype=np.int64)
    exponent = np.array([-1, -2, -3, -3, -2, 2, 2], dtype=np.int64)
    check_parity(lambda a, b: a ** b, lambda a, b: a ** b, [base, exponent])


@pytest.mark.parametrize("fn", [lambda T, x: -x, lambda T, x: T.neg(x), lambda T, x: x - x, lambda T, x: 1 - x,
                                lambda T, x: x - 1, lambda T, x: T.sub(x, x), lambda T, x: x.abs(),
                                lambda T, x: x.floor(), lambda T, x: x.round(), lambda T, x: T.remainder(x, x),
                                lambda T, x: x ** x])
def test_bool_arithmetic_pytorch_refuses(fn):
    torch = require_torch()
    x = np.array([True, False])
    with pytest.raises(Exception) as ref:
        fn(torch, torch.tensor(x))
    with pytest.raises(type(ref.value)) as ours:
        fn(deepdive, deepdive.tensor(x))
    assert ref.value.args[0].split(" ")[0] in ours.value.args[0] or "not implemented for 'Bool'" in ours.value.args[0]


@pytest.mark.parametrize("fn", [lambda T, x: x ** 2, lambda T, x: T.square(x), lambda T, x: x.float() ** 2])
def test_bool_powers_are_int64(fn):
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [np.array([True, False])])


def test_frac_of_integers_raises():
    with pytest.raises(NotImplementedError, match="frac.*Long"):
        deepdive.tensor([1, 2]).frac()


# ------------------------------------------------ errors: NumPy's, translated in one place
def test_numpy_errors_inside_an_op_name_the_op_shapes_and_dtypes():
    from deepdive.autograd.function import Function

    class Fold(Function):
        @staticmethod
        def forward(ctx, x):
            return x.reshape(4)          # NumPy raises: cannot reshape array of size 6 into shape (4,)

    with pytest.raises(RuntimeError, match=r"^fold\(\): cannot reshape .* \(input shape \[2, 3\], dtype float32\)"):
        Fold.apply(deepdive.zeros(2, 3))
    with pytest.raises(ValueError):      # still a ValueError, for code that caught NumPy's
        Fold.apply(deepdive.zeros(2, 3))


def test_errors_raised_by_ops_themselves_pass_unchanged():
    with pytest.raises(RuntimeError, match=r"^reshape: shape '\[4\]' is invalid for input of size 6"):
        deepdive.zeros(2, 3).reshape(4)


# ------------------------------------------------ dtypes: integer activations, clamp, atan2, loss promotion
@pytest.mark.parametrize("fn", [lambda T, x: T.nn.functional.hardtanh(x), lambda T, x: T.nn.functional.relu6(x),
                                lambda T, x: T.nn.functional.softsign(x), lambda T, x: T.nn.functional.tanhshrink(x),
                                lambda T, x: T.relu(x), lambda T, x: T.clamp(x.bool(), min=0, max=1),
                                lambda T, x: T.atan2(x, x + 1), lambda T, x: T.nn.functional.threshold(x, 0, 5)])
def test_integer_inputs(fn):
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [np.array([-3, 0, 3, 9])])


@pytest.mark.parametrize("fn", [lambda T, x: T.relu(x), lambda T, x: T.nn.functional.relu6(x),
                                lambda T, x: T.nn.functional.hardtanh(x)])
def test_bool_activations_raise(fn):
    with pytest.raises(RuntimeError, match="Bool.* inputs not supported"):
        fn(deepdive, deepdive.tensor([True]))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")])
def test_regression_losses_promote_as_pytorch(loss, dtypes):
    """(huber_loss keeps the input's dtype in deepdive; PyTorch 2.13's backward of it raises
    'Found dtype Double but expected Float' for a float32 input with a float64 target, so there is no spec.)"""
    x, y = np.array([0.5, -1.0], dtype=dtypes[0]), np.array([1.5, 2.0], dtype=dtypes[1])
    check_parity(getattr(deepdive.nn.functional, loss), getattr(require_torch().nn.functional, loss), [x, (y, False)])


def test_bce_with_logits_mixed_dtypes_is_a_deliberate_difference():
    """Deliberate difference: PyTorch 2.13 returns the *target's* dtype (float64 logits, float32 targets give a
    float32 loss, the reverse a float64 one); deepdive keeps the logits' dtype, the one their gradient has."""
    F = deepdive.nn.functional
    x = deepdive.zeros(2, dtype=deepdive.float64, requires_grad=True)
    assert F.binary_cross_entropy_with_logits(x, deepdive.zeros(2)).dtype == deepdive.float64
    assert F.binary_cross_entropy_with_logits(x.float(), deepdive.zeros(2, dtype=deepdive.float64)).dtype \
        == deepdive.float32


# ------------------------------------------------ size-0 inputs
@pytest.mark.parametrize("shape,normalized", [((3, 0), (0,)), ((0, 3), (3,)), ((2, 0, 2), (0, 2))])
def test_layer_norm_of_empty_inputs(shape, normalized):
    F = deepdive.nn.functional
    torch = require_torch()
    check_parity(lambda x: F.layer_norm(x, normalized), lambda x: torch.nn.functional.layer_norm(x, normalized),
                 [np.zeros(shape, dtype=np.float32)])


def test_layer_norm_needs_a_normalized_shape():
    with pytest.raises(RuntimeError, match="at least 1-dimensional"):
        deepdive.nn.functional.layer_norm(deepdive.tensor(1.0), ())


@pytest.mark.parametrize("target", [[-100, -100], []])
def test_cross_entropy_with_no_classes(target):
    F, torch = deepdive.nn.functional, require_torch()
    x = np.zeros((len(target), 0), dtype=np.float32)
    check_parity(lambda a, t: F.cross_entropy(a, t), lambda a, t: torch.nn.functional.cross_entropy(a, t),
                 [x, np.array(target, dtype=np.int64)])
    with pytest.raises(IndexError, match="Target 0 is out of bounds"):
        F.cross_entropy(deepdive.zeros(1, 0), deepdive.tensor([0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ignored_rows_with_nan_logits_do_not_poison_the_loss(reduction):
    F, torch = deepdive.nn.functional, require_torch()
    x = np.array([[NAN, 1.0], [0.0, 1.0], [2.0, -1.0]], dtype=np.float32)
    t = np.array([-100, 1, 0], dtype=np.int64)
    check_parity(lambda a, b: F.cross_entropy(a, b, reduction=reduction),
                 lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction=reduction), [x, t], grad=False)


# ------------------------------------------------ indexing
def test_take_along_dim_wraps_negative_indices():
    torch = require_torch()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    idx = np.array([[-1, 0], [-3, 2]], dtype=np.int64)
    check_parity(lambda a, i: deepdive.take_along_dim(a, i, dim=1), lambda a, i: torch.take_along_dim(a, i, dim=1),
                 [x, idx])
    with pytest.raises(RuntimeError, match="out of bounds"):      # flattened (dim=None), PyTorch does not wrap
        torch.take_along_dim(torch.tensor(x), torch.tensor(idx))
    with pytest.raises(RuntimeError, match="out of bounds"):
        deepdive.take_along_dim(deepdive.tensor(x), deepdive.tensor(idx))
    with pytest.raises(IndexError, match="take_along_dim"):
        deepdive.take_along_dim(deepdive.tensor(x), deepdive.tensor([[-4]]), dim=1)
    with pytest.raises(IndexError, match="take_along_dim.*no dimensions"):
        deepdive.take_along_dim(deepdive.tensor(1.0), deepdive.tensor(0), dim=0)


def test_index_select_does_not_wrap_negative_indices():
    with pytest.raises(IndexError, match=r"index_select\(\): index -1 out of range"):
        deepdive.index_select(deepdive.ones(2, 3), 1, deepdive.tensor([-1]))


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_masked_fill_of_integers_with_non_finite_values_raises(value):
    x = deepdive.tensor([1, 2])
    with pytest.raises(RuntimeError, match="masked_fill: value .* cannot be converted"):
        x.masked_fill(x > 1, value)
    with pytest.raises(RuntimeError, match="masked_fill_: value .* cannot be converted"):
        x.masked_fill_(x > 1, value)


def test_chunk_of_a_zero_dim_tensor_raises():
    with pytest.raises(RuntimeError, match="chunk expects at least a 1-dimensional tensor"):
        deepdive.tensor(1.0).chunk(2)


# ------------------------------------------------ special values: gradients and values at NaN, atan2 at (0, 0)
@pytest.mark.parametrize("fn", [lambda T, x: x.abs(), lambda T, x: x.relu(), lambda T, x: x.norm(p=1),
                                lambda T, x: T.clamp(x, 0, 1), lambda T, x: T.nn.functional.hardtanh(x),
                                lambda T, x: T.nn.functional.relu6(x),
                                lambda T, x: T.maximum(x, x.detach() * 0), lambda T, x: T.minimum(x, x.detach() * 0),
                                lambda T, x: T.maximum(x.detach() * 0, x), lambda T, x: T.minimum(x.detach() * 0, x),
                                lambda T, x: T.nn.functional.threshold(x, 0.0, 5.0), lambda T, x: T.atan2(x, x),
                                lambda T, x: T.atan2(x, x * 0)])
def test_special_values(fn):
    x = np.array([NAN, 0.0, 1.0, -1.0, INF, -INF], dtype=np.float32)
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [x])


def test_atan2_backward_with_a_bool_operand_is_a_deliberate_difference():
    """Deliberate difference: PyTorch 2.13's atan2 backward with a bool other raises ('Negation, the `-`
    operator, on a bool tensor is not supported'), an internal error of its derivative formula; deepdive
    casts the bool to float first and gives the gradient of atan2(x, float(other))."""
    x = deepdive.tensor([1.0, -2.0], requires_grad=True)
    deepdive.atan2(x, deepdive.tensor([True, False])).sum().backward()
    np.testing.assert_allclose(x.grad._data, [0.5, 0.0], atol=1e-7)


def test_softmax_of_an_empty_integer_tensor_is_a_deliberate_difference():
    """Deliberate difference: PyTorch 2.13 returns an empty int64 tensor for softmax of an empty int64 tensor
    (the kernel that would refuse 'Long' never runs on zero elements) and raises for any non-empty one;
    deepdive refuses integer inputs whatever their size, so the error does not depend on the batch."""
    for n in (0, 2):
        with pytest.raises(NotImplementedError, match="softmax.*Long"):
            deepdive.softmax(deepdive.zeros(n, dtype=deepdive.int64), 0)


# ------------------------------------------------ more dtypes and errors
@pytest.mark.parametrize("fn", [lambda T, x, y: T.fmod(x, y), lambda T, x, y: T.remainder(x, y),
                                lambda T, x, y: T.remainder(x, 2), lambda T, x, y: T.fmod(x, 2)])
def test_modulus_of_a_bool_tensor_promotes_first(fn):
    check_parity(lambda a, b: fn(deepdive, a, b), lambda a, b: fn(require_torch(), a, b),
                 [np.array([True, False]), np.array([2.0, -3.0], dtype=np.float32)])


@pytest.mark.parametrize("a,b", [((2,), (2,)), ((2, 2), (2, 2))])
def test_matmul_of_bools_raises(a, b):
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        deepdive.ones(*a, dtype=deepdive.bool) @ deepdive.ones(*b, dtype=deepdive.bool)


@pytest.mark.parametrize("p", [float("inf"), -1.0])
def test_norms_without_identity_on_empty_tensors_raise(p):
    with pytest.raises(RuntimeError, match="cannot compute the .* norm on an empty tensor"):
        deepdive.zeros(2, 0).norm(p=p)
    assert deepdive.zeros(2, 0).norm(p=p, dim=0).shape == (0,)


def test_take_along_dim_broadcast_error_names_the_op():
    with pytest.raises(RuntimeError, match="^take_along_dim: The size of tensor a"):
        deepdive.take_along_dim(deepdive.zeros(1, 2, 1), deepdive.zeros(0, 3, 1, dtype=deepdive.int64), dim=-1)


# ------------------------------------------------ size-0 batches of normalization layers
@pytest.mark.parametrize("fn", [lambda T, x: T.nn.functional.group_norm(x, 2),
                                lambda T, x: T.nn.functional.batch_norm(x, T.zeros(4), T.ones(4), training=False),
                                lambda T, x: T.nn.functional.instance_norm(x) if x.shape[0] else x * 1])
def test_normalization_of_an_empty_batch(fn):
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [np.zeros((0, 4, 2), dtype=np.float32)])


# ------------------------------------------------ non-differentiable outputs, xlogy at NaN, 0-d __setitem__
@pytest.mark.parametrize("pool", ["max_pool1d", "adaptive_max_pool1d"])
def test_pooling_indices_carry_no_graph(pool):
    x = deepdive.randn(1, 2, 4, requires_grad=True)
    values, indices = getattr(deepdive.nn.functional, pool)(x, 2, return_indices=True)
    assert values.requires_grad and not indices.requires_grad and indices.grad_fn is None


def test_xlogy_at_zero_and_nan():
    """PyTorch's formulas: dx = xlogy(g, y), 0 where x == 0 and y <= 0; dy = g x / y (NaN at x = y = 0)."""
    x = np.array([0.0, 0.0, 1.0, 0.0, 2.0, 0.5, 0.0], dtype=np.float32)
    y = np.array([0.0, NAN, NAN, -1.0, 3.0, 0.0, 1.0], dtype=np.float32)
    check_parity(deepdive.xlogy, require_torch().xlogy, [x, (y, False)])
    check_parity(deepdive.xlogy, require_torch().xlogy, [x, y])
    check_parity(lambda a, b: deepdive.xlogy(a, b) * 0, lambda a, b: require_torch().xlogy(a, b) * 0,
                 [x, np.array([False, True, False, True, True, False, True])])     # g = 0: dx = xlogy(0, y)
    gradcheck(deepdive.xlogy, np.array([0.5, 2.0, 1.5]), np.array([0.7, 3.0, 0.2]))


def test_setitem_on_a_zero_dim_tensor_backward():
    torch = require_torch()
    results = []
    for T in (deepdive, torch):
        x = T.tensor(2.0, requires_grad=True)
        y = x * 1
        y[...] = 5.0
        (y * x).backward()
        results.append(x.grad.item())
    assert results[0] == results[1] == 5.0


@pytest.mark.parametrize("index", ["0, :, i", "i, 1", "1, i, :, j", ":, i, 0, j", "0, i, 2", "i, :, -1", "i, 0, :, 1"])
def test_integers_among_advanced_indices_select_first(index):
    torch = require_torch()
    x = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    code = f"lambda x, i, j: x[{index}]"
    check_parity(eval(code), eval(code), [x, np.array([0, 1]), np.array([[1], [2]])])


# ------------------------------------------------ autograd: in-place changes of outputs an op saved
@pytest.mark.parametrize("fn", [lambda T, x: T.amax(x, 1), lambda T, x: T.max(x), lambda T, x: x.min(),
                                lambda T, x: x.norm(), lambda T, x: x.norm(dim=1), lambda T, x: T.logsumexp(x, 1),
                                lambda T, x: x.std(), lambda T, x: T.prod(x), lambda T, x: T.median(x),
                                lambda T, x: x.exp(), lambda T, x: x.sigmoid()])
def test_changing_a_saved_output_in_place_is_detected(fn):
    """These ops save their result (or the array their result is a view of): changing it in place must
    raise at backward, as in PyTorch, instead of giving silently wrong (often NaN) gradients."""
    torch = require_torch()
    for T in (torch, deepdive):
        x = T.tensor([[0.5, 1.0, 2.0], [1.5, 0.25, 0.75]], requires_grad=True)
        y = fn(T, x)
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("fn", [lambda T, x: T.var(x, correction=6), lambda T, x: T.var(x, correction=7),
                                lambda T, x: T.std(x, correction=6), lambda T, x: T.var(x, dim=1, correction=3),
                                lambda T, x: T.var(x, dim=1, correction=4), lambda T, x: T.std(x, dim=0, correction=2),
                                lambda T, x: T.var(x[:1, :1], dim=0, correction=2),
                                lambda T, x: T.var(x[:, :1] * 0 + 1e30, dim=0, correction=3)])
def test_var_with_correction_at_least_n(fn):
    """PyTorch's var_backward: 2 g (x - mean) / (N - correction) with N - correction signed; for a full
    reduction with N - correction <= 0, g * (NaN where x == mean, else inf)."""
    torch = require_torch()
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], dtype=np.float32)
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(torch, a), [x])


def test_writing_into_an_expanded_tensor_is_a_deliberate_difference():
    """Deliberate difference: PyTorch's __setitem__ writes through an expand()ed tensor (x[0, 0] = 1 changes
    every row sharing that memory), while its in-place ops refuse; deepdive refuses both, with PyTorch's message."""
    x = deepdive.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x[0, 0] = 1.0
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.add_(1)


# ------------------------------------------------ found at the 1,500-program budget
def test_softplus_and_hardswish_at_infinities():
    F, torch = deepdive.nn.functional, require_torch()
    x = np.array([INF, -INF, 1e-30, 25.0, -4.0], dtype=np.float32)
    check_parity(F.softplus, torch.nn.functional.softplus, [x])
    check_parity(F.hardswish, torch.nn.functional.hardswish, [x])


def test_cat_promotes_with_skipped_empty_tensors():
    torch = require_torch()
    for shapes in [((0,), (0,)), ((2, 2), (0,)), ((2,), (0,))]:
        check_parity(lambda a, b: deepdive.cat([a, b]), lambda a, b: torch.cat([a, b]),
                     [np.zeros(shapes[0], np.float32), (np.zeros(shapes[1], np.float64), False)])


def test_index_select_of_a_zero_dim_tensor():
    torch = require_torch()
    check_parity(lambda a, i: deepdive.index_select(a, 0, i), lambda a, i: torch.index_select(a, 0, i),
                 [np.array(1.5, dtype=np.float32), np.array([0])])
    with pytest.raises(IndexError, match="Index to scalar can have only 1 value"):
        deepdive.index_select(deepdive.tensor(1.0), 0, deepdive.tensor([0, 0]))


def test_small_dtype_and_error_cases():
    torch = require_torch()
    check_parity(lambda a: 2 ** a, lambda a: 2 ** a, [np.array([True, False])])
    with pytest.raises(RuntimeError, match="argmax.*bool"):
        deepdive.argmax(deepdive.tensor([True]))
    with pytest.raises(RuntimeError, match="^fmod: The size of tensor a"):
        deepdive.fmod(deepdive.zeros(2, 3), deepdive.ones(2))


@pytest.mark.parametrize("fn", [lambda T, x: T.nn.functional.adaptive_avg_pool1d(x[0], 2),
                                lambda T, x: T.nn.functional.adaptive_avg_pool1d(x[0], 3),
                                lambda T, x: T.nn.functional.adaptive_avg_pool2d(x, (2, 2)),
                                lambda T, x: T.nn.functional.adaptive_avg_pool2d(x, 1)])
def test_adaptive_avg_pool_keeps_inf_in_its_window(fn):
    x = np.array([[[[1.0, INF, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], [0.0, -INF, 0.0, NAN]]]], dtype=np.float32)
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(require_torch(), a), [x], grad=False)


def test_einsum_with_mixed_dtypes_is_a_deliberate_difference():
    """Deliberate difference: PyTorch 2.13's einsum promotes mixed dtypes only where its contraction has
    size 0 or 1 (it then multiplies instead of calling bmm) and raises 'expected scalar type Float but found
    Double' otherwise; deepdive refuses mixed dtypes whatever the shapes."""
    torch = require_torch()
    with pytest.raises(RuntimeError, match="expected scalar type"):
        torch.einsum("i,i->", torch.ones(2), torch.ones(2, dtype=torch.float64))
    for n in (0, 1, 2):
        with pytest.raises(RuntimeError, match="einsum"):
            deepdive.einsum("i,i->", deepdive.ones(n), deepdive.ones(n, dtype=deepdive.float64))


def test_remainder_at_special_values():
    torch = require_torch()
    a = np.array([1.0, 0.0, -1.0, 1.0, 0.0, -1.0, 2.0, 5.0, INF, NAN, 0.0, 1.0, -7.0], dtype=np.float32)
    b = np.array([-INF, -INF, -INF, INF, INF, INF, 0.0, 3.0, 2.0, 2.0, 1e30, -0.5, 2.0], dtype=np.float32)
    check_parity(deepdive.remainder, torch.remainder, [a, b], grad=False)
    check_parity(deepdive.remainder, torch.remainder, [a[7:8], b[7:8]])       # gradients where they are finite
    check_parity(deepdive.remainder, torch.remainder, [a[-1:], b[-1:]])


def test_python_bool_operands_of_subtraction_raise():
    for call in (lambda: True - deepdive.ones(2), lambda: deepdive.ones(2) - True,
                 lambda: deepdive.sub(deepdive.ones(2), True)):
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
            call()


def test_linear_of_empty_inputs_and_a_vector_weight():
    F, torch = deepdive.nn.functional, require_torch()
    check_parity(F.linear, torch.nn.functional.linear, [np.zeros((0, 0, 0)), np.zeros(0)])
    check_parity(F.linear, torch.nn.functional.linear, [np.zeros((4, 2, 0), np.float32), np.zeros((0, 0), np.float32)])


# ------------------------------------------------ found at the 40,000-program budget
def test_zero_dim_float_operands_promote_before_the_float_cast():
    torch = require_torch()
    check_parity(lambda a, b: a / b, lambda a, b: a / b, [np.array([False, True]), (np.array(-2.0), False)])
    check_parity(deepdive.xlogy, torch.xlogy, [np.array(0.5), np.array([0, 1, 3])])


def test_integer_base_to_integer_tensor_powers():
    check_parity(lambda e: 2 ** e, lambda e: 2 ** e, [np.array([-2, 0, 3])])
    check_parity(lambda e: (-1) ** e, lambda e: (-1) ** e, [np.array([-3, -2, 5])])


def test_integer_division_by_zero_of_an_empty_tensor_is_empty():
    torch = require_torch()
    check_parity(lambda a, b: a // b, lambda a, b: a // b, [np.zeros(0, np.int64), np.array(0)])
    with pytest.raises(NotImplementedError, match="div_trunc_cpu"):
        deepdive.div(deepdive.tensor([True]), deepdive.tensor([True]), rounding_mode="trunc")


def test_out_of_range_float_to_int_is_undefined_in_pytorch():
    """Deliberate difference (PyTorch undefined): casting a float outside int64's range (1e30, inf) to int64
    is undefined behaviour in PyTorch's C++ cast (its result varies by platform); deepdive gives NumPy's value."""
    x = deepdive.tensor([1.5, -2.5])
    assert x.long().tolist() == [1, -2]        # in range: truncation, the same in both


# ------------------------------------------------ found at the 40,000-program budget (second pass): derivatives at
# special values, with an upstream gradient of 1, 0, inf or NaN (PyTorch's where vs product, and its formula's order)
SPECIAL_X = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 1e30, -3.0, 3.0, 6.0, 1.4e-45], dtype=np.float32)


def _grads_with_upstream(fn, x, g):
    torch = require_torch()
    grads = []
    for T in (deepdive, torch):
        t = T.tensor(x.copy(), requires_grad=True)
        (fn(T, t) * T.tensor(np.full(x.shape, g, dtype=x.dtype))).sum().backward()
        grads.append(t.grad)
    return grads


@pytest.mark.parametrize("g", [1.0, 0.0, INF, NAN])
@pytest.mark.parametrize("fn", [
    lambda T, x: T.nn.functional.relu6(x), lambda T, x: T.nn.functional.hardtanh(x, -1, 1),
    lambda T, x: T.nn.functional.hardsigmoid(x), lambda T, x: T.nn.functional.hardswish(x),
    lambda T, x: T.nn.functional.elu(x), lambda T, x: T.nn.functional.celu(x, 0.5),
    lambda T, x: T.nn.functional.selu(x), lambda T, x: T.nn.functional.softsign(x),
    lambda T, x: T.nn.functional.tanhshrink(x),
    lambda T, x: T.nn.functional.l1_loss(x, T.zeros(x.shape), reduction="none"),
    lambda T, x: T.nn.functional.smooth_l1_loss(x, T.zeros(x.shape), reduction="none", beta=0.0),
    lambda T, x: T.rsqrt(x), lambda T, x: T.reciprocal(x), lambda T, x: T.nan_to_num(x),
    lambda T, x: x ** 0.5, lambda T, x: x ** -0.5, lambda T, x: x ** 1.5, lambda T, x: x ** -2, lambda T, x: x ** 3,
    lambda T, x: T.pow(x.detach() * 0 + 2, x), lambda T, x: T.pow(x.detach(), x),
    lambda T, x: T.xlogy(x.detach(), x), lambda T, x: T.xlogy(x, x.detach()),
    lambda T, x: T.std(x[3:4], dim=0, correction=0) * x, lambda T, x: x.reshape(1, -1)[:, 3].std(0, correction=0)])
def test_derivatives_at_special_values_with_any_upstream_gradient(fn, g):
    from parity import assert_close
    ours, ref = _grads_with_upstream(fn, SPECIAL_X, g)
    assert_close(ours, ref, what="grad")


@pytest.mark.parametrize("fn", [lambda T, x: x ** 0.5, lambda T, x: x ** -0.5, lambda T, x: x ** -2,
                                lambda T, x: x ** 3, lambda T, x: T.rsqrt(x), lambda T, x: T.clamp(x, 0, 1),
                                lambda T, x: T.clamp(x, max=0), lambda T, x: T.clamp(x, min=0.0) ** -1])
def test_powers_and_clamp_keep_pytorch_signs_of_zero(fn):
    """PyTorch's pow kernel computes the exponents 0.5, -0.5, -1, -2, 3 as sqrt, rsqrt, reciprocal, ...
    ((-0.0) ** -0.5 = -inf, (-inf) ** 0.5 = NaN); clamp keeps x at a tie (clamp(-0.0, min=0) = -0.0)."""
    torch = require_torch()
    ours, ref = fn(deepdive, deepdive.tensor(SPECIAL_X)), fn(torch, torch.tensor(SPECIAL_X))
    number = ~np.isnan(ref.numpy())          # (a NaN's sign bit is not specified)
    np.testing.assert_array_equal(np.signbit(ours._data[number]), np.signbit(ref.numpy()[number]))
    check_parity(lambda a: fn(deepdive, a), lambda a: fn(torch, a), [SPECIAL_X], grad=False)


# ------------------------------------------------ values, dtypes and errors found in the same pass
def test_adaptive_avg_pool_to_size_one_of_an_empty_input_is_nan():
    """PyTorch takes the mean for an output of size 1 (NaN over an empty window), before its non-empty check."""
    F, torch = deepdive.nn.functional, require_torch()
    check_parity(lambda a: F.adaptive_avg_pool1d(a, 1), lambda a: torch.nn.functional.adaptive_avg_pool1d(a, 1),
                 [np.zeros((3, 2, 0), np.float32)])
    check_parity(lambda a: F.adaptive_avg_pool2d(a, 1), lambda a: torch.nn.functional.adaptive_avg_pool2d(a, 1),
                 [np.zeros((1, 2, 0, 2), np.float32)])
    check_parity(lambda a: F.adaptive_avg_pool1d(a, 2), lambda a: torch.nn.functional.adaptive_avg_pool1d(a, 2),
                 [np.zeros((1, 0, 3), np.float32)], grad=False)     # (PyTorch's backward refuses C = 0)
    with pytest.raises(RuntimeError, match="adaptive_avg_pool1d"):
        F.adaptive_avg_pool1d(deepdive.zeros(1, 2, 0), 3)


@pytest.mark.parametrize("call", [lambda F, x: F.max_pool1d(x, 1, return_indices=True), lambda F, x: F.max_pool1d(x, 1),
                                  lambda F, x: F.avg_pool1d(x, 1)])
@pytest.mark.parametrize("shape", [(1, 0, 3), (2, 3, 0), (0, 3)])
def test_pooling_refuses_empty_non_batch_dims(call, shape):
    torch = require_torch()
    with pytest.raises(RuntimeError, match="with optional 0 dim batch size"):
        call(torch.nn.functional, torch.zeros(shape))
    with pytest.raises(RuntimeError, match=r"pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim"):
        call(deepdive.nn.functional, deepdive.zeros(*shape))
    out = call(deepdive.nn.functional, deepdive.zeros(0, 2, 3))
    assert (out[0] if isinstance(out, tuple) else out).shape == (0, 2, 3)      # an empty batch is fine


@pytest.mark.parametrize("shape,groups", [((1, 1), 1), ((1, 2), 2), ((1, 2, 1), 2)])
def test_group_norm_of_one_value_per_group_raises(shape, groups):
    torch = require_torch()
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \[1, "):
        torch.nn.functional.group_norm(torch.zeros(shape), groups)
    with pytest.raises(ValueError, match=r"^group_norm: Expected more than 1 value per channel when training, got "
                                         r"input size \[1, "):
        deepdive.nn.functional.group_norm(deepdive.zeros(*shape), groups)


@pytest.mark.parametrize("call", [lambda T, a, b: T.div(a, b, rounding_mode="floor"), lambda T, a, b: a // b,
                                  lambda T, a, b: T.div(a, True, rounding_mode="floor")])
def test_floor_division_of_bools_raises(call):
    torch = require_torch()
    for T in (torch, deepdive):
        with pytest.raises(NotImplementedError, match="\"div_floor_cpu\" not implemented for 'Bool'"):
            call(T, T.tensor([True, False]), T.tensor([True]))
    check_parity(lambda a: deepdive.div(a, 2, rounding_mode="floor"), lambda a: torch.div(a, 2, rounding_mode="floor"),
                 [np.array([True, False])])


def test_cat_requires_grad_through_a_skipped_empty_tensor():
    torch = require_torch()
    check_parity(lambda a, b: deepdive.cat([a, b]), lambda a, b: torch.cat([a, b]),
                 [np.zeros(0, np.float32), (np.array([1e30], np.float32), False)])
    check_parity(lambda a, b: deepdive.cat([a, b]), lambda a, b: torch.cat([a, b]),
                 [np.zeros(0, np.float32), (np.ones((2, 2), np.float64), False)])


def test_fmod_is_exact_at_large_dividends():
    torch = require_torch()
    check_parity(torch.fmod if False else deepdive.fmod, torch.fmod,
                 [np.array([-1e30, -0.25, 7.5, -7.5, INF, 3.0], np.float32),
                  np.array([1.9772453, 1.9772453, -2.0, 2.0, 1.0, INF], np.float32)], grad=False)
    check_parity(deepdive.fmod, torch.fmod, [np.array([5.5, -7.25]), np.array([2.0, 1.5])])


@pytest.mark.parametrize("fn", [lambda T, x: T.nn.functional.hardsigmoid(x), lambda T, x: T.nn.functional.elu(x),
                                lambda T, x: T.nn.functional.celu(x), lambda T, x: T.nn.functional.selu(x)])
def test_activation_values_round_as_pytorch(fn):
    """hardsigmoid is clip(x + 3, 0, 6) / 6 (x / 6 + 0.5 rounds 1/3 down); the ELUs use expm1 (elu(-1e-15) != 0)."""
    torch = require_torch()
    x = np.array([-1.0, -1.5889708e-15, -1e-10, -2.0, 2.0, 0.0], dtype=np.float32)
    ours, ref = fn(deepdive, deepdive.tensor(x)), fn(torch, torch.tensor(x))
    np.testing.assert_array_equal(ours._data, ref.numpy())


def test_norms_of_one_element_are_its_absolute_value():
    """PyTorch's norm of one element per output is |x| (no x^2 to overflow), also inside F.normalize."""
    F, torch = deepdive.nn.functional, require_torch()
    big = np.array([[-1e30], [3e38]], dtype=np.float32)
    check_parity(lambda a: a.norm(dim=1), lambda a: a.norm(dim=1), [big])
    check_parity(lambda a: a[0].norm(), lambda a: a[0].norm(), [big])
    check_parity(lambda a: F.normalize(a, dim=1), lambda a: torch.nn.functional.normalize(a, dim=1), [big])


def test_var_and_std_of_float32_accumulate_in_float64():
    """PyTorch's CPU var/std accumulate float32 in double: std([1e30, 0, 0]) is 5.8e29 (var overflows to inf)."""
    torch = require_torch()
    x = np.array([1e30, 0.0, 0.0], dtype=np.float32)
    check_parity(lambda a: a.std(), lambda a: a.std(), [x], grad=False)
    check_parity(lambda a: a.var(), lambda a: a.var(), [x], grad=False)
    check_parity(lambda a: a.std(0), lambda a: a.std(0), [np.array([[1e-25, 1.0], [0.0, 2.0]], np.float32)])


# ------------------------------------------------ deliberate differences (the fuzzer stops at them: fuzz_programs.py)
def test_gelu_at_inf_is_a_deliberate_difference():
    """Deliberate difference (PyTorch inconsistent): PyTorch 2.13's float32 gelu gives NaN at +inf in a tensor of
    2 or more elements (its vectorized erf) and inf, the limit, for 1 element and in float64; deepdive gives inf."""
    torch = require_torch()
    assert torch.nn.functional.gelu(torch.tensor([INF])).item() == INF
    assert torch.nn.functional.gelu(torch.tensor([INF, INF], dtype=torch.float64))[0].item() == INF
    assert np.isnan(torch.nn.functional.gelu(torch.tensor([INF, 0.0]))[0].item())
    np.testing.assert_array_equal(deepdive.nn.functional.gelu(deepdive.tensor([INF, 0.0]))._data, [INF, 0.0])


def test_layer_norm_of_overflowing_rows_is_a_deliberate_difference():
    """Deliberate difference (PyTorch undefined): for float32 values whose squares overflow (|x| > 1.8e19),
    PyTorch 2.13's layer_norm / group_norm gives NaN or 0 depending on the row length and on where the element
    falls in its SIMD lanes (all NaN below 8 elements, 0 from 9, NaN again at 16 if it comes first); deepdive
    gives 0 (the variance is inf, 1 / sqrt(inf) = 0) for the finite elements."""
    torch = require_torch()
    F = deepdive.nn.functional
    row = np.array([[1e30, 0.5, -1.0]], dtype=np.float32)
    assert np.isnan(torch.nn.functional.layer_norm(torch.tensor(row), (3,)).numpy()).all()
    long_row = np.concatenate([row, np.zeros((1, 7), np.float32)], axis=1)
    assert not np.isnan(torch.nn.functional.layer_norm(torch.tensor(long_row), (10,)).numpy()).any()
    np.testing.assert_array_equal(F.layer_norm(deepdive.tensor(row), (3,))._data, [[0.0, 0.0, 0.0]])
    check_parity(lambda a: F.layer_norm(a, (10,)), lambda a: torch.nn.functional.layer_norm(a, (10,)), [long_row],
                 grad=False)


def test_argsort_ties_are_stable():
    """PyTorch's default (stable=False) order of ties is unspecified (from 17 elements it is not the input
    order); deepdive's sort is always stable, PyTorch's stable=True."""
    torch = require_torch()
    x = np.array([False] * 3 + [True] * 2 + [False] * 13)
    check_parity(lambda a: deepdive.argsort(a), lambda a: torch.argsort(a, stable=True), [x])
    check_parity(lambda a: deepdive.argsort(a, stable=False), lambda a: torch.argsort(a, stable=True), [x])


def test_matmul_of_mixed_dtypes_is_a_deliberate_difference():
    """Deliberate difference (PyTorch inconsistent): PyTorch 2.13's batched matmul skips its dtype check where
    the result is empty or the contraction has size 0 ((2, 3, 0) float32 @ (2, 0, 1) int64 is an int64 zero
    tensor) and raises otherwise; deepdive refuses mixed dtypes whatever the sizes."""
    torch = require_torch()
    assert torch.matmul(torch.ones(2, 3, 0), torch.ones(2, 0, 1, dtype=torch.int64)).dtype == torch.int64
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Long"):
        torch.matmul(torch.ones(2, 3, 3), torch.ones(2, 3, 1, dtype=torch.int64))
    for shapes in [((2, 3, 0), (2, 0, 1)), ((0, 3, 3), (0, 3, 3)), ((2, 3, 3), (2, 3, 1))]:
        with pytest.raises(RuntimeError, match="same dtype"):
            deepdive.matmul(deepdive.ones(*shapes[0]), deepdive.ones(*shapes[1], dtype=deepdive.int64))
    # bools likewise: an empty batched product of bools is an empty bool tensor in PyTorch
    assert torch.matmul(torch.ones(1, 3, 3, dtype=torch.bool), torch.ones(0, 3, 0, dtype=torch.bool)).shape == (0, 3, 0)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        deepdive.matmul(deepdive.ones(1, 3, 3, dtype=deepdive.bool), deepdive.ones(0, 3, 0, dtype=deepdive.bool))


def test_pow_backward_with_a_bool_exponent_is_a_deliberate_difference():
    """Deliberate difference, as atan2's: PyTorch 2.13's pow backward with a bool exponent raises (its formula
    computes exponent - 1 on the bool tensor); deepdive gives the gradient of x ** float(exponent)."""
    torch = require_torch()
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor"):
        t = torch.tensor([2.0, 3.0], requires_grad=True)
        (t ** torch.tensor([True, False])).sum().backward()
    x = deepdive.tensor([2.0, 3.0], requires_grad=True)
    (x ** deepdive.tensor([True, False])).sum().backward()
    np.testing.assert_array_equal(x.grad._data, [1.0, 0.0])


@pytest.mark.parametrize("g", [1.0, INF, NAN])
@pytest.mark.parametrize("fn", [lambda T, x: T.clamp(x, -1, 1), lambda T, x: T.maximum(x, x.detach() * 0 + 0.5),
                                lambda T, x: T.minimum(x.detach() * 0 + 0.5, x), lambda T, x: x.max() * T.ones(x.shape),
                                lambda T, x: T.amax(x, 0) * T.ones(x.shape), lambda T, x: T.prod(x) * T.ones(x.shape),
                                lambda T, x: T.prod(x[3:5]) * T.ones(x.shape), lambda T, x: T.prod(x[3], 0) * x,
                                lambda T, x: T.nn.functional.normalize(x.reshape(1, -1, 1), dim=2).reshape(-1),
                                lambda T, x: T.nn.functional.normalize(x[3:5].reshape(1, -1), dim=1).sum() * x])
def test_masked_derivatives_with_any_upstream_gradient(fn, g):
    """Where PyTorch's backward uses where / masked_fill (clamp, maximum, minimum, max(), the clamp in normalize)
    an inf or NaN g gives 0 to the unselected elements; amax and prod multiply (and two zeros in a full prod
    make every gradient 0; a 0-d prod passes g)."""
    from parity import assert_close
    ours, ref = _grads_with_upstream(fn, SPECIAL_X, g)
    assert_close(ours, ref, what="grad")


@pytest.mark.parametrize("fn", [lambda T, x: T.nn.functional.elu(x), lambda T, x: T.nn.functional.selu(x),
                                lambda T, x: T.nn.functional.leaky_relu(x),
                                lambda T, x: T.nn.functional.cross_entropy(x.reshape(-1, 1), T.zeros(12, dtype=T.int64)),
                                lambda T, x: T.nn.functional.cross_entropy(x[:0].reshape(0, 2), T.zeros(0, dtype=T.int64),
                                                                           reduction="sum")])
def test_signs_of_zero_as_pytorch(fn):
    """elu(-0.0) is -0.0, a zero cross entropy is +0.0 (PyTorch accumulates 0 - sum): 1 / x tells them apart."""
    torch = require_torch()
    x = np.where(np.isnan(SPECIAL_X), 0.0, SPECIAL_X).astype(np.float32)
    ours, ref = fn(deepdive, deepdive.tensor(x)), fn(torch, torch.tensor(x))
    np.testing.assert_array_equal(np.signbit(ours._data), np.signbit(ref.numpy()))


def test_derivative_at_nan_of_branchy_activations_is_a_deliberate_difference():
    """Deliberate difference (PyTorch inconsistent): the derivative of hardtanh, relu6, hardswish, elu, celu and
    selu at a NaN input depends in PyTorch 2.13 on where the element falls: its scalar tail gives g (0 for
    hardsigmoid), its vectorized body 0 (hardtanh, relu6) or NaN (hardswish, the ELUs); deepdive gives the
    scalar path's value everywhere."""
    torch = require_torch()
    for T in (torch, deepdive):
        x = T.zeros(64)
        x[0] = NAN
        x.requires_grad_(True)
        T.nn.functional.hardtanh(x).sum().backward()
        first = x.grad[0].item()
        x = T.tensor([NAN], requires_grad=True)
        T.nn.functional.hardtanh(x).sum().backward()
        assert x.grad[0].item() == 1.0 and first == (0.0 if T is torch else 1.0)


def test_normalize_of_a_0d_tensor_is_exact_and_its_gradient_zero():
    """F.normalize(x, dim=0) of a 0-d x: the norm is |x| itself (not sqrt(x*x), which rounds at 1e-8), so y = +-1 and
    dy/dx = 0 exactly, as in PyTorch (was 1 at x = 1e-8)."""
    torch = require_torch()
    for v in (1e-8, -2.5e-9, 3e-7, 0.7, 1e-30):
        x, tx = deepdive.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
        y, ty = deepdive.nn.functional.normalize(x, dim=0), torch.nn.functional.normalize(tx, dim=0)
        y.backward(), ty.backward()
        assert y.item() == ty.item() and x.grad.item() == tx.grad.item(), v


def test_fmod_of_huge_over_a_last_bit_difference_is_left_unjudged():
    """fmod(-1e30, expm1(-4)): deepdive's float32 expm1 (NumPy's kernel) and PyTorch's differ in the last bit for
    ~12% of inputs (within tolerance), and fmod multiplies that by |x / y| ~ 1e30. The fuzzer stops such a step
    unjudged; with bit-identical inputs fmod itself is exact and equal to PyTorch's."""
    torch = require_torch()
    import fuzz_programs as fp
    x = [-1e30, 0.816, 7.5]
    d_y, t_y = deepdive.tensor(-4.0).expm1(), torch.tensor(-4.0).expm1()
    assert d_y.item() != t_y.item()                                      # the one-ulp difference upstream
    d_x, t_x = deepdive.tensor(x, dtype=deepdive.float64), torch.tensor(x, dtype=torch.float64)
    assert fp._ill_conditioned_remainder("fmod", [d_x, d_y], [t_x, t_y])
    assert not fp._ill_conditioned_remainder("fmod", [t_x, t_y], [t_x, t_y])
    same_y = deepdive.tensor(t_y.item())
    np.testing.assert_array_equal(deepdive.fmod(d_x, same_y).numpy(), torch.fmod(t_x, t_y).numpy())


def test_gelu_of_a_0d_tensor():
    """F.gelu(x) of a 0-d float32 tensor raised TypeError (its fused passes wrote into NumPy scalars)."""
    torch = require_torch()
    for v in (-0.000241875, -1.186, 3.0, 0.0):
        check_parity(lambda x: deepdive.nn.functional.gelu(x), lambda x: torch.nn.functional.gelu(x),
                     [np.array(v, dtype=np.float32)])


def test_remainder_keeps_fmods_sign_at_zero():
    """remainder(0, -2.5) is +0.0 in PyTorch (fmod, then + y only where the remainder is nonzero and its sign
    differs from y's); NumPy's remainder gives -0.0 (the divisor's sign), and reciprocal then flips inf."""
    torch = require_torch()
    a = np.array([0.0, -0.0, 4.0, -4.0, 1.5, -1.5, 7.25], dtype=np.float32)
    b = np.array([-2.5, 2.0, -2.0, 2.0, -1.5, 1.5, -2.0], dtype=np.float32)
    d = deepdive.remainder(deepdive.tensor(a), deepdive.tensor(b)).numpy()
    t = torch.remainder(torch.tensor(a), torch.tensor(b)).numpy()
    assert np.array_equal(d, t) and np.array_equal(np.signbit(d), np.signbit(t))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_ignored_rows_of_an_unreduced_loss_are_plus_zero(fn):
    """reduction='none': PyTorch writes +0.0 for ignore_index rows and -(log p) (here -0.0) for the others; deepdive
    gave -0.0 for both, which atan2 / division downstream tell apart."""
    torch = require_torch()
    x = np.array([[1.0], [0.0], [0.0]], dtype=np.float32)
    t = np.array([0, -100, 0])
    d = getattr(deepdive.nn.functional, fn)(deepdive.tensor(x), deepdive.tensor(t), reduction="none").numpy()
    r = getattr(torch.nn.functional, fn)(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    assert np.array_equal(d, r) and np.array_equal(np.signbit(d), np.signbit(r))


def test_sign_of_a_tied_zero_extremum_is_a_deliberate_difference():
    """Where -0.0 and +0.0 are both the minimum (or maximum), PyTorch's result's sign depends on the kernel:
    amin keeps the first of the tied zeros and min() the last on short rows, and vector lanes reorder both on
    longer ones (below). deepdive returns NumPy's; the value compares equal either way (-0.0 == 0.0)."""
    torch = require_torch()
    a = np.ones(17)
    a[3], a[8] = -0.0, 0.0
    b = np.ones(17)
    b[0], b[1] = -0.0, 0.0
    t_amin = [torch.amin(torch.tensor(v)).item() for v in (a, b)]
    assert [math.copysign(1, v) for v in t_amin] == [1.0, -1.0]      # the first tie is -0 in both: not "first"
    for v in (a, b):
        d, t = deepdive.amin(deepdive.tensor(v)).item(), torch.amin(torch.tensor(v)).item()
        assert d == t == 0.0


def test_overflowing_products_beside_inf_in_matmul_is_a_deliberate_difference():
    """row . col = 1e30 * 1e30 + 1e30 * (-inf): exactly, inf + (-inf) = NaN, which PyTorch gives; OpenBLAS (NumPy's
    matmul) accumulates with fused multiply-adds, fma(1e30, 1e30, -inf) = -inf. Everything finite or free of
    overflowing products agrees."""
    torch = require_torch()
    a = np.array([[1e30, 1e30], [1.0, 2.0]], dtype=np.float32)
    b = np.array([[1e30, 1.0], [-np.inf, 3.0]], dtype=np.float32)
    d = deepdive.matmul(deepdive.tensor(a), deepdive.tensor(b)).numpy()
    t = torch.matmul(torch.tensor(a), torch.tensor(b)).numpy()
    assert np.isnan(t[0, 0])
    assert d[0, 0] == -np.inf or np.isnan(d[0, 0])       # -inf with OpenBLAS's FMA kernels; NaN with a BLAS without
    np.testing.assert_array_equal(d[1], t[1])


def test_div_backward_is_pytorchs_to_the_bit():
    """dz/dy of x / y is PyTorch's -g * ((x / y) / y), not -g * x / (y * y): the two round differently, and
    sum(w * x / x) at x ~ 1e-17 (two 1e16 terms that cancel) gave 2.7e8 where PyTorch gives 0."""
    torch = require_torch()
    r = np.random.default_rng(1)
    x = (r.standard_normal(4000) * 10.0 ** r.uniform(-20, 20, 4000)).astype(np.float32)
    y = (r.standard_normal(4000) * 10.0 ** r.uniform(-20, 20, 4000)).astype(np.float32)
    g = r.standard_normal(4000).astype(np.float32)
    grads = []
    for T in (deepdive, torch):
        a, b = T.tensor(x, requires_grad=True), T.tensor(y, requires_grad=True)
        (a / b).backward(T.tensor(g))
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for d, t in zip(*grads):
        np.testing.assert_array_equal(d, t)
    v = np.array([-3.582128e-17, 5.0], dtype=np.float32)
    results = []
    for T in (deepdive, torch):
        a = T.tensor(v, requires_grad=True)
        (T.tensor([0.126, 0.3]) * (a / a)).sum().backward()
        results.append(a.grad.numpy())
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("groups,weight_shape", [(4, (4, 1, 3, 3)), (2, (8, 2, 3, 3))])
def test_grouped_conv_of_an_empty_batch(groups, weight_shape):
    """conv2d(groups > 1) of a batch of 0 raised NumPy's "cannot reshape array of size 0" from the grouped
    kernel; PyTorch returns the empty output and zero gradients."""
    torch = require_torch()
    rng = np.random.default_rng(0)
    check_parity(lambda x, w, b: deepdive.nn.functional.conv2d(x, w, b, groups=groups),
                 lambda x, w, b: torch.nn.functional.conv2d(x, w, b, groups=groups),
                 [np.zeros((0, 4, 5, 5), np.float32), rng.standard_normal(weight_shape).astype(np.float32),
                  rng.standard_normal(weight_shape[0]).astype(np.float32)])
