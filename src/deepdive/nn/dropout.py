"""Dropout layers: active in training mode, the identity after ``model.eval()``."""
from ..ops import dropout as D
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element, in training; y = x in eval.

    Args: p (float, 0.5): probability of zeroing an element; inplace (bool, False).
    """
    _fn = staticmethod(D.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) / (C, L) input with probability p (scaling the rest by 1/(1-p))."""
    _fn = staticmethod(D.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) / (C, H, W) input with probability p."""
    _fn = staticmethod(D.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) / (C, D, H, W) input with probability p."""
    _fn = staticmethod(D.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance (Klambauer et al. 2017)."""
    _fn = staticmethod(D.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Channel-wise alpha dropout."""
    _fn = staticmethod(D.feature_alpha_dropout)
