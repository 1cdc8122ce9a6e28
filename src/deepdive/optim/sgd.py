"""Stochastic gradient descent, with momentum, Nesterov momentum and L2 weight decay."""
import numpy as np

from ..tensor import _wrap
from .optimizer import Optimizer, SMALL, _check

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum).

    .. code-block:: text

        input: lr (gamma), params (theta_0), f (objective), weight_decay (lambda),
               momentum (mu), dampening (tau), nesterov, maximize
        for t = 1 to ...:
            g_t <- grad f_t(theta_{t-1})
            if maximize:           g_t <- -g_t
            if lambda != 0:        g_t <- g_t + lambda theta_{t-1}
            if mu != 0:
                if t > 1:          b_t <- mu b_{t-1} + (1 - tau) g_t
                else:              b_t <- g_t
                if nesterov:       g_t <- g_t + mu b_t
                else:              g_t <- b_t
            theta_t <- theta_{t-1} - gamma g_t
        return theta_t

    State per parameter: ``momentum_buffer`` (b_t), only when momentum != 0.

    Args:
        params: parameters or parameter groups to optimize.
        lr (float, default 1e-3): learning rate.
        momentum (float, default 0), dampening (float, default 0), nesterov (bool, default False).
        weight_decay (float, default 0): L2 penalty coupled into the gradient.
        maximize (bool, default False): ascend the objective instead.
        foreach, differentiable, fused: accepted and stored for PyTorch compatibility (same state-dict
            keys); deepdive has one NumPy implementation.

    Example::

        >>> optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, momentum, dampening = float(group["lr"]), group["momentum"], group["dampening"]
            weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            plain = not weight_decay and not maximize
            for p in group["params"]:
                grad = p._grad      # not p.grad: the property's non-leaf check costs a call per parameter
                if grad is None:
                    continue
                grad = grad._data if plain else self._regularized_grad(p, weight_decay, maximize)
                if momentum:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        state["momentum_buffer"] = _wrap(grad.copy())
                        buf = state["momentum_buffer"]._data
                    else:
                        buf = buf._data
                        buf *= momentum
                        if dampening:
                            buf += (1 - dampening) * grad
                        else:
                            buf += grad
                    if nesterov:
                        scratch = self._buffer(p, 1)
                        np.multiply(buf, momentum, out=scratch)
                        scratch += grad
                        grad = scratch
                    else:
                        grad = buf
                p._data -= lr * grad if grad.size < SMALL else np.multiply(grad, lr, out=self._buffer(p, 1))
                p._version_counter[0] += 1
        return loss
