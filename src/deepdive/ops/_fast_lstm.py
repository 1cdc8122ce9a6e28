"""Compiled twins (numba, see ``deepdive._fast``) of ``LSTMSequence``'s per-time-step pointwise work.

The NumPy code in ``recurrent.py`` is the reference; these kernels do the same float32 arithmetic in the
same order, one pass per step instead of about ten NumPy calls, and give BIT-IDENTICAL results (no
fastmath: no reassociation, no fused multiply-add; the parity tests run on both paths and compare them
exactly). The transcendentals (exp, tanh) stay NumPy calls: NumPy's are SIMD and accurate, numba's
scalar libm calls measured 6x (exp) and 50x (tanh) slower here. The GEMMs stay OpenBLAS (np.matmul).

Layouts as in ``LSTMSequence``: gates in the order [i, f, o, g]; s = the three sigmoids (B, 3H); g (B, H).

    gate_inputs:  s = pre[:, :3H] + hid[:, :3H]   (= -a for i, f, o: the rows are negated, see
                  ``_sigmoid_of_negated_``),   g = pre[:, 3H:] + hid[:, 3H:]
    cell:         s = 1 / (s + 1)  (s held exp(-a): now sigma(a)),   c = f * c_prev + i * g
    backward_step (dL/dh_t = dh + grad_out_t, dm = that; dc carries dL/dc_t from the step after):
                  dc += dm * ((1 - tanh_c^2) * o)
                  da_i = dc * ((i - i^2) g),   da_f = dc * ((f - f^2) c_prev),
                  da_o = dm * ((o - o^2) tanh_c),   da_g = dc * ((1 - g^2) i),   then dc *= f
                  (the factor expressions in the order the NumPy path evaluates them in bulk).
float32 only; other dtypes, packed batches (batch_sizes) and projections (proj_size) run the NumPy path.
"""
import numpy as np

from .. import _fast


def _build_forward():
    import numba

    @numba.njit(cache=True, nogil=True)
    def gate_inputs(pre, hid, s, g):
        B, H3 = s.shape
        H = g.shape[1]
        for b in range(B):
            for j in range(H3):
                s[b, j] = pre[b, j] + hid[b, j]
            for j in range(H):
                g[b, j] = pre[b, H3 + j] + hid[b, H3 + j]

    @numba.njit(cache=True, nogil=True)
    def cell(s, g, c_prev, c):
        B, H = c.shape
        one = np.float32(1.0)
        for b in range(B):
            for j in range(3 * H):
                s[b, j] = one / (s[b, j] + one)
            for j in range(H):
                c[b, j] = s[b, H + j] * c_prev[b, j] + s[b, j] * g[b, j]

    return gate_inputs, cell


def _build_backward():
    import numba

    @numba.njit(cache=True, nogil=True)
    def backward_step(dh, dc, grad_out, s, g, tanh_c, c_prev, d_gates):
        B, H = dc.shape
        one = np.float32(1.0)
        for b in range(B):
            for j in range(H):
                i, f, o = s[b, j], s[b, H + j], s[b, 2 * H + j]
                gg, tc, cp = g[b, j], tanh_c[b, j], c_prev[b, j]
                dm = dh[b, j] + grad_out[b, j]
                d = dc[b, j] + dm * ((one - tc * tc) * o)
                d_gates[b, j] = d * ((i - i * i) * gg)
                d_gates[b, H + j] = d * ((f - f * f) * cp)
                d_gates[b, 2 * H + j] = dm * ((o - o * o) * tc)
                d_gates[b, 3 * H + j] = d * ((one - gg * gg) * i)
                dc[b, j] = d * f
    return backward_step


def _check_forward(kernels):
    gate_inputs, cell = kernels
    rng = np.random.default_rng(0)
    B, H = 3, 4
    pre, hid = (rng.standard_normal((B, 4 * H)).astype(np.float32) for _ in range(2))
    c_prev = rng.standard_normal((B, H)).astype(np.float32)
    s, g, c = np.empty((B, 3 * H), np.float32), np.empty((B, H), np.float32), np.empty((B, H), np.float32)
    gate_inputs(pre, hid, s, g)
    np.exp(s, out=s)
    cell(s, g, c_prev, c)
    s_ref = 1 / (np.exp(pre[:, :3 * H] + hid[:, :3 * H]) + np.float32(1))
    c_ref = s_ref[:, H:2 * H] * c_prev + s_ref[:, :H] * (pre[:, 3 * H:] + hid[:, 3 * H:])
    return np.array_equal(s, s_ref) and np.array_equal(c, c_ref)


def _check_backward(kernel):
    rng = np.random.default_rng(0)
    B, H = 3, 4
    dh, dc, grad_out, g, tanh_c, c_prev = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(6))
    s = rng.random((B, 3 * H)).astype(np.float32)
    d_gates = np.empty((B, 4 * H), np.float32)
    dc_in = dc.copy()
    kernel(dh, dc, grad_out, s, g, tanh_c, c_prev, d_gates)
    i, f, o = s[:, :H], s[:, H:2 * H], s[:, 2 * H:]
    dm = dh + grad_out
    d = dc_in + dm * ((1 - tanh_c * tanh_c) * o)
    ref = np.concatenate([d * ((i - i * i) * g), d * ((f - f * f) * c_prev), dm * ((o - o * o) * tanh_c),
                          d * ((1 - g * g) * i)], axis=1)
    return np.array_equal(d_gates, ref) and np.array_equal(dc, d * f)


forward_kernels = _fast.Kernel("lstm_forward_pointwise", _build_forward, check=_check_forward)
backward_step = _fast.Kernel("lstm_backward_pointwise", _build_backward, check=_check_backward)


def usable(*arrays):
    """Whether the compiled path applies: all float32 (any strides: numba compiles a version per layout)."""
    return all(a.dtype == np.float32 for a in arrays)
