"""Matrix functions and decompositions: solve, inv, det, slogdet, cholesky, qr, svd, eigh, pinv, cross.

One ``Function`` per op whose backward is specific, each with PyTorch's formula
(``torch/csrc/autograd/FunctionsManual.cpp``) in its docstring. All of them
work on stacks of matrices (leading batch dims) in float32 and float64; the
public names (``deepdive.linalg.*`` and the old ``deepdive.inverse``, ``det``,
``svd``, ...) are in ``deepdive/linalg/__init__.py``.

Notation: ``X^T`` is the transpose of the last two dims, ``g`` / ``gX`` the
gradient of the loss w.r.t. an output ``X``.
"""
import numpy as np

from ..autograd.function import Function
from ..tensor import _wrap
from ._util import unbroadcast


def mT(x):
    """The transpose of the last two dims (a view)."""
    return np.swapaxes(x, -1, -2)


def diag_embed(v):
    """(..., k) -> (..., k, k) with v on the diagonal."""
    out = np.zeros(v.shape + v.shape[-1:], dtype=v.dtype)
    np.einsum("...ii->...i", out)[...] = v
    return out


# create_graph=True: each backward below has a twin, ``graph_backward``, with the same formula written in
# deepdive ops (the decompositions' own Functions among them), so that the gradient is differentiable again,
# to any order. The first-order NumPy backwards are untouched.
def _t_diag(x):
    """The diagonal (..., k) of a Tensor (..., k, k)."""
    return x.diagonal(0, -2, -1)


def _t_diag_embed(v):
    from .joining import diag_embed as embed
    return embed(v)


class Solve(Function):
    """X = A^{-1} B (A square, batch dims broadcast).

    Backward: gB = A^{-T} gX,  gA = -gB X^T.
    """

    @staticmethod
    def forward(ctx, a, b):
        x = np.linalg.solve(a, b)
        ctx.save_for_backward(a, x)
        ctx.shapes = a.shape, b.shape
        return x

    @staticmethod
    def backward(ctx, grad):
        a, x = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        gb = np.linalg.solve(mT(a), grad)
        ga = unbroadcast(-(gb @ mT(x)), a_shape) if ctx.needs_input_grad[0] else None
        return ga, unbroadcast(gb, b_shape) if ctx.needs_input_grad[1] else None

    @staticmethod
    def graph_backward(ctx, grad):
        a, x = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        gb = Solve.apply(a.mT, grad)
        ga = unbroadcast(-(gb @ x.mT), a_shape) if ctx.needs_input_grad[0] else None
        return ga, unbroadcast(gb, b_shape) if ctx.needs_input_grad[1] else None


class Inv(Function):
    """Y = A^{-1}.   Backward: gA = -Y^T gY Y^T."""

    @staticmethod
    def forward(ctx, a):
        y = np.linalg.inv(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return -(mT(y) @ grad @ mT(y))

    @staticmethod
    def graph_backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return -(y.mT @ grad @ y.mT)


class Det(Function):
    """d = det(A).

    Backward: gA = g * adj(A)^T, which is g d A^{-T} when A is invertible.
    NOTE: the adjugate is taken from the SVD A = U S V^T (adj(A)^T = det(U V^T) U adj(S) V^T,
    adj(S)_i = prod_{j != i} s_j), so singular matrices get the true, finite gradient, as in PyTorch.
    """

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.asarray(np.linalg.det(a), dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        u, s, vh = np.linalg.svd(a)
        n = s.shape[-1]
        others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1) if n > 1 \
            else np.ones_like(s)
        sign = np.linalg.det(u) * np.linalg.det(vh)
        adj_t = (u * others[..., None, :]) @ vh
        return (np.asarray(grad * sign)[..., None, None] * adj_t).astype(a.dtype, copy=False)

    @staticmethod
    def graph_backward(ctx, grad):
        """g d A^{-T} for a well-conditioned A, else (as PyTorch where |det A| < eps) the adjugate from a
        recorded SVD, U diag(prod_{j != i} s_j) Vh det(U Vh), which needs no inverse.

        NOTE: the switch is on the condition number (> 1/sqrt(eps)), not only on |det| < eps: near a singular
        matrix the derivative of d A^{-T} is a difference of terms ~ d |A^{-1}|^2 that cancel (1e16 - 1e16
        for a rank-deficient matrix whose det rounds to 1e-16 instead of 0), which the SVD form never forms.
        """
        (a,) = ctx.saved_tensors
        eps = np.finfo(a._data.dtype).eps
        s = np.linalg.svd(a._data, compute_uv=False)
        singular = (s[..., -1] <= s[..., 0] * np.sqrt(eps)) | (np.abs(np.linalg.det(a._data)) < eps)
        if not singular.any():
            return _det_grad_invertible(a, grad)
        if singular.all():
            return _det_grad_singular(a, grad)
        from .joining import cat
        n, batch = a.shape[-1], singular.shape
        flat_a, flat_g, flat = a.reshape(-1, n, n), grad.reshape(-1), singular.reshape(-1)
        rows_s, rows_n = np.flatnonzero(flat), np.flatnonzero(~flat)
        parts = cat([_det_grad_invertible(flat_a[_wrap(rows_n)], flat_g[_wrap(rows_n)]),
                     _det_grad_singular(flat_a[_wrap(rows_s)], flat_g[_wrap(rows_s)])], 0)
        order = np.argsort(np.concatenate([rows_n, rows_s]))           # back to the batch's order
        return parts[_wrap(order)].reshape(batch + (n, n))


def _det_grad_invertible(a, grad):
    return (grad * Det.apply(a))[..., None, None] * Inv.apply(a).mT


def _det_grad_singular(a, grad):
    from .joining import stack, cat
    u, s, vh = SVD.apply(a, False)
    n = s.shape[-1]
    others = stack([cat([s[..., :i], s[..., i + 1:]], -1).prod(-1) for i in range(n)], -1) if n > 1 else s * 0 + 1
    sign = (np.linalg.det(u._data) * np.linalg.det(vh._data)).astype(a._data.dtype)
    return (grad * sign)[..., None, None] * ((u * others[..., None, :]) @ vh)


class SlogDet(Function):
    """(sign, log|det A|).   Backward (through logabsdet only): gA = g A^{-T}; sign has no gradient."""

    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = np.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return np.asarray(sign, dtype=a.dtype), np.asarray(logabsdet, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad_sign, grad_logabsdet):
        (a,) = ctx.saved_tensors
        return np.asarray(grad_logabsdet)[..., None, None] * mT(np.linalg.inv(a))

    @staticmethod
    def graph_backward(ctx, grad_sign, grad_logabsdet):
        (a,) = ctx.saved_tensors
        return grad_logabsdet[..., None, None] * Inv.apply(a).mT


class Cholesky(Function):
    """A = L L^T with L lower triangular (``upper``: A = U^T U, U = L^T); reads A's lower triangle.

    Backward (PyTorch's cholesky_backward): P = tril(L^T gL), P = (P + tril(P, -1)^T) / 2,
    gA = L^{-T} P L^{-1}  (a symmetric gradient).
    """

    @staticmethod
    def forward(ctx, a, upper):
        low = np.linalg.cholesky(a)
        out = mT(low).copy() if upper else low
        ctx.save_for_backward(out)          # the output itself: create_graph links it to this node
        ctx.upper = upper
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        low, g = (mT(out), mT(grad)) if ctx.upper else (out, grad)
        p = np.tril(mT(low) @ g)
        p = 0.5 * (p + mT(np.tril(p, -1)))
        low_inv = np.linalg.inv(low)
        return mT(low_inv) @ p @ low_inv, None

    @staticmethod
    def graph_backward(ctx, grad):
        (out,) = ctx.saved_tensors
        low, g = (out.mT, grad.mT) if ctx.upper else (out, grad)
        p = (low.mT @ g).tril()
        p = 0.5 * (p + p.tril(-1).mT)
        low_inv = Inv.apply(low)
        return low_inv.mT @ p @ low_inv, None


def _qr_square_backward(q, r, gq, gr):
    """gA for A = QR with m >= n:  M = R gR^T - gQ^T Q,  gA = (gQ + Q copyltu(M)) R^{-T},
    copyltu(M) = tril(M, -1) + tril(M, -1)^T + diag(M) (Liao et al. 2019, as PyTorch)."""
    m_ = r @ mT(gr) - mT(gq) @ q
    copyltu = np.tril(m_, -1) + mT(np.tril(m_, -1)) + diag_embed(np.einsum("...ii->...i", m_))
    rhs = gq + q @ copyltu                   # gA R^T = rhs
    return mT(np.linalg.solve(r, mT(rhs)))


def _qr_square_backward_graph(q, r, gq, gr):
    """``_qr_square_backward`` on Tensors (create_graph=True)."""
    m_ = r @ gr.mT - gq.mT @ q
    low = m_.tril(-1)
    rhs = gq + q @ (low + low.mT + _t_diag_embed(_t_diag(m_)))
    return Solve.apply(r, rhs.mT).mT


class QR(Function):
    """A = QR, Q with orthonormal columns, R upper triangular (mode 'reduced', 'complete' or 'r').

    Backward, m >= n: see ``_qr_square_backward``. For m < n, A = [X | Y] and R = [U | V]:
    gY = Q gV and X = QU gets the square formula with gQ + Y gV^T in place of gQ.
    Not differentiable for mode='r' (Q is needed) nor mode='complete' with m > n, as in PyTorch.
    """

    @staticmethod
    def forward(ctx, a, mode):
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        ctx.save_for_backward(a, q, r)
        ctx.mode = mode
        return (np.zeros(a.shape[:-2] + (0,), a.dtype), r) if mode == "r" else (q, r)

    @staticmethod
    def backward(ctx, gq, gr):
        a, q, r = ctx.saved_tensors
        m, n = a.shape[-2:]
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return _qr_square_backward(q, r, gq, gr), None
        y, gu, gv = a[..., m:], gr[..., :m], gr[..., m:]
        gx = _qr_square_backward(q, r[..., :m], gq + y @ mT(gv), gu)
        return np.concatenate([gx, q @ gv], axis=-1), None

    @staticmethod
    def graph_backward(ctx, gq, gr):
        a, q, r = ctx.saved_tensors
        m, n = a.shape[-2:]
        if ctx.mode == "r" or (ctx.mode == "complete" and m > n):
            return QR.backward(ctx, gq, gr)         # raises PyTorch's error
        if m >= n:
            return _qr_square_backward_graph(q, r, gq, gr), None
        from .joining import cat
        y, gu, gv = a[..., m:], gr[..., :m], gr[..., m:]
        gx = _qr_square_backward_graph(q, r[..., :m], gq + y @ gv.mT, gu)
        return cat([gx, q @ gv], -1), None


class SVD(Function):
    """A = U diag(S) Vh with k = min(m, n) singular values (reduced; ``full_matrices`` for U, Vh square).

    Backward (PyTorch's svd_backward, real case), V = Vh^T, gV = gVh^T, E_ij = S_j^2 - S_i^2 (E_ii = 1),
    skew(X) = X - X^T:
        gA = U [ (skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS) ] Vh
             + (I - U U^T) gU S^{-1} Vh   (m > k)   or   + U S^{-1} gV^T (I - V V^T)   (n > k).
    Only gS flowing (svdvals, norms): gA = U diag(gS) Vh. With ``full_matrices`` only the first k columns of
    U (rows of Vh) enter, the gradient of the others is dropped (PyTorch 2.13 narrows them the same way).
    """

    @staticmethod
    def forward(ctx, a, full_matrices):
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        ctx.save_for_backward(u, s, vh)
        ctx.full_matrices = full_matrices
        return u, s.astype(a.dtype, copy=False), vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        u_used, vh_used = u[..., :k], vh[..., :k, :]
        with_vectors = np.any(gu) or np.any(gvh)
        if not with_vectors:
            return (u_used * gs[..., None, :]) @ vh_used, None
        m, n = u.shape[-2], vh.shape[-1]
        gu, gv = gu[..., :k], mT(gvh[..., :k, :])
        v = mT(vh_used)
        s2 = s * s
        e = s2[..., None, :] - s2[..., :, None]
        np.einsum("...ii->...i", e)[...] = 1
        utgu, vtgv = mT(u_used) @ gu, mT(v) @ gv
        ga = ((utgu - mT(utgu)) * s[..., None, :] + s[..., :, None] * (vtgv - mT(vtgv))) / e + diag_embed(gs)
        if m > k:
            gu_sinv = gu / s[..., None, :]
            ga = u_used @ ga + gu_sinv - u_used @ (mT(u_used) @ gu_sinv)
            return ga @ vh_used, None
        if n > k:
            sinv_gvt = mT(gv) / s[..., :, None]
            ga = ga @ vh_used + sinv_gvt - (sinv_gvt @ v) @ vh_used
            return u_used @ ga, None
        return u_used @ ga @ vh_used, None

    @staticmethod
    def graph_backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        u_used, vh_used = u[..., :k], vh[..., :k, :]
        # NOTE: a zero gU / gVh that requires grad still counts (PyTorch tests "defined", not "nonzero")
        with_vectors = gu.requires_grad or gvh.requires_grad or np.any(gu._data) or np.any(gvh._data)
        if not with_vectors:
            return (u_used * gs[..., None, :]) @ vh_used, None
        m, n = u.shape[-2], vh.shape[-1]
        gu, gv = gu[..., :k], gvh[..., :k, :].mT
        v = vh_used.mT
        s2 = s * s
        e = s2[..., None, :] - s2[..., :, None] + _wrap(np.eye(k, dtype=s2._data.dtype))
        utgu, vtgv = u_used.mT @ gu, v.mT @ gv
        ga = ((utgu - utgu.mT) * s[..., None, :] + s[..., :, None] * (vtgv - vtgv.mT)) / e + _t_diag_embed(gs)
        if m > k:
            gu_sinv = gu / s[..., None, :]
            ga = u_used @ ga + gu_sinv - u_used @ (u_used.mT @ gu_sinv)
            return ga @ vh_used, None
        if n > k:
            sinv_gvt = gv.mT / s[..., :, None]
            ga = ga @ vh_used + sinv_gvt - (sinv_gvt @ v) @ vh_used
            return u_used @ ga, None
        return u_used @ ga @ vh_used, None


class Eigh(Function):
    """A = V diag(L) V^T for symmetric A (reads the ``UPLO`` triangle), eigenvalues ascending.

    Backward (PyTorch's linalg_eig_backward, symmetric case), E_ij = L_j - L_i (E_ii = 1):
        gA = V [ (skew(V^T gV) / 2) / E + diag(gL) ] V^T.
    """

    @staticmethod
    def forward(ctx, a, uplo):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w.astype(a.dtype, copy=False), v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        vtgv = mT(v) @ gv
        e = w[..., None, :] - w[..., :, None]
        np.einsum("...ii->...i", e)[...] = 1
        inner = 0.5 * (vtgv - mT(vtgv)) / e + diag_embed(gw)
        return v @ inner @ mT(v), None

    @staticmethod
    def graph_backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        vtgv = v.mT @ gv
        e = w[..., None, :] - w[..., :, None] + _wrap(np.eye(w.shape[-1], dtype=w._data.dtype))
        inner = 0.5 * (vtgv - vtgv.mT) / e + _t_diag_embed(gw)
        return v @ inner @ v.mT, None


class Pinv(Function):
    """A^+ from the SVD: singular values below max(atol, rtol * s_max) count as zero.

    Backward (PyTorch's pinv_backward, the derivative at constant rank), P = A^+, for m <= n:
        K = g^T P,  gA = -(P K)^T + K P^T - A P K P^T + P^T P (g^T - K A);
    for m > n the transposed arrangement of the same formula.
    """

    @staticmethod
    def forward(ctx, a, atol, rtol):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        s_max = s.max(axis=-1, keepdims=True, initial=0)
        tol = np.maximum(atol, rtol * s_max)
        with np.errstate(divide="ignore"):
            s_inv = np.where(s > tol, 1 / np.where(s > tol, s, 1), 0).astype(a.dtype)
        p = (mT(vh) * s_inv[..., None, :]) @ mT(u)
        ctx.save_for_backward(a, p)
        return p

    @staticmethod
    def backward(ctx, grad):
        a, p = ctx.saved_tensors
        m, n = a.shape[-2:]
        ph, gh = mT(p), mT(grad)
        if m <= n:
            k = gh @ p
            k_ph = k @ ph
            return -mT(p @ k) + k_ph - (a @ p) @ k_ph + (ph @ p) @ (gh - k @ a), None, None
        k = p @ gh
        ph_k = ph @ k
        return -mT(k @ p) + (gh - a @ k) @ p @ ph + ph_k - ph_k @ p @ a, None, None

    @staticmethod
    def graph_backward(ctx, grad):
        a, p = ctx.saved_tensors
        m, n = a.shape[-2:]
        ph, gh = p.mT, grad.mT
        if m <= n:
            k = gh @ p
            k_ph = k @ ph
            return -(p @ k).mT + k_ph - (a @ p) @ k_ph + (ph @ p) @ (gh - k @ a), None, None
        k = p @ gh
        ph_k = ph @ k
        return -(k @ p).mT + (gh - a @ k) @ p @ ph + ph_k - ph_k @ p @ a, None, None


class Cross(Function):
    """z = a x b along ``dim`` (size 3).   Backward: ga = b x g,  gb = g x a."""

    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.save_for_backward(a, b)
        ctx.dim = dim
        return np.cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        d = ctx.dim
        ga = unbroadcast(np.cross(b, grad, axis=d), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(np.cross(grad, a, axis=d), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb, None

    @staticmethod
    def graph_backward(ctx, grad):
        a, b = ctx.saved_tensors
        d = ctx.dim
        ga = unbroadcast(Cross.apply(b, grad, d), tuple(a.shape)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(Cross.apply(grad, a, d), tuple(b.shape)) if ctx.needs_input_grad[1] else None
        return ga, gb, None
