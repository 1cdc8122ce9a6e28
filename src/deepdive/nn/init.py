"""deepdive.nn.init: fill a tensor in place from a named distribution (PyTorch's formulas).

Every function runs without recording gradients, draws from
``deepdive.random.get_generator(generator)`` and returns the tensor. The random
ones call the tensor's own ``uniform_``/``normal_`` as PyTorch's do, so after
``manual_seed(s)`` they fill exactly PyTorch's numbers.

The fan-based schemes keep the variance of activations constant across layers:
    Xavier/Glorot (2010):  Var(W) = gain^2 * 2 / (fan_in + fan_out)
    Kaiming/He (2015):     Var(W) = gain^2 / fan        (fan = fan_in or fan_out)
with ``gain`` the nonlinearity's correction factor (``calculate_gain``).
"""
import math
import warnings

import numpy as np

from ..autograd.grad_mode import no_grad
from ..random import get_generator

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "sparse_"]


def _fill(tensor, values):
    """Write ``values`` into the tensor's array (keeping dtype and identity) and bump its version."""
    array = tensor._data
    array[...] = values
    tensor._version_counter[0] += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
    leaky_relu sqrt(2 / (1 + slope^2)) (slope default 0.01), selu 3/4."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4      # value chosen in PyTorch to give a self-normalizing net a stable forward signal
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (receptive = prod(shape[2:]))."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b], by rejection as PyTorch 2.13 does it.

    When [a, b] holds more than 30% of the mass: draw normals and redraw (a
    whole tensor's worth) where a value falls outside. Otherwise: propose
    x ~ U(a, b) and accept when log(u) <= -(x - mean)^2 / (2 std^2) - log_peak.
    NOTE: the second branch compares against a float32 log; PyTorch's vectorised
    log can differ in the last bit, which flips an accept only on a near-tie.
    """
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    gen, shape, dtype = get_generator(generator), tensor._data.shape, tensor._data.dtype
    if norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std) > 0.3:
        low, high = dtype.type(a), dtype.type(b)
        result = gen.normal(mean, std, shape, dtype)
        while True:
            outside = (result < low) | (result > high)
            if not outside.any():
                return _fill(tensor, result)
            result = np.where(outside, gen.normal(mean, std, shape, dtype), result)
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2

    def log_pdf(x):       # in the tensor's dtype, one op at a time like PyTorch's in-place chain
        z = (x - dtype.type(mean)) / dtype.type(std)
        return z * z * dtype.type(-0.5) - dtype.type(log_peak)

    def rejected(x):
        with np.errstate(divide="ignore"):
            return np.log(gen.uniform(0.0, 1.0, shape, dtype)) > log_pdf(x)
    result = gen.uniform(a, b, shape, dtype)
    pending = rejected(result)
    while pending.any():
        candidates = gen.uniform(a, b, shape, dtype)
        result = np.where(pending, candidates, result)
        pending = np.where(pending, rejected(candidates), pending)
    return _fill(tensor, result)


def constant_(tensor, val):
    """Fill with the constant ``val``."""
    return _fill(tensor, val)


def ones_(tensor):
    return _fill(tensor, 1)


def zeros_(tensor):
    return _fill(tensor, 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal, also when not square)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor._data.shape))


def dirac_(tensor, groups=1):
    """Fill a {3,4,5}-D conv weight with the Dirac delta, so the conv preserves its input's channels."""
    dims = tensor.ndim
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tensor._data.shape
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    values = np.zeros(shape)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min_dim):
            values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _empty_warning(tensor):
    if 0 in tensor._data.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    if _empty_warning(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std          # in PyTorch's order, so the float32 bound rounds the same
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    if _empty_warning(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix (Saxe et al. 2013): QR of a Gaussian matrix, signs fixed so Q is
    uniformly distributed; trailing dims are flattened."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor._data.shape[0]
    cols = tensor._data.size // rows
    # NOTE: PyTorch's draws (normal_ on a (rows, cols) tensor of the same dtype); its LAPACK QR
    # and NumPy's agree to rounding, not to the bit.
    flat = get_generator(generator).normal(0.0, 1.0, (rows, cols), tensor._data.dtype)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))       # NOTE: makes the factorisation unique, hence Q Haar-distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor._data.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D tensor with N(0, std^2) and zero a ``sparsity`` fraction of each column."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor._data.shape
    values = get_generator(generator).normal(0.0, std, (rows, cols), tensor._data.dtype)
    num_zeros = int(math.ceil(sparsity * rows))
    for col in range(cols):         # PyTorch draws these permutations from the default generator
        values[get_generator().permutation(rows)[:num_zeros], col] = 0
    return _fill(tensor, values)


def _deprecated(fn):
    """Old tutorials call ``init.xavier_uniform(w)``; PyTorch keeps these names with a warning."""
    old = fn.__name__[:-1]

    def alias(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{fn.__name__}`.", FutureWarning,
                      stacklevel=2)
        return fn(*args, **kwargs)
    alias.__name__ = old
    alias.__doc__ = f"Deprecated alias of ``{fn.__name__}``."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
