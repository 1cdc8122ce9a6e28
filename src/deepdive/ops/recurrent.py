"""Recurrent layers over a whole sequence: Elman RNN (tanh / relu), LSTM and GRU.

One ``Function`` runs one layer in one direction over the whole sequence.

NOTE: fused for speed. Built from ordinary ops, a 64-step LSTM records ~1,000
graph nodes and allocates a fresh array for each. Here the forward is one big
matmul for the input side of every step (``X W_ih^T`` for all t at once), then a
NumPy loop over time that writes into preallocated buffers in place; the
backward is backpropagation through time written out, with everything that
depends only on the forward (activation derivatives) computed in bulk before
the loop, and the weight gradients as big matmuls over all steps after it.

Conventions (all arrays, as ``Function.forward`` receives them):
    x      (T, B, I)  time-major input
    h0     (B, H)     initial hidden state, or None for zeros (c0 likewise)
    w_ih   (G*H, I)   input-to-hidden weights, PyTorch's gate order stacked on rows
    w_hh   (G*H, H)   hidden-to-hidden weights
    b_ih, b_hh (G*H,) biases, or None (``bias=False``)
    reverse           run from t = T-1 down to 0 (the backward direction of a
                      bidirectional layer); outputs stay in time order.
    batch_sizes       None, or for a packed batch (sequences sorted by decreasing length,
                      padded to T) the number of sequences still running at each t, as
                      ``PackedSequence.batch_sizes``. Rows past batch_sizes[t] hold their
                      state through step t: going forward a finished sequence keeps its last
                      state (the final state is the last valid step's), in reverse a sequence
                      keeps h0 until its last valid step comes. Their outputs there are not
                      valid steps (the caller packs only the valid ones).
Outputs: ``output`` (T, B, H) with output[t] = h_t, and the final state(s) (B, H).

The hidden states are kept in ``h_seq`` of shape (T+1, B, H): going forward
h_seq[0] = h0 and h_seq[t+1] = h_t; in reverse h_seq[T] = h0 and h_seq[t] = h_t.
So ``output`` and "the previous state of every step" are both plain slices.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd._graph import composite_backward
from ..tensor import _wrap
from . import _fast_lstm

__all__ = []
METHODS = []


# ---------------------------------------------------------------- shared pieces
def _sigmoid_of_negated_(a):
    """In place: ``a`` holds -z and becomes sigma(z) = 1 / (1 + exp(-z)).

    NOTE: the callers negate the sigmoid gates' weight rows once per call, so their matmuls give -z
    directly and the sigmoid is three in-place calls. exp(-z) overflows to inf for z < -88 (float32);
    1 / (1 + inf) = 0 is then the right limit (callers silence the warning with np.errstate).
    """
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


def _input_projection(x, w_ih, b_ih, b_hh=None):
    """W_ih x_t + b_ih (+ b_hh) for every t in ONE matmul: (T, B, I) -> (T, B, G*H), a fresh array."""
    T, B, I = x.shape
    pre = np.matmul(x.reshape(T * B, I), w_ih.T)
    if b_ih is not None:
        pre += b_ih if b_hh is None else b_ih + b_hh      # one pass over the big array
    return pre.reshape(T, B, -1)


def _state_buffer(x, H, s0, reverse):
    """(T+1, B, H) buffer with the initial state in the slot the first step reads."""
    T, B, _ = x.shape
    seq = np.empty((T + 1, B, H), dtype=x.dtype)
    seq[T if reverse else 0] = 0 if s0 is None else s0
    return seq


def _slots(T, reverse):
    """Per step in processing order: (t, slot of h_{t-1} in h_seq, slot of h_t in h_seq)."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def _output_and_prev(seq, reverse):
    """Split a (T+1, B, H) state buffer into (states h_t, previous states h_{t-1}), both in time order."""
    return (seq[:-1], seq[1:]) if reverse else (seq[1:], seq[:-1])


def _active(batch_sizes, t):
    """How many leading rows run at step t (None: all of them)."""
    return None if batch_sizes is None else int(batch_sizes[t])


def _hold(new, old, n):
    """Rows n: of the step's new state keep the previous one (they are past their sequence's end)."""
    if n is not None:
        new[n:] = old[n:]


def _as_many(ctx, grads):
    """One gradient per input the op was given: trailing optional arguments may be left out."""
    return grads[:len(ctx.needs_input_grad)]


def _parameter_grads(ctx, d_in, d_hid, x, h_prev, w_ih):
    """The gradients that sum over all steps, one matmul each.

    With d_in = dL/d(W_ih x_t + b_ih) and d_hid = dL/d(W_hh h_{t-1} + b_hh), both (T, B, G*H):
        dx_t = d_in_t W_ih,   dW_ih = sum_t d_in_t^T x_t,   dW_hh = sum_t d_hid_t^T h_{t-1},
        db_ih = sum_{t,b} d_in,   db_hh = sum_{t,b} d_hid.
    Returns (dx, dw_ih, dw_hh, db_ih, db_hh), None where not needed.
    """
    need, w = ctx.needs_input_grad, ctx.w_index      # w: position of w_ih among forward's inputs
    T, B, I = x.shape
    d_in2 = d_in.reshape(T * B, -1)
    d_hid2 = d_in2 if d_hid is d_in else d_hid.reshape(T * B, -1)
    dx = np.matmul(d_in2, w_ih).reshape(T, B, I) if need[0] else None
    if d_hid2 is d_in2 and need[w] and need[w + 1]:
        # NOTE: [x_t | h_{t-1}] side by side: one matmul for both weights is measurably faster than two.
        both = np.matmul(d_in2.T, np.concatenate([x.reshape(T * B, I), h_prev.reshape(T * B, -1)], axis=1))
        dw_ih, dw_hh = both[:, :I], both[:, I:]
    else:
        dw_ih = np.matmul(d_in2.T, x.reshape(T * B, I)) if need[w] else None
        dw_hh = np.matmul(d_hid2.T, h_prev.reshape(T * B, -1)) if need[w + 1] else None
    db_ih = d_in2.sum(axis=0) if ctx.has_bias and need[w + 2] else None
    db_hh = None
    if ctx.has_bias and need[w + 3]:
        # NOTE: a copy when both biases get the same gradient: each leaf must own its .grad.
        db_hh = db_ih.copy() if d_hid2 is d_in2 and db_ih is not None else d_hid2.sum(axis=0)
    return dx, dw_ih, dw_hh, db_ih, db_hh


# ------------------------------------------------- composites (create_graph=True)
def _affine(x, h, w_ih, w_hh, b_ih, b_hh):
    """x W_ih^T + b_ih (+ h W_hh^T + b_hh when W_hh is given) on Tensors."""
    a = x @ w_ih.t()
    if b_ih is not None:
        a = a + b_ih
    if w_hh is not None:
        a = a + h @ w_hh.t()
        if b_hh is not None:
            a = a + b_hh
    return a


def _unrolled(step, reverse, tensors, n_states, batch_sizes=None, state_sizes=None):
    """The sequence op step by step on Tensors: (output, *final states), as the fused forward returns them.

    ``batch_sizes`` (a packed batch): rows past batch_sizes[t] keep their previous state through step t, as
    ``_hold`` does in the fused forward. ``state_sizes``: the width of each state when they differ (an LSTM
    with a projection: h has proj_size, c hidden_size); else all are W_hh's width.

    NOTE: the fused NumPy forward/backward stay the first-order path; this slower unrolled form exists
    only so that create_graph=True can record (and differentiate) the backward through time.
    """
    from .joining import stack
    x, states, weights = tensors[0], list(tensors[1:1 + n_states]), tensors[1 + n_states:]
    T, B = x.shape[0], x.shape[1]
    sizes = state_sizes or [weights[1].shape[1]] * n_states
    states = [_wrap(np.zeros((B, H), x._data.dtype)) if s is None else s for s, H in zip(states, sizes)]    # zeros
    outputs = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        new = step(x[t], *states, *weights)
        n = _active(batch_sizes, t)
        if n is not None and n < B:
            running = _wrap((np.arange(B) < n)[:, None])
            new = [s_new.where(running, s_old) for s_new, s_old in zip(new, states)]
        states = list(new)
        outputs[t] = states[0]
    return (stack(outputs),) + tuple(states)


# ---------------------------------------------------------------- Elman RNN
class RNNSequence(Function):
    """One layer-direction of ``nn.RNN`` over a whole sequence.

        h_t = act(a_t),   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   act = tanh or relu

    Backward through time, with dh_t = dL/dh_t from the output plus the step after:
        da_t = dh_t * act'(a_t)          (tanh: 1 - h_t^2;  relu: [h_t > 0])
        dh_{t-1} += da_t W_hh
    and the parameter gradients as in ``_parameter_grads`` with d_in = d_hid = da.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False, batch_sizes=None):
        ctx.inputs = (x, h0, w_ih, w_hh, b_ih, b_hh)     # for create_graph (references, no copies)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        pre = _input_projection(x, w_ih, b_ih, b_hh)
        h_seq = _state_buffer(x, H, h0, reverse)
        w_hh_t = np.ascontiguousarray(w_hh.T)       # see LSTMSequence: a contiguous B for the per-step GEMM
        relu = nonlinearity == "relu"
        for t, prev, cur in _slots(T, reverse):
            h = h_seq[cur]
            np.matmul(h_seq[prev], w_hh_t, out=h)
            h += pre[t]
            if relu:
                np.maximum(h, 0, out=h)
            else:
                np.tanh(h, out=h)
            _hold(h, h_seq[prev], _active(batch_sizes, t))
        output, _ = _output_and_prev(h_seq, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, h_seq, output)
        ctx.relu, ctx.reverse, ctx.w_index, ctx.has_bias = relu, reverse, 2, b_ih is not None
        ctx.batch_sizes = batch_sizes
        return output, h_seq[0 if reverse else T].copy()

    @staticmethod
    def backward(ctx, grad_output, grad_hn):
        x, w_ih, w_hh, h_seq, output = ctx.saved_tensors
        T = x.shape[0]
        _, h_prev = _output_and_prev(h_seq, ctx.reverse)
        # Activation derivative of every step, in bulk.
        d_act = (output > 0).astype(output.dtype) if ctx.relu else 1 - output * output
        d_pre = np.empty_like(output)
        dh = grad_hn.copy()
        for t, _, _ in reversed(_slots(T, ctx.reverse)):
            dh += grad_output[t]
            np.multiply(dh, d_act[t], out=d_pre[t])
            n = _active(ctx.batch_sizes, t)
            if n is not None:                        # held rows: no step, the gradient passes through
                d_pre[t, n:] = 0
                held = dh[n:].copy()
            np.matmul(d_pre[t], w_hh, out=dh)
            if n is not None:
                dh[n:] = held
        dx, dw_ih, dw_hh, db_ih, db_hh = _parameter_grads(ctx, d_pre, d_pre, x, h_prev, w_ih)
        dh0 = dh if ctx.needs_input_grad[1] else None
        return _as_many(ctx, (dx, dh0, dw_ih, dw_hh, db_ih, db_hh, None, None, None))

    @staticmethod
    def graph_backward(ctx, *grads):
        def step(x, h, w_ih, w_hh, b_ih, b_hh):
            a = _affine(x, h, w_ih, w_hh, b_ih, b_hh)
            return (a.relu() if ctx.relu else a.tanh(),)
        return composite_backward(ctx, grads, lambda *t: _unrolled(step, ctx.reverse, t, 1, ctx.batch_sizes),
                                  ctx.inputs)

# ---------------------------------------------------------------- LSTM
_IFOG = [0, 1, 3, 2]


def _ifog(array, H):
    """Row blocks of PyTorch's [i, f, g, o] stack reordered to [i, f, o, g] (a copy); the map is its own inverse.

    NOTE: inside the loop the three sigmoid gates then sit side by side, so one call covers all three.
    """
    return array.reshape(4, H, *array.shape[1:])[_IFOG].reshape(array.shape)


class LSTMSequence(Function):
    """One layer-direction of ``nn.LSTM`` over a whole sequence (PyTorch's gate order i, f, g, o).

        [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        i = sigma(a_i),  f = sigma(a_f),  g = tanh(a_g),  o = sigma(a_o)
        c_t = f * c_{t-1} + i * g
        m_t = o * tanh(c_t)
        h_t = m_t,  or with a projection (``proj_size``, Sak et al. 2014)  h_t = W_hr m_t

    Backward through time, with dh_t = dL/dh_t (output + next step), dm_t = dh_t (W_hr), dc_t likewise:
        dW_hr = sum_t dh_t^T m_t
        dc_t += dm_t * o * (1 - tanh^2 c_t)
        da_i = dc_t * g * i(1 - i)            da_f = dc_t * c_{t-1} * f(1 - f)
        da_g = dc_t * i * (1 - g^2)           da_o = dm_t * tanh(c_t) * o(1 - o)
        dc_{t-1} = dc_t * f,                  dh_{t-1} = [da_i, da_f, da_g, da_o] W_hh
    The factors after dc_t / dm_t depend on the forward only and are computed for all t
    before the loop. Parameter gradients: ``_parameter_grads`` with d_in = d_hid = da.

    Internally the gates are kept in the order [i, f, o, g] (see ``_ifog``) and the
    sigmoid rows of the weights are negated once per call (see ``_sigmoid_of_negated_``).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False, w_hr=None, batch_sizes=None):
        # for create_graph (references, no copies); position 7 is ``reverse``
        ctx.inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh) if w_hr is None else (x, h0, c0, w_ih, w_hh, b_ih, b_hh,
                                                                                None, w_hr)
        T, B, _ = x.shape
        H = w_ih.shape[0] // 4
        w_ih, w_hh = _ifog(w_ih, H), _ifog(w_hh, H)
        sign = np.ones((4 * H, 1), dtype=x.dtype)
        sign[:3 * H] = -1                                   # i, f, o rows (see _sigmoid_of_negated_)
        bias = None if b_ih is None else _ifog(b_ih + b_hh, H) * sign[:, 0]
        pre = _input_projection(x, w_ih * sign, bias)      # input side of [-a_i, -a_f, -a_o, a_g]
        # NOTE: W_hh^T is copied to C order once per call: OpenBLAS's (32, 128) x (128, 512) step GEMM
        # runs ~1.4x faster with a C-contiguous B than with the transposed view (measured, 1 thread).
        w_hh_signed_t = np.ascontiguousarray((w_hh * sign).T)
        # NOTE: the sigmoid gates and g get buffers of their own, so every per-step call below
        # runs over contiguous memory (about twice as fast as over slices of a [i, f, o, g] row).
        sigmoids = np.empty((T, B, 3 * H), dtype=x.dtype)          # [i, f, o]
        g_gate = np.empty((T, B, H), dtype=x.dtype)
        h_seq = _state_buffer(x, w_hh.shape[1], h0, reverse)
        c_seq = _state_buffer(x, H, c0, reverse)
        tanh_c = np.empty((T, B, H), dtype=x.dtype)
        m_seq = None if w_hr is None else np.empty((T, B, H), dtype=x.dtype)
        hidden = np.empty((B, 4 * H), dtype=x.dtype)
        i_times_g = np.empty((B, H), dtype=x.dtype)
        fast = (_fast_lstm.forward_kernels.get() if w_hr is None and batch_sizes is None
                and _fast_lstm.usable(x, pre, h_seq, c_seq) else None)
        with np.errstate(over="ignore"):
            for t, prev, cur in _slots(T, reverse) if fast is not None else ():
                # the compiled twin of the loop below (_fast_lstm: same arithmetic, bit-identical)
                np.matmul(h_seq[prev], w_hh_signed_t, out=hidden)
                s, g = sigmoids[t], g_gate[t]
                fast[0](pre[t], hidden, s, g)
                np.exp(s, out=s)
                np.tanh(g, out=g)
                fast[1](s, g, c_seq[prev], c_seq[cur])
                np.tanh(c_seq[cur], out=tanh_c[t])
                np.multiply(s[:, 2 * H:], tanh_c[t], out=h_seq[cur])
            for t, prev, cur in _slots(T, reverse) if fast is None else ():
                np.matmul(h_seq[prev], w_hh_signed_t, out=hidden)     # one matmul for all four gates
                s, g = sigmoids[t], g_gate[t]
                np.add(pre[t, :, :3 * H], hidden[:, :3 * H], out=s)
                _sigmoid_of_negated_(s)                              # i, f, o
                np.add(pre[t, :, 3 * H:], hidden[:, 3 * H:], out=g)
                np.tanh(g, out=g)
                c = c_seq[cur]
                np.multiply(s[:, H:2 * H], c_seq[prev], out=c)
                np.multiply(s[:, :H], g, out=i_times_g)
                c += i_times_g
                np.tanh(c, out=tanh_c[t])
                if w_hr is None:
                    np.multiply(s[:, 2 * H:], tanh_c[t], out=h_seq[cur])
                else:
                    np.multiply(s[:, 2 * H:], tanh_c[t], out=m_seq[t])
                    np.matmul(m_seq[t], w_hr.T, out=h_seq[cur])
                n = _active(batch_sizes, t)
                _hold(c, c_seq[prev], n)
                _hold(h_seq[cur], h_seq[prev], n)
        output, _ = _output_and_prev(h_seq, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, sigmoids, g_gate, h_seq, c_seq, tanh_c, w_hr, m_seq)
        ctx.reverse, ctx.w_index, ctx.has_bias = reverse, 3, b_ih is not None
        ctx.batch_sizes = batch_sizes
        last = 0 if reverse else T
        return output, h_seq[last].copy(), c_seq[last].copy()

    @staticmethod
    def backward(ctx, grad_output, grad_hn, grad_cn):
        x, w_ih, w_hh, sigmoids, g, h_seq, c_seq, tanh_c, w_hr, m_seq = ctx.saved_tensors
        T, B, H = tanh_c.shape
        _, h_prev = _output_and_prev(h_seq, ctx.reverse)
        _, c_prev = _output_and_prev(c_seq, ctx.reverse)
        fast = (_fast_lstm.backward_step.get() if w_hr is None and ctx.batch_sizes is None
                and _fast_lstm.usable(grad_output, grad_hn, grad_cn, sigmoids, h_seq, c_seq) else None)
        if fast is not None:
            # the compiled twin of the bulk factors and the loop below (_fast_lstm: bit-identical)
            d_gates = np.empty((T, B, 4 * H), dtype=g.dtype)
            dh, dc = grad_hn.copy(), grad_cn.copy()
            for t, _, _ in reversed(_slots(T, ctx.reverse)):
                fast(dh, dc, grad_output[t], sigmoids[t], g[t], tanh_c[t], c_prev[t], d_gates[t])
                np.matmul(d_gates[t], w_hh, out=dh)
            return LSTMSequence._finish_backward(ctx, d_gates, x, h_prev, w_ih, dh, dc, None, None)
        i, f, o = sigmoids[..., :H], sigmoids[..., H:2 * H], sigmoids[..., 2 * H:]
        # Everything that depends on the forward only, for all t at once (blocks in [i, f, o, g] order),
        # in place, without temporaries: these arrays are the size of the whole sequence's gates.
        factor = np.empty((T, B, 4 * H), dtype=g.dtype)
        d_sig = factor[..., :3 * H]
        np.multiply(sigmoids, sigmoids, out=d_sig)
        np.subtract(sigmoids, d_sig, out=d_sig)              # s (1 - s) for i, f, o
        factor[..., :H] *= g
        factor[..., H:2 * H] *= c_prev
        factor[..., 2 * H:3 * H] *= tanh_c
        d_g = factor[..., 3 * H:]
        np.multiply(g, g, out=d_g)
        np.subtract(1, d_g, out=d_g)
        d_g *= i                                             # i (1 - g^2)
        dh_to_dc = tanh_c * tanh_c
        np.subtract(1, dh_to_dc, out=dh_to_dc)
        dh_to_dc *= o                                        # o (1 - tanh^2 c)
        factor4 = factor.reshape(T, B, 4, H)
        d_gates = np.empty_like(factor)
        d_gates4 = d_gates.reshape(T, B, 4, H)
        dh, dc = grad_hn.copy(), grad_cn.copy()
        dm = dh if w_hr is None else np.empty((B, H), dtype=dh.dtype)
        dh_all = None if w_hr is None else np.empty_like(grad_output)      # dh_t of every step, for dW_hr
        scratch = np.empty((B, H), dtype=dh.dtype)
        for t, _, _ in reversed(_slots(T, ctx.reverse)):
            dh += grad_output[t]
            n = _active(ctx.batch_sizes, t)
            if n is not None:                        # held rows: no step, the gradients pass through
                held_h, held_c = dh[n:].copy(), dc[n:].copy()
            if w_hr is not None:
                dh_all[t] = dh
                if n is not None:
                    dh_all[t, n:] = 0
                np.matmul(dh, w_hr, out=dm)
            np.multiply(dm, dh_to_dc[t], out=scratch)
            dc += scratch
            np.multiply(dc[:, None, :], factor4[t], out=d_gates4[t])    # da_i, da_f, (o below), da_g
            np.multiply(dm, factor4[t, :, 2], out=d_gates4[t, :, 2])    # da_o
            dc *= f[t]
            if n is not None:
                d_gates[t, n:] = 0
            np.matmul(d_gates[t], w_hh, out=dh)
            if n is not None:
                dh[n:], dc[n:] = held_h, held_c
        return LSTMSequence._finish_backward(ctx, d_gates, x, h_prev, w_ih, dh, dc, dh_all, m_seq)

    @staticmethod
    def _finish_backward(ctx, d_gates, x, h_prev, w_ih, dh, dc, dh_all, m_seq):
        """The gradients summed over all steps, from the gate gradients of every step (both paths)."""
        T, B, H4 = d_gates.shape
        H = H4 // 4
        dx, *weight_grads = _parameter_grads(ctx, d_gates, d_gates, x, h_prev, w_ih)
        # back to PyTorch's [i, f, g, o] rows
        dw_ih, dw_hh, db_ih, db_hh = (None if grad is None else _ifog(grad, H) for grad in weight_grads)
        need = ctx.needs_input_grad
        dw_hr = None
        if m_seq is not None and need[8]:
            dw_hr = np.matmul(dh_all.reshape(T * B, -1).T, m_seq.reshape(T * B, H))
        return _as_many(ctx, (dx, dh if need[1] else None, dc if need[2] else None, dw_ih, dw_hh, db_ih, db_hh,
                              None, dw_hr, None))

    @staticmethod
    def graph_backward(ctx, *grads):
        def step(x, h, c, w_ih, w_hh, b_ih, b_hh, _reverse=None, w_hr=None):
            i, f, g, o = _affine(x, h, w_ih, w_hh, b_ih, b_hh).chunk(4, dim=-1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            m = o.sigmoid() * c.tanh()
            return (m if w_hr is None else m @ w_hr.t()), c
        w_ih, w_hh = ctx.inputs[3], ctx.inputs[4]
        sizes = [w_hh.shape[1], w_ih.shape[0] // 4]          # h (proj_size if any), c (hidden_size)
        return composite_backward(ctx, grads, lambda *t: _unrolled(step, ctx.reverse, t, 2, ctx.batch_sizes, sizes),
                                  ctx.inputs)

# ---------------------------------------------------------------- GRU
class GRUSequence(Function):
    """One layer-direction of ``nn.GRU`` over a whole sequence (PyTorch's gate order r, z, n).

        r = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    Backward through time, with dh_t = dL/dh_t (output + next step) and m = W_hn h_{t-1} + b_hn:
        da_n = dh_t * (1 - z) * (1 - n^2)     (pre-activation of n)
        da_z = dh_t * (h_{t-1} - n) * z(1 - z)
        da_r = da_n * m * r(1 - r)
        input side:  d_in  = [da_r, da_z, da_n]
        hidden side: d_hid = [da_r, da_z, da_n * r]
        dh_{t-1} = dh_t * z + d_hid W_hh
    Every gate gradient is dh_t times a factor of the forward, computed for all t before the loop.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False, batch_sizes=None):
        ctx.inputs = (x, h0, w_ih, w_hh, b_ih, b_hh)     # for create_graph (references, no copies)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        # The r and z rows are negated once per call (see _sigmoid_of_negated_).
        sign = np.ones((3 * H, 1), dtype=x.dtype)
        sign[:2 * H] = -1
        pre = _input_projection(x, w_ih * sign, None if b_ih is None else b_ih * sign[:, 0])
        w_hh_signed_t = np.ascontiguousarray((w_hh * sign).T)     # C order: see LSTMSequence
        b_hh_signed = None if b_hh is None else b_hh * sign[:, 0]
        hidden = np.empty((T, B, 3 * H), dtype=x.dtype)  # [-(W_hr h + b_hr), -(W_hz h + b_hz), m], m kept
        rz = np.empty((T, B, 2 * H), dtype=x.dtype)
        n_gate = np.empty((T, B, H), dtype=x.dtype)
        h_seq = _state_buffer(x, H, h0, reverse)
        scratch = np.empty((B, H), dtype=x.dtype)
        with np.errstate(over="ignore"):
            for t, prev, cur in _slots(T, reverse):
                hw, s, n = hidden[t], rz[t], n_gate[t]
                np.matmul(h_seq[prev], w_hh_signed_t, out=hw)
                if b_hh_signed is not None:
                    hw += b_hh_signed
                np.add(pre[t, :, :2 * H], hw[:, :2 * H], out=s)
                _sigmoid_of_negated_(s)                          # r, z
                np.multiply(s[:, :H], hw[:, 2 * H:], out=n)
                n += pre[t, :, 2 * H:]
                np.tanh(n, out=n)
                np.subtract(h_seq[prev], n, out=scratch)          # h_t = n + z * (h_{t-1} - n)
                scratch *= s[:, H:]
                np.add(n, scratch, out=h_seq[cur])
                _hold(h_seq[cur], h_seq[prev], _active(batch_sizes, t))
        output, _ = _output_and_prev(h_seq, reverse)
        ctx.save_for_backward(x, w_ih, w_hh, rz, n_gate, hidden, h_seq, output)
        ctx.reverse, ctx.w_index, ctx.has_bias = reverse, 2, b_ih is not None
        ctx.batch_sizes = batch_sizes
        return output, h_seq[0 if reverse else T].copy()

    @staticmethod
    def backward(ctx, grad_output, grad_hn):
        x, w_ih, w_hh, rz, n, hidden, h_seq, output = ctx.saved_tensors
        T, B, H = output.shape
        _, h_prev = _output_and_prev(h_seq, ctx.reverse)
        r, z = rz[..., :H], rz[..., H:]
        m = hidden[..., 2 * H:]
        # d_in = dh_t * factor_in, d_hid = dh_t * factor_hid, for all t at once.
        factor_in = np.empty_like(hidden)
        np.multiply(1 - z, 1 - n * n, out=factor_in[..., 2 * H:])
        np.multiply(factor_in[..., 2 * H:] * m, r * (1 - r), out=factor_in[..., :H])
        np.multiply(h_prev - n, z * (1 - z), out=factor_in[..., H:2 * H])
        factor_hid = factor_in.copy()
        factor_hid[..., 2 * H:] *= r
        factor_hid3 = factor_hid.reshape(T, B, 3, H)
        d_hid = np.empty_like(hidden)
        d_hid3 = d_hid.reshape(T, B, 3, H)
        dh_all = np.empty_like(output)
        dh = grad_hn.copy()
        scratch = np.empty_like(dh)
        for t, _, _ in reversed(_slots(T, ctx.reverse)):
            dh_t = dh_all[t]
            np.add(dh, grad_output[t], out=dh_t)
            np.multiply(dh_t[:, None, :], factor_hid3[t], out=d_hid3[t])
            n = _active(ctx.batch_sizes, t)
            if n is not None:                        # held rows: no step, the gradient passes through
                d_hid[t, n:] = 0
            np.matmul(d_hid[t], w_hh, out=dh)
            np.multiply(dh_t, z[t], out=scratch)
            dh += scratch
            if n is not None:
                dh[n:] = dh_t[n:]
                dh_t[n:] = 0                         # and no input-side gradient (d_in below)
        d_in = (dh_all[:, :, None, :] * factor_in.reshape(T, B, 3, H)).reshape(T, B, 3 * H)
        dx, dw_ih, dw_hh, db_ih, db_hh = _parameter_grads(ctx, d_in, d_hid, x, h_prev, w_ih)
        return _as_many(ctx, (dx, dh if ctx.needs_input_grad[1] else None, dw_ih, dw_hh, db_ih, db_hh, None, None))

    @staticmethod
    def graph_backward(ctx, *grads):
        def step(x, h, w_ih, w_hh, b_ih, b_hh):
            xr, xz, xn = _affine(x, None, w_ih, None, b_ih, None).chunk(3, dim=-1)
            hr, hz, hn = _affine(h, None, w_hh, None, b_hh, None).chunk(3, dim=-1)
            r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
            n = (xn + r * hn).tanh()
            return ((1 - z) * n + z * h,)
        return composite_backward(ctx, grads, lambda *t: _unrolled(step, ctx.reverse, t, 1, ctx.batch_sizes),
                                  ctx.inputs)

