"""Distance layers: CosineSimilarity and PairwiseDistance (the math is in ``deepdive.ops.distance``)."""
from ..ops.distance import cosine_similarity, pairwise_distance
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """cos(x1, x2) = x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim``.

    Shape: x1 (*, D, *), x2 broadcastable to it; output without ``dim``.
    Args: dim (default 1), eps (default 1e-8).
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim.

    Shape: (N, D) or (D,) inputs (broadcast); output (N,) or () (``keepdim``: the last dim kept as 1).
    Args: p (default 2.0), eps (default 1e-6), keepdim (default False).
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
