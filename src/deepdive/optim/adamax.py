"""Adamax: Adam with the infinity norm in place of the root mean square."""
import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2014, section 7.1).

    .. code-block:: text

        input: gamma (lr), beta1, beta2 (betas), theta_0 (params), f (objective), lambda (weight_decay),
               epsilon, maximize
        initialize: m_0 <- 0 (first moment), u_0 <- 0 (infinity norm)
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            if lambda != 0:        g_t <- g_t + lambda theta_{t-1}
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            u_t <- max(beta2 u_{t-1}, |g_t| + epsilon)
            theta_t <- theta_{t-1} - gamma m_t / ((1 - beta1^t) u_t)
        return theta_t

    State per parameter: ``step``, ``exp_avg`` (m_t), ``exp_inf`` (u_t).

    Args: lr (float, default 2e-3), betas (default (0.9, 0.999)), eps (default 1e-8),
    weight_decay (default 0), maximize (default False); foreach, differentiable, capturable: accepted
    for compatibility.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, group["weight_decay"], group["maximize"])
                state = self.state[p]
                step = self._next_step(state)
                exp_avg = self._state_tensor(state, "exp_avg", p)
                exp_inf = self._state_tensor(state, "exp_inf", p)
                tmp = self._buffer(p, 1)
                np.subtract(grad, exp_avg, out=tmp)             # m <- m + (1 - beta1) (g - m)
                tmp *= 1 - beta1
                exp_avg += tmp
                exp_inf *= beta2                                # u <- max(beta2 u, |g| + eps)
                np.abs(grad, out=tmp)
                tmp += eps
                np.maximum(exp_inf, tmp, out=exp_inf)
                np.divide(exp_avg, exp_inf, out=tmp)
                tmp *= lr / (1 - beta1 ** step)
                p._data -= tmp
                p._version_counter[0] += 1
        return loss
