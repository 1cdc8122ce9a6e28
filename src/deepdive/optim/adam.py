"""Adam: per-parameter step sizes from running averages of the gradient and its square."""
import math

import numpy as np

from .optimizer import Optimizer, _check
from ._fast_adam import adam_update as _adam_update

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), with the AMSGrad variant and L2 weight decay.

    .. code-block:: text

        input: gamma (lr), beta1, beta2 (betas), theta_0 (params), f (objective),
               lambda (weight_decay), amsgrad, maximize, epsilon
        initialize: m_0 <- 0, v_0 <- 0, v_0^max <- 0
        for t = 1 to ...:
            if maximize:           g_t <- -grad f_t(theta_{t-1})
            else:                  g_t <- grad f_t(theta_{t-1})
            if lambda != 0:
                if decoupled:      theta_{t-1} <- theta_{t-1} - gamma lambda theta_{t-1}
                else:              g_t <- g_t + lambda theta_{t-1}
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            m_hat_t <- m_t / (1 - beta1^t)
            if amsgrad:
                v_t^max <- max(v_{t-1}^max, v_t)
                v_hat_t <- v_t^max / (1 - beta2^t)
            else:
                v_hat_t <- v_t / (1 - beta2^t)
            theta_t <- theta_{t-1} - gamma m_hat_t / (sqrt(v_hat_t) + epsilon)
        return theta_t

    State per parameter: ``step``, ``exp_avg`` (m_t), ``exp_avg_sq`` (v_t), ``max_exp_avg_sq`` (amsgrad).

    Args:
        params: parameters or parameter groups to optimize.
        lr (float, default 1e-3), betas (tuple, default (0.9, 0.999)), eps (float, default 1e-8).
        weight_decay (float, default 0): L2 penalty added to the gradient (see ``AdamW`` for the
            decoupled form, or pass ``decoupled_weight_decay=True``).
        amsgrad (bool, default False), maximize (bool, default False).
        foreach, capturable, differentiable, fused: accepted for PyTorch compatibility (deepdive has
            one NumPy implementation).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], group["eps"]
            weight_decay, amsgrad, decoupled = group["weight_decay"], group["amsgrad"], group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if self._compiled_step(p, group):
                    continue
                grad = self._regularized_grad(p, 0 if decoupled else weight_decay, group["maximize"])
                if decoupled and weight_decay:
                    p._data *= 1 - lr * weight_decay
                state = self.state[p]
                step = self._next_step(state)
                exp_avg, exp_avg_sq, tmp = self._adam_moments(p, state, grad, beta1, beta2)
                if amsgrad:
                    v = self._state_tensor(state, "max_exp_avg_sq", p)
                    np.maximum(v, exp_avg_sq, out=v)
                else:
                    v = exp_avg_sq
                step_size = lr / (1 - beta1 ** step)
                np.sqrt(v, out=tmp)                             # denominator sqrt(v_hat) + eps
                tmp /= math.sqrt(1 - beta2 ** step)
                tmp += eps
                np.divide(exp_avg, tmp, out=tmp)
                tmp *= step_size
                p._data -= tmp
                p._version_counter[0] += 1
        return loss

    def _compiled_step(self, p, group):
        """The same update in one compiled pass (optim/_fast_adam.py, bit-identical), when numba is there and
        the parameter, its gradient and its state are contiguous float arrays of one dtype; else False."""
        kernel = _adam_update.get()
        param, grad = p._data, p.grad._data
        if kernel is None or param.dtype.kind != "f" or param.dtype.itemsize < 4 or grad.dtype != param.dtype \
                or not (param.flags.c_contiguous and grad.flags.c_contiguous):
            return False
        state = self.state[p]
        amsgrad = bool(group["amsgrad"])
        exp_avg = self._state_tensor(state, "exp_avg", p)
        exp_avg_sq = self._state_tensor(state, "exp_avg_sq", p)
        max_exp_avg_sq = self._state_tensor(state, "max_exp_avg_sq", p) if amsgrad else exp_avg_sq
        if not all(a.flags.c_contiguous and a.dtype == param.dtype for a in (exp_avg, exp_avg_sq, max_exp_avg_sq)):
            return False
        step = self._next_step(state)
        lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], group["eps"]
        weight_decay, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
        dtype = param.dtype.type
        kernel(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
               max_exp_avg_sq.reshape(-1), amsgrad, bool(group["maximize"]),
               dtype(0 if decoupled else weight_decay), dtype(1 - lr * weight_decay if decoupled else 1),
               dtype(1 - beta1), dtype(beta2), dtype(1 - beta2), dtype(math.sqrt(1 - beta2 ** step)), dtype(eps),
               dtype(lr / (1 - beta1 ** step)))
        p._version_counter[0] += 1
        return True
