"""Matrix products: matmul (@) with batched broadcasting, mm, bmm, mv, dot, outer, addmm, baddbmm, einsum.

All of them rest on two Functions: ``MatMul`` (NumPy matmul semantics) and
``Einsum`` (any contraction, whose backward is itself an einsum).
"""
import math
import string
from collections import Counter

import numpy as np

from ..autograd.function import Function
from ._util import unbroadcast, as_tensor_arg, broadcast_error

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "addmm", "baddbmm", "addmv", "einsum",
           "tensordot", "trace"]
METHODS = ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "addmm", "baddbmm", "addmv", "trace",
           "__matmul__", "__rmatmul__"]


def _shape_str(shape):
    return "x".join(str(s) for s in shape)


class MatMul(Function):
    """Z = X @ Y (NumPy matmul semantics: 1-D promotion, batch broadcasting).

    Backward: dX = G @ Y^T,  dY = X^T @ G, each summed over broadcast batch dims.
    """

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        # NOTE: 1-D operands are treated as a row (x) / column (y) matrix and squeezed back.
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g = grad
        if y.ndim == 1:            # first: for vector @ vector, g is 0-d and becomes (1, 1)
            g = np.expand_dims(g, -1)
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        dx = dy = None
        if need_x:
            dx = np.matmul(g, np.swapaxes(y2, -1, -2))
            dx = unbroadcast(dx, x2.shape)
            if x.ndim == 1:
                dx = dx.reshape(x.shape)
        if need_y:
            dy = np.matmul(np.swapaxes(x2, -1, -2), g)
            dy = unbroadcast(dy, y2.shape)
            if y.ndim == 1:
                dy = dy.reshape(y.shape)
        return dx, dy

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        x2 = x.unsqueeze(0) if x.ndim == 1 else x
        y2 = y.unsqueeze(-1) if y.ndim == 1 else y
        g = grad
        if y.ndim == 1:
            g = g.unsqueeze(-1)
        if x.ndim == 1:
            g = g.unsqueeze(-2)
        dx = unbroadcast(g @ y2.transpose(-1, -2), x2.shape).reshape(x.shape) if need_x else None
        dy = unbroadcast(x2.transpose(-1, -2) @ g, y2.shape).reshape(y.shape) if need_y else None
        return dx, dy

_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _check_dtypes(a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_C_NAMES.get(a.dtype.name)} != "
                           f"{_C_NAMES.get(b.dtype.name)}")


def _check_matmul(op, a, b):
    """PyTorch's messages for each operand layout matmul dispatches to (dot, mv, mm, bmm)."""
    sa, sb = a._data.shape, b._data.shape
    if not sa or not sb:
        raise RuntimeError(f"{op}: both arguments to matmul need to be at least 1D, but they are {len(sa)}D and "
                           f"{len(sb)}D")
    ka = sa[-1]
    kb = sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        rows = math.prod(sa[:-1])
        if len(sa) == 1 and len(sb) == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{ka}] and src [{kb}] to have the same "
                               f"number of elements, but got {ka} and {kb} elements respectively")
        if len(sb) == 1:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{ka}), vec ({kb})")
        if len(sb) == 2:     # PyTorch folds the batch dims of input into rows: (B*n) x k times k x p
            raise RuntimeError(f"{op}: mat1 and mat2 shapes cannot be multiplied ({rows}x{ka} and {_shape_str(sb)})")
        batch = math.prod(_batch_shape(op, sa, sb))
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {ka}] but got: "
                           f"[{batch}, {kb}].")
    if a._data.dtype != b._data.dtype:
        _check_dtypes(a, b)


def _batch_shape(op, sa, sb):
    try:
        return np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise broadcast_error(op, sa[:-2], sb[:-2]) from None


def matmul(input, other):
    """Matrix product with PyTorch's/NumPy's broadcasting rules (1-D operands promoted, batch dims broadcast)."""
    if input.is_sparse or getattr(other, "is_sparse", False):      # a sparse COO operand: deepdive.sparse.mm
        from ..sparse import mm as sparse_mm
        return sparse_mm(input, other)
    _check_matmul("matmul", input, other)
    if input._data.dtype.kind == "b" or other._data.dtype.kind == "b":
        from ._errors import not_implemented_for
        raise not_implemented_for("dot" if input.ndim == other.ndim == 1 else "addmm_impl_cpu_", input.dtype)
    try:
        return MatMul.apply(input, other)
    except ValueError:
        _batch_shape("matmul", input._data.shape, other._data.shape)    # raises PyTorch's broadcast message
        raise


def mm(input, mat2):
    """2-D matrix product."""
    if input.is_sparse or getattr(mat2, "is_sparse", False):       # a sparse COO operand: deepdive.sparse.mm
        from ..sparse import mm as sparse_mm
        return sparse_mm(input, mat2)
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    _check_matmul("mm", input, mat2)
    return MatMul.apply(input, mat2)


def __matmul__(self, other):
    return matmul(self, other)


def __rmatmul__(self, other):
    return matmul(as_tensor_arg(other), self)


def _check_bmm(batch1, batch2):
    if batch1.ndim != 3:
        raise RuntimeError("bmm: batch1 must be a 3D tensor")
    if batch2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    b, _, m = batch1.shape
    if tuple(batch2.shape[:2]) != (b, m):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {m}] but got: "
                           f"[{batch2.shape[0]}, {batch2.shape[1]}].")
    _check_dtypes(batch1, batch2)


def _check_mv(mat, vec):
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {mat.ndim}, {vec.ndim}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.shape[0]}), mat ({_shape_str(mat.shape)}), "
                           f"vec ({vec.shape[0]})")
    _check_dtypes(mat, vec)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting, like PyTorch)."""
    _check_bmm(input, mat2)
    return MatMul.apply(input, mat2)


def mv(input, vec):
    """Matrix-vector product: (n, m) @ (m,) -> (n,)."""
    _check_mv(input, vec)
    return MatMul.apply(input, vec)


def dot(input, tensor):
    """Inner product of two 1-D tensors of the same size and dtype (a 0-d tensor)."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{tensor.shape[0]}] "
                           f"to have the same number of elements, but got {input.shape[0]} and {tensor.shape[0]} "
                           "elements respectively")
    if input._data.dtype != tensor._data.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{input.dtype.name.capitalize()} and {tensor.dtype.name.capitalize()}")
    return MatMul.apply(input, tensor)


def inner(input, other):
    """Sum over the last dims: inner(a, b)[i.., j..] = sum_k a[i.., k] b[j.., k] (a product for 0-d inputs)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    rows_a, rows_b = string.ascii_lowercase[:input.ndim - 1], string.ascii_uppercase[:other.ndim - 1]
    return einsum(f"{rows_a}z,{rows_b}z->{rows_a}{rows_b}", input, other)


def outer(input, vec2):
    """Outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j] (dtypes promoted)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return input.reshape(-1, 1) * vec2


ger = outer


class AddMatMul(Function):
    """Z = beta * C + alpha * (X @ Y)  (addmm, baddbmm, addmv), C broadcast to the product's shape.

    Backward: dC = beta * g (summed over broadcast axes), dX = alpha * g @ Y^T, dY = alpha * X^T @ g.
    NOTE: one fused op rather than mul/add/matmul nodes: the product is scaled and accumulated in place,
    and ``beta == 0`` ignores C entirely (nan/inf in C do not propagate, as PyTorch documents).
    """

    @staticmethod
    def forward(ctx, c, x, y, beta, alpha):
        ctx.save_for_backward(x, y)
        ctx.c_shape, ctx.beta, ctx.alpha = c.shape, beta, alpha
        out = np.matmul(x, y)
        if alpha != 1:
            out *= alpha
        if beta != 0:
            out += c if beta == 1 else beta * c
        return out

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_c, need_x, need_y = ctx.needs_input_grad[:3]
        alpha = ctx.alpha
        g = grad if alpha == 1 else grad * alpha
        dc = unbroadcast(grad * ctx.beta, ctx.c_shape) if need_c else None
        if y.ndim == 1:          # addmv: y is a vector
            dx = np.multiply.outer(g, y) if need_x else None
            dy = x.T @ g if need_y else None
        else:
            dx = np.matmul(g, np.swapaxes(y, -1, -2)) if need_x else None
            dy = np.matmul(np.swapaxes(x, -1, -2), g) if need_y else None
        return dc, dx, dy, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        x, y = ctx.saved_tensors
        need_c, need_x, need_y = ctx.needs_input_grad[:3]
        g = grad if ctx.alpha == 1 else grad * ctx.alpha
        dc = unbroadcast(grad * ctx.beta, ctx.c_shape) if need_c else None
        if y.ndim == 1:
            dx = g.unsqueeze(-1) * y if need_x else None
            dy = x.t() @ g if need_y else None
        else:
            dx = g @ y.transpose(-1, -2) if need_x else None
            dy = x.transpose(-1, -2) @ g if need_y else None
        return dc, dx, dy, None, None


def _add_matmul(op, input, x, y, beta, alpha):
    """Shared checks of addmm/baddbmm/addmv (the product's operands are already checked)."""
    input = as_tensor_arg(input, x)
    out_shape = tuple(x.shape[:-1]) + (tuple(y.shape[-1:]) if y.ndim > 1 else ())
    try:
        if np.broadcast_shapes(tuple(input.shape), out_shape) != out_shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{op}: The expanded size of the tensor ({out_shape[-1]}) must match the existing size "
                           f"({input.shape[-1] if input.ndim else 1}) at non-singleton dimension "
                           f"{input.ndim - 1}.  Target sizes: {list(out_shape)}.  Tensor sizes: "
                           f"{list(input.shape)}") from None
    _check_dtypes(input, x)
    return AddMatMul.apply(input, x, y, beta, alpha)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), with input broadcast to (n, p)."""
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"addmm: expected 2D tensors, got {mat1.ndim}D and {mat2.ndim}D")
    _check_matmul("addmm", mat1, mat2)
    return _add_matmul("addmm", input, mat1, mat2, beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2), with input broadcast to (b, n, p)."""
    _check_bmm(batch1, batch2)
    return _add_matmul("baddbmm", input, batch1, batch2, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec), with input broadcast to (n,)."""
    _check_mv(mat, vec)
    return _add_matmul("addmv", input, mat, vec, beta, alpha)


# ------------------------------------------------------------------- einsum
def _operand_gradients(ctx):
    """Per operand: None where no gradient is wanted, else ``(sub, x, others, letters, wanted, size)``: its
    subscripts and saved value, the other operands, its unique letters (in order of appearance), those of them
    the output or another operand carries (the rest were summed away in forward: broadcast back), and each
    letter's size."""
    subs, out = ctx.subs, ctx.out
    for i, (sub, x) in enumerate(zip(subs, ctx.saved_tensors)):
        if not ctx.needs_input_grad[i + 1]:
            yield None
            continue
        others = [j for j in range(len(subs)) if j != i]
        reachable = set(out).union(*(subs[j] for j in others))
        letters = "".join(dict.fromkeys(sub))
        wanted = "".join(c for c in letters if c in reachable)
        yield sub, x, others, letters, wanted, {c: x.shape[sub.index(c)] for c in letters}


class Einsum(Function):
    """z = einsum(subscripts, *operands) with explicit subscripts (no ellipsis, see ``_parse_einsum``).

    Backward: the gradient of operand i is itself an einsum, of g with all the other
    operands, onto operand i's subscripts: dX_i = einsum(out, others -> subs_i).
    Two cases need more than that one einsum: letters of operand i that appear
    nowhere else were summed out in forward, so the gradient is broadcast along them;
    and repeated letters (a diagonal, 'ii->i') receive the gradient on that diagonal only.
    """

    @staticmethod
    def forward(ctx, spec, *operands):
        subs, out = spec
        ctx.save_for_backward(*operands)
        ctx.subs, ctx.out = subs, out
        return _np_einsum(",".join(subs) + "->" + out, operands)

    @staticmethod
    def backward(ctx, grad):
        operands, subs = ctx.saved_tensors, ctx.subs
        grads = [None]
        for spec in _operand_gradients(ctx):
            if spec is None:
                grads.append(None)
                continue
            sub, x, others, letters, wanted, size = spec
            equation = ",".join([ctx.out] + [subs[j] for j in others]) + "->" + wanted
            g = _np_einsum(equation, [grad] + [operands[j] for j in others])
            g = np.asarray(g).reshape([g.shape[wanted.index(c)] if c in wanted else 1 for c in letters])
            # an operand broadcast along an ellipsis dim (size 1 here, n elsewhere) sums its gradient back
            axes = tuple(k for k, c in enumerate(letters) if size[c] == 1 and g.shape[k] != 1)
            if axes:
                g = g.sum(axis=axes, keepdims=True)
            g = np.broadcast_to(g, [size[c] for c in letters])
            if len(letters) == len(sub):
                grads.append(np.ascontiguousarray(g, dtype=x.dtype))
            else:
                dx = np.zeros(x.shape, dtype=x.dtype)
                np.einsum(f"{sub}->{letters}", dx)[...] = g        # a writeable view of the diagonal
                grads.append(dx)
        return tuple(grads)

    @staticmethod
    def graph_backward(ctx, grad):
        """The same einsums, on Tensors; a repeated letter's diagonal is filled by an einsum with identities."""
        operands, subs = ctx.saved_tensors, ctx.subs
        grads = [None]
        for spec in _operand_gradients(ctx):
            if spec is None:
                grads.append(None)
                continue
            sub, x, others, letters, wanted, size = spec
            g = Einsum.apply(([ctx.out] + [subs[j] for j in others], wanted), grad, *[operands[j] for j in others])
            g = g.reshape([g.shape[wanted.index(c)] if c in wanted else 1 for c in letters])
            axes = tuple(k for k, c in enumerate(letters) if size[c] == 1 and g.shape[k] != 1)
            if axes:
                g = g.sum(dim=axes, keepdim=True)
            g = g.expand(*[size[c] for c in letters])
            if len(letters) != len(sub):
                g = _onto_diagonals(g, letters, sub, x._data.dtype)
            grads.append(g)
        return tuple(grads)


def _onto_diagonals(g, letters, sub, dtype):
    """g (subscripts ``letters``) written onto the diagonals of ``sub`` (letters repeated), zeros elsewhere:
    each repeat of a letter becomes a fresh letter tied to the first by an identity matrix."""
    spare = iter(c for c in string.ascii_letters if c not in sub)
    fresh, identities, seen = [], [], set()
    for k, c in enumerate(sub):
        if c in seen:
            new = next(spare)
            fresh.append(new)
            identities.append((c + new, np.eye(g.shape[letters.index(c)], dtype=dtype)))
        else:
            fresh.append(c)
            seen.add(c)
    from ..tensor import _wrap
    spec = ([letters] + [s for s, _ in identities], "".join(fresh))
    return Einsum.apply(spec, g, *[_wrap(eye) for _, eye in identities])


def _np_einsum(equation, operands):
    # NOTE: NumPy's path optimiser maps contractions to BLAS (tensordot) but costs ~tens of µs per call,
    # so it is used only for multi-operand products big enough to repay it.
    big = len(operands) > 1 and sum(o.size for o in operands) > 4096
    return np.einsum(equation, *operands, optimize=big)


def _parse_einsum(equation, shapes):
    """Explicit per-operand subscripts and output subscripts, with '...' replaced by spare letters.

    Without '->' the output is, like NumPy and PyTorch, the ellipsis dims followed by the
    letters that appear exactly once, in alphabetical order.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(inputs) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for c in eq.replace("...", "").replace(",", "").replace("->", ""):
        if c not in string.ascii_letters:
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
    spare = [c for c in string.ascii_letters if c not in eq]
    n_ellipsis = max([len(shape) - len(s) + 3 for s, shape in zip(inputs, shapes) if "..." in s], default=0)
    ellipsis = "".join(spare[:n_ellipsis])
    subs = []
    for i, (s, shape) in enumerate(zip(inputs, shapes)):
        if "..." in s:
            k = len(shape) - len(s) + 3
            if k < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s) - 3}) is more than "
                                   f"the number of dimensions ({len(shape)}) for operand {i}")
            s = s.replace("...", ellipsis[n_ellipsis - k:])
        elif len(s) != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {i} and no ellipsis was given")
        subs.append(s)
    if arrow:
        out = rhs.replace("...", ellipsis)
    else:
        counts = Counter(lhs.replace("...", "").replace(",", ""))
        out = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    sizes = {}
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        for c, n in zip(s, shape):
            if c in sizes and n != sizes[c] and 1 not in (n, sizes[c]):
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast "
                                   f"with previously seen size {sizes[c]}")
            if n != 1 or c not in sizes:
                sizes[c] = n
    for c in out:
        if c not in sizes:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input operand")
    return tuple(subs), out


def einsum(equation, *operands):
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)`` is a batched matmul.

    Supports ellipsis ('...'), implicit output (no '->'), repeated indices (diagonals,
    traces) and any number of operands; ``einsum(eq, [a, b])`` is accepted too.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = tuple(as_tensor_arg(o) for o in operands)
    subs, out = _parse_einsum(equation, [tuple(o.shape) for o in operands])
    dtypes = {o._data.dtype for o in operands}
    if len(dtypes) > 1:
        names = sorted(str(o.dtype) for o in operands)
        raise RuntimeError(f"einsum(): expected all operands to have the same dtype, got {', '.join(names)}")
    return Einsum.apply((subs, out), *operands)


def tensordot(a, b, dims=2):
    """Contract ``dims`` dims of ``a`` with dims of ``b``: an int n (the last n of a with the first n
    of b) or a pair of lists ``([a dims], [b dims])``. An einsum underneath."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError(f"both dimension lists should have same length, got {len(dims_a)} and {len(dims_b)}")
    dims_a = [d % a.ndim for d in dims_a]
    dims_b = [d % b.ndim for d in dims_b]
    letters = iter(string.ascii_letters)
    sub_a = [next(letters) for _ in range(a.ndim)]
    sub_b = [next(letters) for _ in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[da]} in dim {da} "
                               f"and second has size {b.shape[db]} in dim {db}")
        sub_b[db] = sub_a[da]
    out = [c for i, c in enumerate(sub_a) if i not in dims_a] + [c for i, c in enumerate(sub_b) if i not in dims_b]
    return einsum(f"{''.join(sub_a)},{''.join(sub_b)}->{''.join(out)}", a, b)


def trace(input):
    """Sum of the main diagonal of a 2-D tensor (integers sum as int64, like PyTorch)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input._data.dtype.kind in "biu":
        from .. import _dtype
        input = input.to(_dtype.int64)
    n, m = input._data.shape
    if n != m:
        input = input[:min(n, m), :min(n, m)]
    return einsum("ii->", input)
