"""RAdam: Adam with the variance of its adaptive step rectified in the first steps."""
import math

import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2019): plain momentum SGD while the second-moment estimate is unreliable,
    then Adam scaled by a rectification term r_t.

    .. code-block:: text

        input: gamma (lr), beta1, beta2 (betas), theta_0 (params), f (objective), lambda (weight_decay),
               decoupled_weight_decay, maximize, epsilon
        initialize: m_0 <- 0, v_0 <- 0, rho_inf <- 2 / (1 - beta2) - 1
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            theta_t <- theta_{t-1}
            if lambda != 0:
                if decoupled_weight_decay:  theta_t <- theta_t - gamma lambda theta_t
                else:                       g_t <- g_t + lambda theta_t
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            m_hat_t <- m_t / (1 - beta1^t)
            rho_t <- rho_inf - 2 t beta2^t / (1 - beta2^t)
            if rho_t > 5:
                l_t <- sqrt(1 - beta2^t) / (sqrt(v_t) + epsilon)
                r_t <- sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                theta_t <- theta_t - gamma m_hat_t l_t r_t
            else:
                theta_t <- theta_t - gamma m_hat_t
        return theta_t

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Args: lr (default 1e-3), betas (default (0.9, 0.999)), eps (default 1e-8), weight_decay (default 0),
    decoupled_weight_decay (default False), maximize (default False); foreach, capturable,
    differentiable: accepted for compatibility.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], group["eps"]
            weight_decay, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
            rho_inf = 2 / (1 - beta2) - 1
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, 0 if decoupled else weight_decay, group["maximize"])
                if decoupled and weight_decay:
                    p._data *= 1 - lr * weight_decay
                state = self.state[p]
                step = self._next_step(state)
                exp_avg, exp_avg_sq, tmp = self._adam_moments(p, state, grad, beta1, beta2)
                bias_correction1, bias_correction2 = 1 - beta1 ** step, 1 - beta2 ** step
                rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
                if rho_t > 5.0:                                 # the variance is tractable: rectified Adam step
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    np.sqrt(exp_avg_sq, out=tmp)
                    tmp += eps
                    np.divide(exp_avg, tmp, out=tmp)
                    tmp *= lr * math.sqrt(bias_correction2) * rect / bias_correction1
                else:                                           # early steps: momentum SGD
                    np.multiply(exp_avg, lr / bias_correction1, out=tmp)
                p._data -= tmp
                p._version_counter[0] += 1
        return loss
