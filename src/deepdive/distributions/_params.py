"""The probs | logits parameterisations shared by several distributions.

Bernoulli, ContinuousBernoulli, Binomial, Geometric, NegativeBinomial and LogitRelaxedBernoulli all take
exactly one of ``probs`` or ``logits`` (p = sigmoid(logits)), store the one given, and derive the other lazily
on first use, as PyTorch does. The constructor check, the broadcast with the other parameters, ``expand``
copying whichever of the two is set, and the two lazy conversions are the same code in each: BinaryProbsLogits.
Categorical shares the check and expand (ProbsOrLogits; its probs are softmax(logits)). Multinomial and
ExpRelaxedCategorical instead keep a Categorical and read both from it: CategoricalParams.
"""
from .utils import broadcast_all, lazy_property, logits_to_probs, probs_to_logits


class ProbsOrLogits:
    """Mixin: exactly one of ``probs`` / ``logits`` is given and stored (as ``self._param`` too); the other is
    computed on first use, so ``expand`` copies whichever ones exist."""

    @staticmethod
    def _check_probs_or_logits(probs, logits):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")

    def _expand_probs_or_logits(self, new, shape):
        """Copy into ``new`` whichever of probs / logits ``self`` has, expanded to ``shape``."""
        # NOTE: both may be in __dict__ once the lazy one has been read; expanding both saves recomputing it.
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(shape)
            new._param = new.logits


class BinaryProbsLogits(ProbsOrLogits):
    """ProbsOrLogits for two outcomes, p = sigmoid(logits): the parameters broadcast with any others."""

    def _set_probs_or_logits(self, probs, logits, *others):
        """Store whichever of probs / logits is given, broadcast with ``others``; return the broadcast others.

        ``self._param`` is the stored one: its shape is the batch shape (a plain number becomes a 0-d Tensor),
        its dtype the samples'.
        """
        self._check_probs_or_logits(probs, logits)
        name, given = ("probs", probs) if probs is not None else ("logits", logits)
        *others, param = broadcast_all(*others, given)
        setattr(self, name, param)
        self._param = param
        return others

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)


class CategoricalParams:
    """Mixin for the distributions built on a Categorical held as ``self._categorical`` (Multinomial,
    ExpRelaxedCategorical): their probs / logits, and so their parameter shape, are the Categorical's."""

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape
