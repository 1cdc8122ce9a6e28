"""``repr(tensor)`` in PyTorch's form: ``tensor([[1., 2.]], requires_grad=True)``.

A port of the layout rules of PyTorch's ``torch/_tensor_str.py`` (default print
options: precision 4, threshold 1000, edgeitems 3, linewidth 80), so that
printed tensors read exactly like PyTorch's with 'torch.' spelled 'deepdive.'.
"""
import math

import numpy as np

PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80
SCI_MODE = None            # deepdive.set_printoptions(sci_mode=True/False) forces it; None decides per tensor


class _Formatter:
    """One width and one style (integer-valued, fixed or scientific) for every element of a tensor."""

    def __init__(self, values):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        flat = flat.astype(np.float64)
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            return
        abs_vals = np.abs(nonzero_finite)
        lo, hi = abs_vals.min(), abs_vals.max()
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) if SCI_MODE is None else SCI_MODE
        if self.sci_mode:
            strings = [f"{v:.{PRECISION}e}" for v in nonzero_finite.tolist()]
        elif self.int_mode:
            strings = [f"{v:.0f}." for v in nonzero_finite.tolist()]
        else:
            strings = [f"{v:.{PRECISION}f}" for v in nonzero_finite.tolist()]
        self.max_width = max(len(s) for s in strings)

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{PRECISION}f}"
        else:
            text = f"{value}"
        return (self.max_width - len(text)) * " " + text


def _summarized(data):
    """Only the edge items PyTorch shows (they alone decide the format of a large tensor)."""
    if data.ndim == 0:
        return data
    if data.shape[0] > 2 * EDGEITEMS:
        data = np.concatenate([data[:EDGEITEMS], data[-EDGEITEMS:]])
    if data.ndim == 1:
        return data
    return np.stack([_summarized(row) for row in data])


def _vector_str(data, indent, summarize, formatter):
    per_line = max(1, math.floor((LINEWIDTH - indent) / (formatter.width() + 2)))
    if summarize and data.shape[0] > 2 * EDGEITEMS:
        items = ([formatter.format(v) for v in data[:EDGEITEMS].tolist()] + [" ..."]
                 + [formatter.format(v) for v in data[-EDGEITEMS:].tolist()])
    else:
        items = [formatter.format(v) for v in data.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(data, indent, summarize, formatter):
    if data.ndim == 0:
        return formatter.format(data.item())
    if data.ndim == 1:
        return _vector_str(data, indent, summarize, formatter)
    rows = range(data.shape[0])
    if summarize and data.shape[0] > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + [None] + list(range(data.shape[0] - EDGEITEMS, data.shape[0]))
    slices = ["..." if i is None else _tensor_str(data[i], indent + 1, summarize, formatter) for i in rows]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t, prefix="tensor("):
    from ._dtype import get_default_dtype
    data = t._data
    indent = len(prefix)
    suffixes = []
    default = t.dtype.name in (get_default_dtype().name, "int64", "bool")
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if t.dtype.name != get_default_dtype().name:     # no elements to show that it is an integer tensor
            suffixes.append(f"dtype=deepdive.{t.dtype.name}")
        body = "[]"
    else:
        if not default:
            suffixes.append(f"dtype=deepdive.{t.dtype.name}")
        if data.dtype == np.float16:
            data = data.astype(np.float32)
        summarize = data.size > THRESHOLD
        formatter = _Formatter(_summarized(data) if summarize else data)
        body = _tensor_str(data, indent, summarize, formatter)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
