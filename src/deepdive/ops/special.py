"""Special functions the probability distributions need: lgamma, digamma, polygamma, erfinv.

NumPy has none of them, and the core depends on NumPy alone, so each is computed
here in float64 by a classic series and cast back to the input's dtype:
lgamma by Lanczos' approximation (g = 7, 9 terms; ~1e-15 relative), digamma and
trigamma by the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10 and then
their asymptotic (Stirling) series, polygamma(n >= 2) from the Hurwitz zeta function the same way,
erfinv by a rational first guess refined
by Newton's method on erf.
"""
import numpy as np

from ..autograd.function import Function
from .elementwise import _erf, _to_float, _unary

__all__ = ["lgamma", "digamma", "polygamma", "erfinv", "mvlgamma"]
METHODS = ["lgamma", "digamma", "polygamma", "erfinv", "mvlgamma"]

_LANCZOS_G = 7.0
_LANCZOS = np.array([0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
                     -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
                     1.5056327351493116e-7])


def _lgamma_np(x):
    """ln|Gamma(x)|; reflection Gamma(x) Gamma(1 - x) = pi / sin(pi x) below 0.5; +inf at the poles."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        reflect = x < 0.5
        z = np.where(reflect, 1.0 - x, x) - 1.0
        series = np.full_like(z, _LANCZOS[0])
        for k in range(1, 9):
            series = series + _LANCZOS[k] / (z + k)
        t = z + _LANCZOS_G + 0.5
        positive = 0.5 * np.log(2 * np.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
        result = np.where(reflect, np.log(np.pi / np.abs(np.sin(np.pi * x))) - positive, positive)
        result = np.where((x <= 0) & (x == np.floor(x)), np.inf, result)
        result = np.where((x == 1) | (x == 2), 0.0, result)      # exact zeros, as ln 0! = ln 1! = 0
    return result


def _digamma_np(x):
    """psi(x) = d ln Gamma(x) / dx; reflection psi(1 - x) - psi(x) = pi cot(pi x) below 0; -inf... nan at poles."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        reflect = x <= 0
        z = np.where(reflect, 1.0 - x, x)
        shift = np.zeros_like(z)
        for _ in range(10):                   # psi(z) = psi(z + 1) - 1/z until z >= 10
            small = z < 10
            shift = shift - np.where(small, 1.0 / z, 0.0)
            z = np.where(small, z + 1.0, z)
        inv2 = 1.0 / (z * z)
        series = np.log(z) - 0.5 / z - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
            1 / 240 - inv2 * (1 / 132)))))
        result = series + shift
        result = np.where(reflect, result - np.pi / np.tan(np.pi * x), result)
        # PyTorch: digamma(0) = -inf, negative integers give nan
        result = np.where(x == 0, -np.inf, np.where(reflect & (x == np.floor(x)), np.nan, result))
    return result


def _trigamma_np(x):
    """psi'(x); reflection psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x) below 0."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        reflect = x <= 0
        z = np.where(reflect, 1.0 - x, x)
        shift = np.zeros_like(z)
        for _ in range(10):
            small = z < 10
            shift = shift + np.where(small, 1.0 / (z * z), 0.0)
            z = np.where(small, z + 1.0, z)
        inv = 1.0 / z
        inv2 = inv * inv
        series = inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 * (1 / 30))))
        result = series + shift
        result = np.where(reflect, -result + (np.pi / np.sin(np.pi * x)) ** 2, result)
    return result


# Bernoulli numbers B_2, B_4, ..., B_16: the Euler-Maclaurin tail of the Hurwitz zeta function
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def _polygamma_np(n, x):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 2 (PyTorch's formula), with the Hurwitz zeta
    zeta(s, x) = sum_k (x + k)^-s summed directly until x + k >= 10 + n, then its Euler-Maclaurin tail
    z^(1-s)/(s-1) + z^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) z^(-s-2j+1). Like PyTorch (Cephes' zeta),
    negative non-integer x is summed the same way, and x = 0, -1, -2, ... gives (-1)^(n+1) inf."""
    x = np.asarray(x, dtype=np.float64)
    s = n + 1.0
    with np.errstate(all="ignore"):
        pole = (x <= 0) & (x == np.floor(x))
        z = np.where(pole, 1.0, x).reshape(-1)
        head = np.zeros_like(z)
        start = 10.0 + n
        small = np.flatnonzero(z < start)
        while small.size:                 # NOTE: over the entries still below ``start`` only
            head[small] += z[small] ** -s
            z[small] += 1.0
            small = small[z[small] < start]
        z, head = z.reshape(x.shape), head.reshape(x.shape)
        tail = z ** (1 - s) / (s - 1) + 0.5 * z ** -s
        rising, factorial, power = s, 2.0, z ** (-s - 1)
        for j, b in enumerate(_BERNOULLI, start=1):
            tail = tail + b / factorial * rising * power
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            factorial *= (2 * j + 1) * (2 * j + 2)
            power = power / (z * z)
        sign = 1.0 if n % 2 else -1.0
        result = sign * float(np.prod(np.arange(1, n + 1, dtype=np.float64))) * (head + tail)
        return np.where(pole, sign * np.inf, result)


Lgamma = _unary(lambda x: _lgamma_np(x).astype(x.dtype), lambda x, g: g * _digamma_np(x).astype(x.dtype),
                "Lgamma", "y = ln|Gamma(x)|.   Backward: dx = g * digamma(x).",
                graph=lambda x, g: g * Digamma.apply(x))
Digamma = _unary(lambda x: _digamma_np(x).astype(x.dtype), lambda x, g: g * _trigamma_np(x).astype(x.dtype),
                 "Digamma", "y = psi(x) = d ln Gamma(x) / dx.   Backward: dx = g * psi'(x)  (trigamma).",
                 graph=lambda x, g: g * Trigamma.apply(x))


class Trigamma(Function):
    """y = psi'(x) (polygamma of order 1).   Backward: dx = g * psi''(x)  (polygamma(2, x))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _trigamma_np(x).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _polygamma_np(2, x).astype(x.dtype)

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Polygamma.apply(x, 2)


class Polygamma(Function):
    """y = psi^(n)(x) for n >= 2.   Backward: dx = g * psi^(n+1)(x)."""

    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return _polygamma_np(n, x).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _polygamma_np(ctx.n + 1, x).astype(x.dtype), None

    @staticmethod
    def graph_backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * Polygamma.apply(x, ctx.n + 1), None


def _erfinv_np(y):
    """x with erf(x) = y: Giles' single-precision guess, then Newton steps x -= (erf(x) - y) / erf'(x)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        central = w < 5.0
        wc = w - 2.5
        pc = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            pc = c + pc * wc
        wt = np.sqrt(w) - 3.0
        pt = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            pt = c + pt * wt
        x = np.where(central, pc, pt) * y
        for _ in range(3):
            step = (_erf(x) - y) / (2 / np.sqrt(np.pi) * np.exp(-x * x))
            x = np.where(np.isfinite(step), x - step, x)
        x = np.where(y == 1, np.inf, np.where(y == -1, -np.inf, x))
        x = np.where(np.abs(y) > 1, np.nan, x)
    return x


class Erfinv(Function):
    """y = erf^-1(x).   Backward: dx = g * sqrt(pi)/2 * e^(y^2)."""

    @staticmethod
    def forward(ctx, x):
        y = _erfinv_np(x).astype(x.dtype)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        with np.errstate(over="ignore"):
            return grad * (np.sqrt(np.pi) / 2 * np.exp(y.astype(np.float64) ** 2)).astype(y.dtype)

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * ((y * y).exp() * (np.sqrt(np.pi) / 2))


def _floating(input):
    return input if input._data.dtype.kind == "f" else _to_float(input)


def lgamma(input):
    """ln|Gamma(x)|, elementwise (``torch.lgamma``)."""
    return Lgamma.apply(_floating(input))


def digamma(input):
    """psi(x), the derivative of lgamma (``torch.digamma``)."""
    return Digamma.apply(_floating(input))


def polygamma(n, input):
    """psi^(n)(x), the n-th derivative of digamma (``torch.polygamma``), for any n >= 0."""
    if not isinstance(n, int):            # the method x.polygamma(n) calls polygamma(x, n)
        n, input = input, n
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if n == 0:
        return digamma(input)
    if n == 1:
        return Trigamma.apply(_floating(input))
    return Polygamma.apply(_floating(input), n)


def erfinv(input):
    """The inverse error function (``torch.erfinv``): erf(erfinv(x)) = x on (-1, 1)."""
    return Erfinv.apply(_floating(input))


def mvlgamma(input, p):
    """The multivariate log-gamma: ln Gamma_p(a) = p (p - 1)/4 ln pi + sum_{j=1..p} lgamma(a + (1 - j)/2)
    (``torch.mvlgamma``), composed from lgamma so that it is differentiable."""
    import math
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _floating(input)       # NOTE: like PyTorch 2.13, no domain check: below (p - 1)/2 it is ln|Gamma| terms
    total = lgamma(x)
    for j in range(2, p + 1):
        total = total + lgamma(x + (1 - j) / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)

