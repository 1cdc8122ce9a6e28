"""Rprop: per-weight step sizes that grow while the gradient keeps its sign and shrink when it flips."""
import numpy as np

from .optimizer import Optimizer, _check

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993). Only the sign of the gradient is used,
    which suits full-batch training (mini-batch noise flips signs).

    .. code-block:: text

        input: theta_0 (params), f (objective), eta_+/-, (etaplus, etaminus), Gamma_max/min (step sizes),
               eta_0 (lr), maximize
        initialize: g_prev <- 0, eta_prev <- eta_0 (every weight)
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            for each weight i:
                if g_prev^i g_t^i > 0:   eta_t^i <- min(eta_{t-1}^i eta_+, Gamma_max)
                elif g_prev^i g_t^i < 0: eta_t^i <- max(eta_{t-1}^i eta_-, Gamma_min);   g_t^i <- 0
                else:                    eta_t^i <- eta_{t-1}^i
            theta_t <- theta_{t-1} - eta_t sign(g_t)
            g_prev <- g_t
        return theta_t

    State per parameter: ``step``, ``prev`` (g_prev), ``step_size`` (eta).

    Args: lr (default 1e-2): the initial step size, etas (default (0.5, 1.2)): (etaminus, etaplus),
    step_sizes (default (1e-6, 50)): (min, max), maximize (default False);
    foreach, capturable, differentiable: accepted for compatibility.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            (etaminus, etaplus), (step_size_min, step_size_max) = group["etas"], group["step_sizes"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = self._regularized_grad(p, 0, group["maximize"])
                state = self.state[p]
                self._next_step(state)
                prev = self._state_tensor(state, "prev", p)
                step_size = self._state_tensor(state, "step_size", p, float(group["lr"]))
                factor = self._buffer(p, 1)
                np.multiply(grad, prev, out=factor)
                flipped = factor < 0
                np.sign(factor, out=factor)                     # +1 same sign, -1 flipped, 0 either is zero
                factor[factor > 0] = etaplus
                factor[flipped] = etaminus
                factor[factor == 0] = 1
                step_size *= factor
                np.clip(step_size, step_size_min, step_size_max, out=step_size)
                np.copyto(prev, grad)
                prev[flipped] = 0                               # after a sign flip, skip this weight once
                np.sign(prev, out=factor)
                factor *= step_size
                p._data -= factor
                p._version_counter[0] += 1
        return loss
