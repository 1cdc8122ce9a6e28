"""Numerical gradient checking by central differences, in float64.

    d f / d x_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

``gradcheck(fn, inputs)`` compares this estimate with the analytical gradient
that backward computes, for every input that requires grad, and raises (or
returns False) on the first mismatch, naming the input and element.
"""
import numpy as np

from ..tensor import Tensor, _wrap
from .grad_mode import no_grad
from .engine import grad as autograd_grad


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed_grad=None, **kwargs):
    """Check ``fn``'s analytical gradients against central differences.

    ``inputs`` is a Tensor or a tuple; those with ``requires_grad=True`` are
    checked and should be float64 (float32 differences are too coarse). Each
    output o contributes sum(o * w) with a fixed random weight w, so all
    entries of the Jacobian are exercised in one backward per output.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    targets = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in targets:
        if t._data.dtype != np.float64:
            import warnings
            warnings.warn(f"gradcheck: input of dtype {t.dtype} is not float64; the check may fail for precision "
                          "reasons alone", stacklevel=2)
    rng = np.random.default_rng(0)
    outputs = _outputs(fn, inputs)
    weights = [rng.standard_normal(o.shape) for o in outputs]

    def scalar(values):
        return sum(float(np.sum(o._data.astype(np.float64) * w)) for o, w in zip(values, weights))

    from ..ops.reduction import sum as dd_sum
    from ..ops.elementwise import mul
    diff_outputs = [(o, w) for o, w in zip(outputs, weights) if o.requires_grad]
    if not diff_outputs:
        return _fail("gradcheck: no output of fn requires grad", raise_exception)
    total = None
    for o, w in diff_outputs:
        term = dd_sum(mul(o, _wrap(w.astype(o._data.dtype))))
        total = term if total is None else total + term
    analytical = autograd_grad(total, targets, allow_unused=True)

    for k, t in enumerate(targets):
        numeric = np.zeros(t.shape, dtype=np.float64)
        flat = t._data.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            with no_grad():
                flat[i] = old + eps
                plus = scalar(_outputs(fn, inputs))
                flat[i] = old - eps
                minus = scalar(_outputs(fn, inputs))
                flat[i] = old
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        got = np.zeros(t.shape) if analytical[k] is None else analytical[k]._data.astype(np.float64)
        if not np.allclose(got, numeric, atol=atol, rtol=rtol):
            bad = np.unravel_index(np.argmax(np.abs(got - numeric) - rtol * np.abs(numeric)), t.shape) if t.ndim else ()
            return _fail(f"gradcheck: Jacobian mismatch for input {next(i for i, x in enumerate(inputs) if x is t)} of shape "
                         f"{list(t.shape)} at index {tuple(int(b) for b in bad)}: numerical "
                         f"{numeric[bad] if t.ndim else numeric.item():.6g} vs analytical "
                         f"{got[bad] if t.ndim else got.item():.6g}\nnumerical:\n{numeric}\nanalytical:\n{got}",
                         raise_exception)
    return True


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


class GradcheckError(RuntimeError):
    pass


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Check second derivatives: ``gradcheck`` of the first derivative, itself computed with create_graph=True.

    The first derivative is the vector-Jacobian product of ``fn``'s outputs with ``grad_outputs``
    (random float64 tensors that require grad by default), as a function of the inputs *and* of
    ``grad_outputs``; its Jacobian, checked by central differences, holds every second derivative.
    """
    from .grad_mode import enable_grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    n = len(inputs)
    outputs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [_wrap(rng.standard_normal(o.shape).astype(o._data.dtype), True) for o in outputs]
    grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)

    def first_derivative(*args):
        ins, seeds = args[:n], args[n:]
        with enable_grad():
            outs = [o for o in _outputs(fn, ins) if o.requires_grad]
            targets = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
            grads = autograd_grad(outs, targets, grad_outputs=list(seeds), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
