"""Adagrad: step sizes that shrink with each parameter's accumulated squared gradients."""
import numpy as np

from ..tensor import _wrap
from .optimizer import Optimizer, _check

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011).

    .. code-block:: text

        input: gamma (lr), theta_0 (params), f (objective), lambda (weight_decay),
               tau (initial_accumulator_value), eta (lr_decay), epsilon, maximize
        initialize: state_sum_0 <- tau
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            gamma~ <- gamma / (1 + (t - 1) eta)
            if lambda != 0:        g_t <- g_t + lambda theta_{t-1}
            state_sum_t <- state_sum_{t-1} + g_t^2
            theta_t <- theta_{t-1} - gamma~ g_t / (sqrt(state_sum_t) + epsilon)
        return theta_t

    State per parameter (created at construction, as PyTorch): ``step``, ``sum``.

    Args:
        lr (float, default 1e-2), lr_decay (float, default 0), weight_decay (float, default 0),
        initial_accumulator_value (float, default 0), eps (float, default 1e-10), maximize (bool, default False);
        foreach, differentiable, fused: accepted for compatibility.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _wrap(np.zeros((), np.float32))
                state["sum"] = _wrap(np.full_like(p._data, group["initial_accumulator_value"]))

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = float(group["lr"]), group["lr_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, group["weight_decay"], group["maximize"])
                state = self.state[p]
                step = self._next_step(state)
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = self._state_tensor(state, "sum", p, group["initial_accumulator_value"])
                std = self._buffer(p, 1)
                np.multiply(grad, grad, out=std)
                state_sum += std
                np.sqrt(state_sum, out=std)
                std += eps
                np.divide(grad, std, out=std)
                std *= clr
                p._data -= std
                p._version_counter[0] += 1
        return loss
