"""``repr(tensor)`` in PyTorch's form: ``tensor([[1., 2.]], requires_grad=True)``."""
import numpy as np

_DEFAULT_DTYPES = ("float32", "int64", "bool")


def _float_formatter(values):
    finite = values[np.isfinite(values)] if values.size else values
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}", 6
    abs_vals = np.abs(finite)
    integral = bool(np.all(finite == np.round(finite)))
    big, small = abs_vals.max(), abs_vals[abs_vals > 0].min() if (abs_vals > 0).any() else 0.0
    if integral and big < 1e8:
        def fmt(v):
            return _special(v) or f"{v:.0f}."
    elif big >= 1e8 or (small and (small < 1e-4 or big / small > 1000)):
        def fmt(v):
            return _special(v) or f"{v:.4e}"
    else:
        def fmt(v):
            return _special(v) or f"{v:.4f}"
    width = max(len(fmt(v)) for v in values.flat) if values.size else 1
    return fmt, width


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def tensor_repr(t, prefix="tensor("):
    data = t._data
    kind = data.dtype.kind
    if kind == "f":
        fmt, width = _float_formatter(data.astype(np.float64))
    elif kind == "b":
        def fmt(v):
            return "True" if v else "False"
        width = 5 if (data == True).all() is False else max((len(fmt(v)) for v in data.flat), default=4)  # noqa: E712
    else:
        def fmt(v):
            return str(v)
        width = max((len(str(v)) for v in data.flat), default=1)
    indent = " " * len(prefix)
    if data.size == 0:
        body = "[]"
    elif data.ndim == 0:
        body = fmt(data.item())
    else:
        body = np.array2string(data, separator=", ", prefix=indent, threshold=1000, edgeitems=3,
                               formatter={"all": lambda v: fmt(v).rjust(width)}, max_line_width=80)
    extras = []
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    if t.dtype.name not in _DEFAULT_DTYPES:
        extras.append(f"dtype=deepdive.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"
