"""The differential fuzzer's program generator: small random programs over deepdive's public API.

A program is 1-2 input tensors followed by 2-6 calls. Each call takes its tensor
arguments from the pool (the inputs and earlier results) and its other arguments
(dims, shapes, scalars, fresh index/target tensors) from hypothesis, so a failing
program shrinks to a short reproducer. The same program runs on ``deepdive`` and
on ``torch`` (the ``T`` argument of every op), and each step compares:

* raise vs raise (both raising is agreement; one raising is a mismatch),
* values (NaN == NaN, inf == inf), dtype, shape and ``requires_grad``,
* at the end, the gradient of every input through ``sum(out * w)``.

Each mismatch is raised as its own exception class (one per op and kind), so
hypothesis reports every distinct failure class with its own minimized program.
"""
import re

import numpy as np
from hypothesis import strategies as st

from deepdive.ops._errors import is_from_numpy
from parity import assert_close, to_numpy

DTYPES = ["float32", "float64", "int64", "bool"]
FLOAT_DTYPES = ["float32", "float64"]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, float("inf"), -float("inf"), float("nan"), 1e30, -1e30]


# ---------------------------------------------------------------- inputs
@st.composite
def shapes(draw, min_dims=0, max_dims=3, min_side=0, max_side=3):
    return tuple(draw(st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims)))


@st.composite
def arrays(draw, shape=None, dtype=None, special=True):
    shape = draw(shapes()) if shape is None else shape
    dtype = draw(st.sampled_from(DTYPES)) if dtype is None else dtype
    n = int(np.prod(shape))
    if dtype == "bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype == "int64":
        values = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    else:
        finite = st.floats(-3, 3, allow_nan=False, width=32)
        values = draw(st.lists(st.one_of(finite, st.sampled_from(SPECIAL)) if special else finite,
                               min_size=n, max_size=n))
    return np.array(values, dtype=dtype).reshape(shape)


def dim_of(ndim, allow_none=False):
    """A valid dim of a tensor with ``ndim`` dims (0-d tensors accept dim 0 and -1, as in PyTorch)."""
    n = max(ndim, 1)
    dims = st.integers(-n, n - 1)
    return st.one_of(st.none(), dims) if allow_none else dims


# ---------------------------------------------------------------- ops
class Op:
    """One public call: ``params(draw, *args)`` draws its non-tensor arguments, ``run(T, *args, **p)`` calls it."""

    def __init__(self, name, arity, run, params=None, floats_only=False):
        self.name, self.arity, self.run, self.floats_only = name, arity, run, floats_only
        self.params = params or (lambda draw, *shapes_dtypes: {})


def _cast_float(T, x):
    return x if x.dtype in (T.float32, T.float64) else x.float()


def _f(fn):
    """Run ``fn`` on a floating input (ints and bools are cast first, as a user would)."""
    return lambda T, x, **p: fn(T, _cast_float(T, x), **p)


def _fresh(shape, dtype, special=False):
    return st.builds(lambda a: ("fresh", a), arrays(shape=shape, dtype=dtype, special=special))


def _dim(draw, x, allow_none=False):
    return draw(dim_of(len(x.shape), allow_none))


def _scalar(draw):
    return draw(st.sampled_from([2, -1, 0, 1.5, -0.5, True, 3]))


UNARY = ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "floor", "ceil", "round", "trunc",
         "sign", "square", "reciprocal", "rsqrt", "erf", "expm1", "log1p", "logical_not", "isnan", "isinf",
         "isfinite", "nan_to_num", "relu", "frac", "sinh", "atan", "log2"]
ACTIVATIONS = ["gelu", "silu", "softplus", "relu6", "hardtanh", "softsign", "leaky_relu", "elu", "mish",
               "hardsigmoid", "hardswish", "logsigmoid", "tanhshrink", "selu", "celu"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "eq", "ne", "lt", "ge",
          "logical_and", "logical_or", "remainder", "fmod", "xlogy"]
REDUCE = ["sum", "mean", "prod", "amax", "amin", "nansum", "all", "any"]
REDUCE_ARG = ["argmax", "argmin"]


def _unary(name):
    return Op(name, 1, lambda T, x: getattr(T, name)(x))


def _activation(name):
    return Op("F." + name, 1, lambda T, x: getattr(T.nn.functional, name)(x))


def _binary(name):
    return Op(name, 2, lambda T, x, y: getattr(T, name)(x, y))


def _reduce(name):
    def params(draw, x):
        dim = _dim(draw, x, allow_none=True)
        return {} if dim is None else {"dim": dim, "keepdim": draw(st.booleans())}
    return Op(name, 1, lambda T, x, **p: getattr(T, name)(x, **p), params)


def _index_tensor(draw, x, dim):
    size = x.shape[dim] if len(x.shape) else 1
    n = draw(st.integers(0, 3))
    return ("fresh", np.array(draw(st.lists(st.integers(-size, max(size - 1, 0)) if size else st.just(0),
                                            min_size=n, max_size=n)), dtype=np.int64))


def _gather_params(draw, x):
    dim = _dim(draw, x)
    shape = tuple(draw(st.integers(0, s)) if i != (dim % max(len(x.shape), 1)) else draw(st.integers(0, 3))
                  for i, s in enumerate(x.shape))
    size = x.shape[dim] if len(x.shape) else 1
    index = np.array(draw(st.lists(st.integers(0, max(size - 1, 0)), min_size=int(np.prod(shape)),
                                   max_size=int(np.prod(shape)))), dtype=np.int64).reshape(shape)
    return {"dim": dim, "index": ("fresh", index)}


def _reshape_params(draw, x):
    n = int(np.prod(x.shape))
    options = [(-1,), (n,), (1, -1), (-1, 1)] + ([(0, -1)] if n == 0 else [])
    return {"shape": draw(st.sampled_from(options))}


def _permute_params(draw, x):
    return {"dims": tuple(draw(st.permutations(range(len(x.shape)))))}


def _cat_params(draw, x):
    other = list(x.shape)
    dim = _dim(draw, x)
    if other:
        other[dim] = draw(st.integers(0, 2))
    return {"dim": dim, "other": ("fresh", draw(arrays(shape=tuple(other), dtype=draw(st.sampled_from(DTYPES)))))}


def _cross_entropy_params(draw, x):
    # x: (N, C) logits; target indices in [0, C) or ignore_index=-100
    c = x.shape[1] if len(x.shape) == 2 else 0
    n = x.shape[0] if len(x.shape) == 2 else 0
    target = draw(st.lists(st.integers(0, c - 1) if c else st.just(-100), min_size=n, max_size=n))
    if c and n:
        target = [t if draw(st.booleans()) else -100 for t in target] if draw(st.booleans()) else target
    return {"target": ("fresh", np.array(target, dtype=np.int64)),
            "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


def _same_shape_params(dtype="float32"):
    return lambda draw, x: {"target": draw(_fresh(tuple(x.shape), dtype))}


def _linear_params(draw, x):
    in_f = x.shape[-1] if len(x.shape) else 1
    out_f = draw(st.integers(0, 3))
    return {"weight": draw(_fresh((out_f, in_f), "float32")),
            "bias": draw(st.one_of(st.none(), _fresh((out_f,), "float32")))}


def _layer_norm_params(draw, x):
    return {"normalized_shape": tuple(x.shape[-1:])}


def _einsum_params(draw, x):
    return {"other": ("fresh", draw(arrays(shape=tuple(x.shape), dtype=draw(st.sampled_from(FLOAT_DTYPES)),
                                          special=False)))}


def _need(ndim):
    """Guard for ops defined on a given number of dims: others are skipped (the call is not made)."""
    def check(x):
        return len(x.shape) == ndim
    return check


OPS = (
    [_unary(n) for n in UNARY] + [_activation(n) for n in ACTIVATIONS]
    + [_binary(n) for n in BINARY] + [_reduce(n) for n in REDUCE]
    + [
        Op("clamp", 1, lambda T, x, **p: T.clamp(x, **p),
           lambda draw, x: {"min": draw(st.sampled_from([None, -1, 0.5, 0])), "max": draw(st.sampled_from([1, 2.5]))}),
        Op("F.threshold", 1, _f(lambda T, x, **p: T.nn.functional.threshold(x, **p)),
           lambda draw, x: {"threshold": 0.5, "value": -3.0}),
        Op("div_mode", 2, lambda T, x, y, **p: T.div(x, y, **p),
           lambda draw, x, y: {"rounding_mode": draw(st.sampled_from(["floor", "trunc"]))}),
        Op("add_scalar", 1, lambda T, x, **p: x + p["s"], lambda draw, x: {"s": _scalar(draw)}),
        Op("mul_scalar", 1, lambda T, x, **p: x * p["s"], lambda draw, x: {"s": _scalar(draw)}),
        Op("pow_scalar", 1, lambda T, x, **p: x ** p["s"], lambda draw, x: {"s": draw(st.sampled_from([2, 0.5, -1, 3]))}),
        Op("rpow_scalar", 1, lambda T, x, **p: p["s"] ** x, lambda draw, x: {"s": draw(st.sampled_from([2, 0.5]))}),
        Op("rsub_scalar", 1, lambda T, x, **p: p["s"] - x, lambda draw, x: {"s": _scalar(draw)}),
        Op("where", 3, lambda T, c, x, y: T.where(c > 0, x, y)),
        Op("where1", 1, lambda T, x: T.where(x)),
        Op("nonzero_tuple", 1, lambda T, x: T.nonzero(x, as_tuple=True)),
        Op("nonzero", 1, lambda T, x: T.nonzero(x)),
        Op("max_dim", 1, lambda T, x, **p: T.max(x, **p),
           lambda draw, x: {"dim": _dim(draw, x), "keepdim": draw(st.booleans())}),
        Op("min_dim", 1, lambda T, x, **p: T.min(x, **p),
           lambda draw, x: {"dim": _dim(draw, x), "keepdim": draw(st.booleans())}),
        Op("max", 1, lambda T, x: T.max(x)),
        Op("logsumexp", 1, lambda T, x, **p: T.logsumexp(x, **p),
           lambda draw, x: {"dim": _dim(draw, x), "keepdim": draw(st.booleans())}),
        Op("argmax", 1, lambda T, x, **p: T.argmax(x, **p), lambda draw, x: {"dim": _dim(draw, x, True)}),
        Op("var", 1, _f(lambda T, x, **p: T.var(x, **p)),
           lambda draw, x: {"dim": _dim(draw, x, True), "correction": draw(st.sampled_from([0, 1, 2]))}),
        Op("std", 1, _f(lambda T, x, **p: T.std(x, **p)),
           lambda draw, x: {"dim": _dim(draw, x, True), "correction": draw(st.sampled_from([0, 1]))}),
        Op("cumsum", 1, lambda T, x, **p: T.cumsum(x, **p), lambda draw, x: {"dim": _dim(draw, x)}),
        Op("norm", 1, _f(lambda T, x, **p: x.norm(p=p["ord"])),
           lambda draw, x: {"ord": draw(st.sampled_from([2, 1, float("inf")]))}),
        Op("reshape", 1, lambda T, x, **p: x.reshape(*p["shape"]), _reshape_params),
        Op("flatten", 1, lambda T, x: T.flatten(x)),
        Op("permute", 1, lambda T, x, **p: x.permute(p["dims"]), _permute_params),
        Op("transpose", 1, lambda T, x, **p: T.transpose(x, p["a"], p["b"]),
           lambda draw, x: {"a": _dim(draw, x), "b": _dim(draw, x)}),
        Op("unsqueeze", 1, lambda T, x, **p: T.unsqueeze(x, p["dim"]),
           lambda draw, x: {"dim": draw(st.integers(-len(x.shape) - 1, len(x.shape)))}),
        Op("squeeze", 1, lambda T, x, **p: T.squeeze(x, **p), lambda draw, x: {"dim": _dim(draw, x)}),
        Op("flip", 1, lambda T, x, **p: T.flip(x, p["dims"]), lambda draw, x: {"dims": (_dim(draw, x),)}),
        Op("cat", 1, lambda T, x, **p: T.cat([x, p["other"]], dim=p["dim"]), _cat_params),
        Op("stack", 2, lambda T, x, y, **p: T.stack([x, x], dim=p["dim"]),
           lambda draw, x, y: {"dim": draw(st.integers(-len(x.shape) - 1, len(x.shape)))}),
        Op("repeat", 1, lambda T, x, **p: x.repeat(*p["r"]),
           lambda draw, x: {"r": tuple(draw(st.integers(0, 2)) for _ in range(len(x.shape))) + (2,)}),
        Op("chunk0", 1, lambda T, x, **p: T.chunk(x, 2, dim=p["dim"])[0], lambda draw, x: {"dim": _dim(draw, x)}),
        Op("getitem_int", 1, lambda T, x, **p: x[p["i"]],
           lambda draw, x: {"i": draw(st.integers(-1, 0))}),
        Op("getitem_slice", 1, lambda T, x: x[..., 1:]),
        Op("getitem_tensor", 1, lambda T, x, **p: x[p["index"]], lambda draw, x: {"index": _index_tensor(draw, x, 0)}),
        Op("getitem_split", 1, lambda T, x, **p: x[p["index"], :, p["index"]],
           lambda draw, x: {"index": ("fresh", np.zeros(draw(st.integers(0, 2)), dtype=np.int64))}),
        Op("getitem_mask", 1, lambda T, x: x[x > 0]),
        Op("index_select", 1, lambda T, x, **p: T.index_select(x, p["dim"], p["index"]),
           lambda draw, x: (lambda d: {"dim": d, "index": _index_tensor(draw, x, d)})(_dim(draw, x))),
        Op("gather", 1, lambda T, x, **p: T.gather(x, p["dim"], p["index"]), _gather_params),
        Op("take_along_dim", 1, lambda T, x, **p: T.take_along_dim(x, p["index"], dim=p["dim"]), _gather_params),
        Op("masked_fill", 1, lambda T, x, **p: x.masked_fill(x > 0, p["v"]),
           lambda draw, x: {"v": draw(st.sampled_from([0.0, -1, float("-inf")]))}),
        # stable: PyTorch's default order of ties is unspecified (test_argsort_ties_are_stable)
        Op("sort", 1, lambda T, x, **p: T.sort(x, dim=p["dim"], descending=p["d"], stable=True)[0],
           lambda draw, x: {"dim": _dim(draw, x), "d": draw(st.booleans())}),
        Op("argsort", 1, lambda T, x, **p: T.argsort(x, dim=p["dim"], stable=True),
           lambda draw, x: {"dim": _dim(draw, x)}),
        Op("unique", 1, lambda T, x: T.unique(x)),
        Op("matmul", 2, lambda T, x, y: T.matmul(x, y)),
        Op("matmul_t", 1, lambda T, x: T.matmul(x, x.transpose(-1, -2)) if len(x.shape) >= 2 else T.matmul(x, x)),
        # one dtype: see test_einsum_with_mixed_dtypes_is_a_deliberate_difference
        Op("einsum", 1, _f(lambda T, x, **p: T.einsum("...i,...i->...", x, p["other"].to(x.dtype))),
           _einsum_params),
        # integer inputs: see test_softmax_of_an_empty_integer_tensor_is_a_deliberate_difference
        Op("softmax", 1, _f(lambda T, x, **p: T.softmax(x, dim=p["dim"])), lambda draw, x: {"dim": _dim(draw, x)}),
        Op("log_softmax", 1, _f(lambda T, x, **p: T.log_softmax(x, dim=p["dim"])),
           lambda draw, x: {"dim": _dim(draw, x)}),
        Op("F.mse_loss", 1, _f(lambda T, x, **p: T.nn.functional.mse_loss(x, p["target"])), _same_shape_params()),
        Op("F.l1_loss", 1, _f(lambda T, x, **p: T.nn.functional.l1_loss(x, p["target"])), _same_shape_params()),
        Op("F.smooth_l1_loss", 1, _f(lambda T, x, **p: T.nn.functional.smooth_l1_loss(x, p["target"])),
           _same_shape_params()),
        Op("F.bce_with_logits", 1, _f(lambda T, x, **p: T.nn.functional.binary_cross_entropy_with_logits(
            x, p["target"].to(x.dtype))), _same_shape_params()),
        Op("F.cross_entropy", 1, _f(lambda T, x, **p: T.nn.functional.cross_entropy(x, **p)),
           _cross_entropy_params),
        Op("F.linear", 1, _f(lambda T, x, **p: T.nn.functional.linear(x, **p)), _linear_params),
        Op("F.layer_norm", 1, _f(lambda T, x, **p: T.nn.functional.layer_norm(x, **p)), _layer_norm_params),
        Op("F.normalize", 1, _f(lambda T, x, **p: T.nn.functional.normalize(x, dim=p["dim"])),
           lambda draw, x: {"dim": _dim(draw, x)}),
        Op("F.pad", 1, lambda T, x, **p: T.nn.functional.pad(x, p["pad"]),
           lambda draw, x: {"pad": (draw(st.integers(0, 2)), draw(st.integers(0, 2)))}),
        Op("F.dropout_eval", 1, _f(lambda T, x: T.nn.functional.dropout(x, 0.5, training=False))),
        Op("xlogy", 2, lambda T, x, y: T.xlogy(x, y)),
        Op("F.group_norm", 1, _f(lambda T, x: T.nn.functional.group_norm(x, 1))),
        Op("F.batch_norm_eval", 1, _f(lambda T, x: T.nn.functional.batch_norm(
            x, T.zeros(x.shape[1], dtype=x.dtype), T.ones(x.shape[1], dtype=x.dtype), training=False)
                                        if len(x.shape) >= 2 else x * 1)),
        Op("F.max_pool1d_indices", 1, _f(lambda T, x: T.nn.functional.max_pool1d(x, 1, return_indices=True)
                                          if len(x.shape) == 3 else (x * 1, x))),
        Op("F.adaptive_avg_pool1d", 1, _f(lambda T, x: T.nn.functional.adaptive_avg_pool1d(x, 1)
                                           if len(x.shape) == 3 else x * 1)),
        Op("setitem", 1, lambda T, x, **p: _setitem(x * 1, p["v"]), lambda draw, x: {"v": draw(st.sampled_from([0, 2.5]))}),
        Op("float", 1, lambda T, x: x.float()),
        Op("double", 1, lambda T, x: x.double()),
        Op("long", 1, lambda T, x: x.long()),
        Op("detach", 1, lambda T, x: x.detach()),
    ]
)
OPS_BY_NAME = {op.name: op for op in OPS}


def _setitem(x, value):
    x[...] = value
    return x


# ---------------------------------------------------------------- running a program
class FuzzMismatch(AssertionError):
    """Base of the per-class mismatch exceptions."""


_CLASSES = {}


def mismatch(op, kind, detail):
    """Raise ``detail`` as the exception class of (op, kind), so hypothesis tells classes apart."""
    key = re.sub(r"\W", "_", f"{op}__{kind}")
    cls = _CLASSES.get(key)
    if cls is None:
        cls = _CLASSES[key] = type(f"Fuzz_{key}", (FuzzMismatch,), {})
    raise cls(f"{op}: {kind}: {detail}")


def _unwrap(result):
    """The tensor a call returns (the first of a tuple, e.g. ``max(dim=)``'s values)."""
    if isinstance(result, (tuple, list)):
        return result[0] if len(result) else None
    return result


def _is_tensor(x, T):
    return isinstance(x, T.Tensor)


def _realize(value, T):
    """A drawn ``("fresh", array)`` as a new tensor of framework ``T`` (no grad)."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "fresh":
        return T.tensor(value[1].copy())
    return value


def compare(op, dd, ref, torch, low=False):
    """Values, dtype, shape and requires_grad of one step's outputs.

    ``low``: the result depends on a float32 value, so a float64 result is compared at float32's tolerance
    (a float32 exp that rounds one ulp apart, cast to float64, is not a float64 mismatch).
    """
    dd_items = dd if isinstance(dd, (tuple, list)) else (dd,)
    ref_items = ref if isinstance(ref, (tuple, list)) else (ref,)
    if len(dd_items) != len(ref_items):
        mismatch(op, "n_outputs", f"{len(dd_items)} outputs vs torch's {len(ref_items)}")
    for i, (a, b) in enumerate(zip(dd_items, ref_items)):
        if not isinstance(b, torch.Tensor):
            continue
        if str(a.dtype).split(".")[-1] != str(b.dtype).split(".")[-1]:
            mismatch(op, "dtype", f"output {i} dtype {a.dtype} != torch's {b.dtype}")
        if tuple(a.shape) != tuple(b.shape):
            mismatch(op, "shape", f"output {i} shape {tuple(a.shape)} != torch's {tuple(b.shape)}")
        if a.requires_grad != b.requires_grad:
            mismatch(op, "requires_grad", f"output {i} requires_grad {a.requires_grad} != torch's {b.requires_grad}")
        try:
            assert_close(a, b, dtype="float32" if low and b.dtype == torch.float64 else None, what=f"output {i}")
        except AssertionError as e:
            mismatch(op, "value", str(e))


def run_program(program, torch, deepdive):
    """Run ``program`` (inputs, steps) in both frameworks, raising a ``FuzzMismatch`` on any difference."""
    inputs, steps = program
    pools = {}
    leaves = {}
    records = []     # (op_name, arg_idx, params, index of its result in the pools), for _local_root
    low = []         # per pool slot: whether it depends on a float32 value (see compare)
    for name, T in (("dd", deepdive), ("torch", torch)):
        tensors = []
        for array, rg in inputs:
            t = T.tensor(array.copy(), requires_grad=rg)
            tensors.append(t)
        leaves[name] = list(tensors)
        pools[name] = list(tensors)
    low = [a.dtype != np.float64 for a, _ in inputs]      # ints and bools become float32 when cast
    for op_name, arg_idx, params in steps:
        op = OPS_BY_NAME[op_name]
        outs, errors = {}, {}
        for name, T in (("dd", deepdive), ("torch", torch)):
            args = [pools[name][i] for i in arg_idx]
            p = {k: _realize(v, T) for k, v in params.items()}
            try:
                outs[name] = op.run(T, *args, **p)
            except Exception as e:   # noqa: BLE001 - any error is compared with torch's
                errors[name] = e
        if "dd" in errors and is_from_numpy(errors["dd"]):
            e = errors["dd"]
            mismatch(op_name, "raw_numpy_error", f"{type(e).__name__}: {e}")
        if errors.keys() == {"dd", "torch"}:
            continue
        if _documented_difference(op_name, [pools["torch"][i] for i in arg_idx], outs.get("torch"), errors, torch):
            return
        if _empty_kernel_skip(errors, op, pools, arg_idx, outs, deepdive):
            low.extend([True] * (len(pools["torch"]) - len(low)))
            continue
        if errors:
            who = next(iter(errors))
            e = errors[who]
            kind = "only_deepdive_raises" if who == "dd" else "only_torch_raises"
            mismatch(op_name, kind, f"{type(e).__name__}: {e}")
        step_low = any(low[i] for i in arg_idx) or any(
            isinstance(v, tuple) and len(v) == 2 and v[0] == "fresh" and v[1].dtype != np.float64
            for v in params.values())
        if _cancelling_sum(op_name, [pools["torch"][i] for i in arg_idx], outs["dd"], outs["torch"], torch):
            return
        if _ill_conditioned_remainder(op_name, [pools["dd"][i] for i in arg_idx], [pools["torch"][i] for i in arg_idx]):
            return
        compare(op_name, outs["dd"], outs["torch"], torch, step_low)
        dd_t, torch_t = _unwrap(outs["dd"]), _unwrap(outs["torch"])
        if _is_tensor(torch_t, torch) and _is_tensor(dd_t, deepdive):
            pools["dd"].append(dd_t)
            pools["torch"].append(torch_t)
            low.append(step_low or torch_t.dtype != torch.float64)
            records.append((op_name, arg_idx, params, len(pools["torch"]) - 1))
    _compare_grads(steps, pools, leaves, torch, deepdive, records, any(low))


# Ops whose value is a sum of many input values: where 1e30-scale inputs cancel, what is left is rounding
# noise whose value depends on the summation order (not a mismatch; the program stops there, unjudged).
_SUMMING_OPS = ("sum", "mean", "nansum", "cumsum", "matmul", "matmul_t", "einsum", "F.linear", "var", "std",
                "norm", "logsumexp", "F.mse_loss", "F.l1_loss", "F.smooth_l1_loss", "F.bce_with_logits",
                "F.cross_entropy", "F.batch_norm_eval", "F.layer_norm", "F.group_norm", "F.normalize",
                "softmax", "log_softmax", "F.adaptive_avg_pool1d")


def _cancelling_sum(op_name, args, dd, ref, torch):
    """True where a summing op's results differ by no more than the rounding bound of its inputs' magnitudes,
    n * eps * max|x| (with |x| up to 1e30, summation order alone moves the result by ~1e14)."""
    if op_name not in _SUMMING_OPS or not args:
        return False
    a, b = _unwrap(dd), _unwrap(ref)
    if not (isinstance(b, torch.Tensor) and b.dtype.is_floating_point and tuple(a.shape) == tuple(b.shape)):
        return False
    finite = [t.detach().double().abs()[t.detach().isfinite()] for t in args if t.dtype.is_floating_point]
    finite = [f for f in finite if f.numel()]
    if not finite:
        return False
    scale = max(float(f.max()) for f in finite) * max(t.numel() for t in args)
    if scale < 1e6:
        return False
    eps = float(torch.finfo(b.dtype).eps)
    x, y = to_numpy(a).astype(np.float64), b.detach().double().numpy()
    both = np.isfinite(x) & np.isfinite(y)
    if np.array_equal(np.isfinite(x), np.isfinite(y)) and np.allclose(x[both], y[both], rtol=1e-5, atol=1e-4):
        return False              # they agree: judge the step as usual
    return bool(both.any()) and np.array_equal(np.isnan(x), np.isnan(y)) and \
        bool(np.all(np.abs(x[both] - y[both]) <= 4 * eps * scale))


_NAN_SIMD_OPS = ("F.relu6", "F.hardtanh", "F.hardswish", "F.elu", "F.celu", "F.selu")


def _ill_conditioned_remainder(op_name, dd_args, torch_args):
    """True where fmod/remainder get inputs that differ in their last bits (from earlier float steps, within
    tolerance: e.g. float32 expm1, whose NumPy and PyTorch kernels differ by an ulp) and |x / y| > 1e4: the
    result then moves by |x / y| times that difference (fmod(1e30, y) is all rounding noise), so the program
    stops there, unjudged. With bit-identical inputs the step is judged as usual."""
    if op_name not in ("fmod", "remainder") or len(dd_args) != 2:
        return False
    a, b = (np.asarray(_to_numpy_any(t), dtype=np.float64) for t in torch_args)
    same = all(np.array_equal(np.asarray(_to_numpy_any(d)), np.asarray(_to_numpy_any(t)), equal_nan=True)
               for d, t in zip(dd_args, torch_args))
    if same:
        return False
    with np.errstate(all="ignore"):
        ratio = np.abs(a) / np.abs(b)
    return bool(np.any(np.isfinite(ratio) & (ratio > 1e4)))


def _to_numpy_any(t):
    t = t.detach() if hasattr(t, "detach") else t
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


_EXTREMA = ("amax", "amin", "max", "min_dim", "max_dim")


def _documented_difference(op_name, args, ref, errors, torch):
    """True where a step meets a documented deliberate difference (the program stops there, unjudged):

    * F.gelu of +inf in a float32 tensor of 2 or more elements: PyTorch's vectorized erf gives NaN, its scalar
      path (and float64) the limit inf, which deepdive gives (test_gelu_at_inf_is_a_deliberate_difference);
    * F.layer_norm / F.group_norm of float32 values whose squares overflow (|x| > 1.8e19): PyTorch's NaN or 0
      depends on the row length and the element's place in its SIMD lanes
      (test_layer_norm_of_overflowing_rows_is_a_deliberate_difference);
    * matmul of two dtypes: PyTorch's batched kernel skips its dtype check where the result is empty or the
      contraction has size 0; deepdive refuses mixed dtypes whatever the sizes
      (test_matmul_of_mixed_dtypes_is_a_deliberate_difference);
    * long() of values outside int64 (inf, NaN, 1e30): undefined in PyTorch
      (test_out_of_range_float_to_int_is_undefined_in_pytorch);
    * the derivative of the _NAN_SIMD_OPS at a NaN input: in PyTorch it depends on whether the element falls
      in the vectorized body or the scalar tail of its kernel
      (test_derivative_at_nan_of_branchy_activations_is_a_deliberate_difference);
    * the sign of a zero minimum/maximum where -0.0 and +0.0 tie: PyTorch's amin keeps the first, its min the
      last, and its vector lanes reorder both in longer rows; deepdive gives NumPy's
      (test_sign_of_a_tied_zero_extremum_is_a_deliberate_difference);
    * a matrix product whose float products overflow next to an infinity: OpenBLAS's kernels accumulate with
      fused multiply-adds, which never round a product (fma(1e30, 1e30, -inf) = -inf), where PyTorch's round
      it to inf first (inf - inf = NaN) (test_overflowing_products_beside_inf_in_matmul_is_a_deliberate_difference).
    """
    if op_name == "matmul" and set(errors) == {"dd"}:
        if "same dtype" in str(errors["dd"]):
            return len({a.dtype for a in args}) > 1
        # (bool operands: deepdive refuses them whatever the sizes, PyTorch only where its kernel runs)
        return isinstance(errors["dd"], NotImplementedError) and _unwrap(ref).numel() == 0
    if ref is None or not args:
        return False
    x = args[0]
    if op_name in ("matmul", "matmul_t", "einsum", "F.linear"):
        floats = [a.detach() for a in args if hasattr(a, "dtype") and a.dtype.is_floating_point and a.numel()]
        if floats and any(bool(a.isinf().any()) for a in floats):
            limit = 1.8e19 if any(a.dtype != torch.float64 for a in floats) else 1.3e154   # sqrt of the max float
            return any(bool((a.isfinite() & (a.abs() > limit)).any()) for a in floats)
    if op_name in _EXTREMA and x.dtype.is_floating_point:
        zeros = x.detach()[x.detach() == 0]
        return bool(zeros.signbit().any() and (~zeros.signbit()).any())
    if op_name == "long" and x.dtype.is_floating_point:
        return bool((~(x.detach().abs() < 2.0 ** 63)).any())
    if op_name in _NAN_SIMD_OPS and x.dtype.is_floating_point and x.requires_grad:
        return x.numel() >= 4 and bool(x.detach().isnan().any())
    if x.dtype != torch.float32:
        return False
    if op_name == "F.gelu":
        return x.numel() >= 2 and bool((x == float("inf")).any())
    if op_name in ("F.layer_norm", "F.group_norm"):
        return bool((x.detach().abs() > 1.8e19).any())
    return False


def _empty_kernel_skip(errors, op, pools, arg_idx, outs, deepdive):
    """The documented deliberate difference: deepdive refuses a dtype (NotImplementedError) whatever the size,
    where PyTorch, running no kernel on zero elements, returns an empty result
    (test_softmax_of_an_empty_integer_tensor_is_a_deliberate_difference). The program goes on with torch's result."""
    e = errors.get("dd")
    if set(errors) != {"dd"} or not isinstance(e, NotImplementedError):
        return False
    if any(pools["torch"][i].numel() for i in arg_idx):
        return False
    ref = _unwrap(outs["torch"])
    if hasattr(ref, "detach"):
        pools["dd"].append(deepdive.tensor(ref.detach().numpy().copy()))
        pools["torch"].append(ref)
    return True


# PyTorch's derivative formulas of atan2 (-other) and pow (exponent - 1) fail on a bool operand; deepdive gives
# the gradient through float(other) (test_atan2_backward_with_a_bool_operand_is_a_deliberate_difference).
_BOOL_DERIVATIVE = re.compile(r"(Negation|Subtraction), the `-` operator, (on|with) a bool tensor is not supported")


def _compare_grads(steps, pools, leaves, torch, deepdive, records=(), low=False):
    """Backward of sum(out * w) over the last result that requires grad; compare the inputs' gradients.

    A gradient mismatch is named after the step that causes it (``_local_root``), not the last one,
    so one wrong derivative is one class whatever the ops that follow it."""
    last = None
    for i in range(len(pools["torch"]) - 1, len(leaves["torch"]) - 1, -1):
        if pools["torch"][i].requires_grad and pools["torch"][i].dtype in (torch.float32, torch.float64):
            last = i
            break
    if last is None:
        return
    op_names = "+".join(s[0] for s in steps)
    ref, dd = pools["torch"][last], pools["dd"][last]
    w = np.random.default_rng(0).standard_normal(tuple(ref.shape)).astype(to_numpy(ref).dtype)
    for t in pools["torch"][len(leaves["torch"]):]:
        if t.requires_grad:
            t.retain_grad()
    errors = {}
    for name, T, out in (("dd", deepdive, dd), ("torch", torch, ref)):
        try:
            (out * T.tensor(w)).sum().backward()
        except Exception as e:   # noqa: BLE001
            errors[name] = e
    if len(errors) == 1:
        who, e = next(iter(errors.items()))
        if who == "torch" and _BOOL_DERIVATIVE.search(str(e)):
            return
        mismatch(steps[-1][0], f"backward_only_{who}_raises", f"{op_names}: {type(e).__name__}: {e}")
    if errors:
        return
    for k, (a, b) in enumerate(zip(leaves["dd"], leaves["torch"])):
        if not b.requires_grad:
            continue
        if b.grad is None:
            if a.grad is not None and np.any(to_numpy(a.grad)):
                mismatch(steps[-1][0], "grad_where_torch_has_none", f"{op_names}: input {k}")
            continue
        if a.grad is None:
            if np.any(to_numpy(b.grad)):
                mismatch(steps[-1][0], "no_grad_where_torch_has_one", f"{op_names}: input {k}")
            continue
        try:
            assert_close(a.grad, b.grad, dtype="float32" if low and b.dtype == torch.float64 else None,
                         what=f"grad of input {k}")
        except AssertionError as e:
            root = _local_root(records, pools["torch"], torch, deepdive)
            if root is None:
                mismatch(steps[-1][0], "grad", f"{op_names}: {e}")
            mismatch(root[0], "grad", f"{op_names}: {root[1]}\n(at the end: {e})")


def _local_root(records, pool, torch, deepdive):
    """The first step whose own backward differs: ``(op_name, detail)``, or None.

    Each step is rerun in both frameworks on torch's inputs (as fresh leaves) and backpropagated
    with the gradient torch's run had at its result, so a difference upstream or downstream of it
    does not count. None when every step agrees alone (the mismatch is in how they combine)."""
    for op_name, arg_idx, params, out_index in records:
        upstream = pool[out_index].grad
        if upstream is None:
            continue
        g = upstream.detach().numpy().copy()
        op = OPS_BY_NAME[op_name]
        local = {}
        for name, T in (("dd", deepdive), ("torch", torch)):
            args = []
            for i in arg_idx:
                t = T.tensor(pool[i].detach().numpy().copy())
                if pool[i].requires_grad and pool[i].dtype in (torch.float32, torch.float64):
                    t.requires_grad_(True)
                args.append(t)
            try:
                out = _unwrap(op.run(T, *args, **{k: _realize(v, T) for k, v in params.items()}))
                (out * T.tensor(g)).sum().backward()
            except Exception:   # noqa: BLE001 - a step that cannot rerun alone is not the root
                local = None
                break
            local[name] = args
        if local is None:
            continue
        for k, (a, b) in enumerate(zip(local["dd"], local["torch"])):
            if b.grad is None or a.grad is None:
                continue
            try:
                assert_close(a.grad, b.grad, what=f"grad of its input {k}")
            except AssertionError as e:
                inputs = ", ".join(f"{to_numpy(pool[i]).tolist()} ({pool[i].dtype})" for i in arg_idx)
                return op_name, f"{op_name} on {inputs}, upstream grad {g.tolist()}: {e}"
    return None


@st.composite
def programs(draw):
    """Inputs as ``[(array, requires_grad)]`` and steps as ``[(op_name, arg_indices, params)]``.

    Parameters are drawn from the shapes that torch's run will see; to know them the
    program is generated against a shape-only trace (a NumPy stand-in per pool slot)
    updated by running each step in torch as it is drawn.
    """
    import torch
    n_inputs = draw(st.integers(1, 2))
    inputs = []
    for _ in range(n_inputs):
        array = draw(arrays())
        inputs.append((array, array.dtype.kind == "f" and draw(st.booleans())))
    pool = [torch.tensor(a.copy(), requires_grad=rg) for a, rg in inputs]
    steps = []
    for _ in range(draw(st.integers(2, 6))):
        op = draw(st.sampled_from(OPS))
        arg_idx = tuple(draw(st.integers(0, len(pool) - 1)) for _ in range(op.arity))
        args = [pool[i] for i in arg_idx]
        params = op.params(draw, *args)
        steps.append((op.name, arg_idx, params))
        try:
            out = _unwrap(op.run(torch, *args, **{k: _realize(v, torch) for k, v in params.items()}))
        except Exception:   # noqa: BLE001 - a raising step adds nothing to the pool
            continue
        if isinstance(out, torch.Tensor):
            pool.append(out)
    return inputs, steps


def format_program(program):
    """A program as the few lines of PyTorch a user would write (the minimized reproducer)."""
    inputs, steps = program
    def tensor(a):     # an empty array by its shape: tolist() loses it ([[]] for (1, 0, 2))
        return (f"torch.tensor({a.tolist()!r}, dtype=torch.{a.dtype}" if a.size else
                f"torch.empty({a.shape}, dtype=torch.{a.dtype}").replace("nan", "float('nan')").replace(
                    "inf", "float('inf')")

    lines = [f"x{i} = {tensor(a)}, requires_grad={rg})" for i, (a, rg) in enumerate(inputs)]
    for op_name, arg_idx, params in steps:
        shown = {k: (tensor(v[1]) + ")" if isinstance(v, tuple) and v and v[0] == "fresh" else v)
                 for k, v in params.items()}
        lines.append(f"{op_name}({', '.join(f'v{i}' for i in arg_idx)}, **{shown})")
    return "\n".join(lines)
