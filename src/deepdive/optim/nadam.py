"""NAdam: Adam with Nesterov momentum."""
import numpy as np

from ..tensor import _wrap
from .optimizer import Optimizer, _check

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), with the momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)).

    .. code-block:: text

        input: gamma_t (lr), beta1, beta2 (betas), theta_0 (params), f (objective), lambda (weight_decay),
               psi (momentum_decay), decoupled_weight_decay, maximize, epsilon
        initialize: m_0 <- 0, v_0 <- 0
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            theta_t <- theta_{t-1}
            if lambda != 0:
                if decoupled_weight_decay:  theta_t <- theta_{t-1} - gamma lambda theta_{t-1}
                else:                       g_t <- g_t + lambda theta_{t-1}
            mu_t <- beta1 (1 - 0.5 * 0.96^(t psi))
            mu_{t+1} <- beta1 (1 - 0.5 * 0.96^((t+1) psi))
            m_t <- beta1 m_{t-1} + (1 - beta1) g_t
            v_t <- beta2 v_{t-1} + (1 - beta2) g_t^2
            m_hat_t <- mu_{t+1} m_t / (1 - prod_{i=1}^{t+1} mu_i) + (1 - mu_t) g_t / (1 - prod_{i=1}^{t} mu_i)
            v_hat_t <- v_t / (1 - beta2^t)
            theta_t <- theta_t - gamma m_hat_t / (sqrt(v_hat_t) + epsilon)
        return theta_t

    State per parameter: ``step``, ``mu_product`` (float32, as PyTorch), ``exp_avg``, ``exp_avg_sq``.

    Args: lr (default 2e-3), betas (default (0.9, 0.999)), eps (default 1e-8), weight_decay (default 0),
    momentum_decay (default 4e-3), decoupled_weight_decay (default False), maximize (default False);
    foreach, capturable, differentiable: accepted for compatibility.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], group["eps"]
            weight_decay, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, 0 if decoupled else weight_decay, group["maximize"])
                if decoupled and weight_decay:
                    p._data *= 1 - lr * weight_decay
                state = self.state[p]
                step = self._next_step(state)
                if "mu_product" not in state:
                    state["mu_product"] = _wrap(np.ones((), np.float32))
                mu_product = state["mu_product"]._data
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
                mu_product *= mu                                # kept in float32, as PyTorch does
                mu_product_now = float(mu_product)
                exp_avg, exp_avg_sq, tmp = self._adam_moments(p, state, grad, beta1, beta2)
                denom = self._buffer(p, 2)
                np.divide(exp_avg_sq, 1 - beta2 ** step, out=denom)
                np.sqrt(denom, out=denom)
                denom += eps
                np.divide(grad, denom, out=tmp)                 # the Nesterov look-ahead: current gradient ...
                tmp *= lr * (1.0 - mu) / (1.0 - mu_product_now)
                p._data -= tmp
                np.divide(exp_avg, denom, out=tmp)              # ... plus the next step's momentum
                tmp *= lr * mu_next / (1.0 - mu_product_now * mu_next)
                p._data -= tmp
                p._version_counter[0] += 1
        return loss
