"""ExponentialFamily: the base of the distributions of the form p(x; theta) = exp(<t(x), theta> - F(theta) + k(x))."""
import deepdive
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


def _check_no_graph_needed(params):
    if deepdive.is_grad_enabled() and any(p.requires_grad for p in params):
        raise NotImplementedError(
            "ExponentialFamily's generic entropy / KL (Bregman divergence of the log normalizer) is computed as "
            "values only here (a differentiable one would need autograd.grad(create_graph=True) through the log "
            "normalizer); define entropy() / register_kl in closed form, or call it under torch.no_grad()")


class ExponentialFamily(Distribution):
    r"""theta = ``_natural_params``, F = ``_log_normalizer``, E[k(x)] = ``_mean_carrier_measure``.

    The generic entropy is the Bregman identity H = F(theta) - <theta, grad F(theta)> - E[k(x)]
    (Nielsen & Nock); every built-in family overrides it with its closed form. NOTE: the generic form gives
    values only (it says so if a gradient is wanted): lgamma/digamma here have no double backward.
    """

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self):
        _check_no_graph_needed(self._natural_params)
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        with deepdive.enable_grad():
            lg_normal = self._log_normalizer(*nparams)
            gradients = deepdive.autograd.grad(lg_normal.sum(), nparams)
        result = -self._mean_carrier_measure + lg_normal.detach()
        for nparam, g in zip(nparams, gradients):
            result = result - (nparam.detach() * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
