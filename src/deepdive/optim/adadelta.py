"""Adadelta: a learning rate per parameter from running averages of squared gradients and updates."""
import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012).

    .. code-block:: text

        input: gamma (lr), theta_0 (params), f (objective), rho (decay), lambda (weight_decay), epsilon, maximize
        initialize: v_0 <- 0 (square avg), u_0 <- 0 (accumulate variables)
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            if lambda != 0:        g_t <- g_t + lambda theta_{t-1}
            v_t <- v_{t-1} rho + g_t^2 (1 - rho)
            Delta x_t <- sqrt(u_{t-1} + epsilon) / sqrt(v_t + epsilon) g_t
            u_t <- u_{t-1} rho + Delta x_t^2 (1 - rho)
            theta_t <- theta_{t-1} - gamma Delta x_t
        return theta_t

    State per parameter: ``step``, ``square_avg`` (v_t), ``acc_delta`` (u_t).

    Args:
        lr (float, default 1.0): scales the delta, rho (float, default 0.9), eps (float, default 1e-6),
        weight_decay (float, default 0), maximize (bool, default False);
        foreach, capturable, differentiable: accepted for compatibility.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps = float(group["lr"]), group["rho"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, group["weight_decay"], group["maximize"])
                state = self.state[p]
                self._next_step(state)
                square_avg = self._state_tensor(state, "square_avg", p)
                acc_delta = self._state_tensor(state, "acc_delta", p)
                tmp, delta = self._buffer(p, 1), self._buffer(p, 2)
                square_avg *= rho                                    # v <- rho v + (1 - rho) g^2
                np.multiply(grad, grad, out=tmp)
                tmp *= 1 - rho
                square_avg += tmp
                np.add(square_avg, eps, out=tmp)                     # std = sqrt(v + eps)
                np.sqrt(tmp, out=tmp)
                np.add(acc_delta, eps, out=delta)                    # delta = sqrt(u + eps) / std * g
                np.sqrt(delta, out=delta)
                delta /= tmp
                delta *= grad
                acc_delta *= rho                                     # u <- rho u + (1 - rho) delta^2
                np.multiply(delta, delta, out=tmp)
                tmp *= 1 - rho
                acc_delta += tmp
                delta *= lr
                p._data -= delta
                p._version_counter[0] += 1
        return loss
