"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), optionally centered (Graves, 2013) and with momentum.

    .. code-block:: text

        input: alpha (alpha), gamma (lr), theta_0 (params), f (objective), lambda (weight_decay),
               mu (momentum), centered, epsilon, maximize
        initialize: v_0 <- 0 (square average), b_0 <- 0 (buffer), g_0^ave <- 0
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            if lambda != 0:        g_t <- g_t + lambda theta_{t-1}
            v_t <- alpha v_{t-1} + (1 - alpha) g_t^2
            v_t~ <- v_t
            if centered:
                g_t^ave <- g_{t-1}^ave alpha + (1 - alpha) g_t
                v_t~ <- v_t~ - (g_t^ave)^2
            if mu > 0:
                b_t <- mu b_{t-1} + g_t / (sqrt(v_t~) + epsilon)
                theta_t <- theta_{t-1} - gamma b_t
            else:
                theta_t <- theta_{t-1} - gamma g_t / (sqrt(v_t~) + epsilon)
        return theta_t

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).

    Args:
        lr (float, default 1e-2), alpha (float, default 0.99): smoothing constant, eps (float, default 1e-8),
        weight_decay (float, default 0), momentum (float, default 0), centered (bool, default False),
        maximize (bool, default False); foreach, capturable, differentiable: accepted for compatibility.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps, momentum = float(group["lr"]), group["alpha"], group["eps"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, group["weight_decay"], group["maximize"])
                state = self.state[p]
                self._next_step(state)
                square_avg = self._state_tensor(state, "square_avg", p)
                avg = self._buffer(p, 1)
                square_avg *= alpha                                  # v <- alpha v + (1 - alpha) g^2
                np.multiply(grad, grad, out=avg)
                avg *= 1 - alpha
                square_avg += avg
                if group["centered"]:
                    grad_avg = self._state_tensor(state, "grad_avg", p)
                    np.subtract(grad, grad_avg, out=avg)             # g_ave <- g_ave + (1 - alpha)(g - g_ave)
                    avg *= 1 - alpha
                    grad_avg += avg
                    np.multiply(grad_avg, grad_avg, out=avg)
                    np.subtract(square_avg, avg, out=avg)
                    np.sqrt(avg, out=avg)
                else:
                    np.sqrt(square_avg, out=avg)
                avg += eps
                np.divide(grad, avg, out=avg)                        # g / (sqrt(v~) + eps)
                if momentum > 0:
                    buf = self._state_tensor(state, "momentum_buffer", p)
                    buf *= momentum
                    buf += avg
                    np.multiply(buf, lr, out=avg)
                else:
                    avg *= lr
                p._data -= avg
                p._version_counter[0] += 1
        return loss
