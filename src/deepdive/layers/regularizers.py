"""Weight penalties that ``fit`` adds to the loss: ``Dense(64, kernel_regularizer=L2(1e-4))``.

A regulariser maps a weight tensor w to a scalar penalty (Keras's formulas,
which sum rather than average and carry no factor 1/2):

    L1(l1)        l1 * sum(|w|)
    L2(l2)        l2 * sum(w^2)      (the gradient 2 * l2 * w: coupled weight decay of 2 * l2)
    L1L2(l1, l2)  both

The layer keeps its regularisers; ``Layer.losses`` lists the current penalties
of a layer and all its sub-layers, and the training engine adds their sum to
every batch's loss (so the reported ``loss`` includes them, as in Keras).
"""

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get"]


class Regularizer:
    """Base class: ``__call__(weight) -> scalar Tensor``."""

    def __call__(self, weight):
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w^2)."""

    def __init__(self, l1=0.0, l2=0.0):
        for name, value in (("l1", l1), ("l2", l2)):
            if value < 0:
                raise ValueError(f"{type(self).__name__}: {name} must be >= 0, got {value}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, weight):
        penalty = None
        if self.l1:
            penalty = weight.abs().sum() * self.l1
        if self.l2:
            term = (weight * weight).sum() * self.l2
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else (weight * 0.0).sum()

    def __repr__(self):
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    """l1 * sum(|w|)  (Keras's default l1 = 0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def __repr__(self):
        return f"L1(l1={self.l1})"


class L2(L1L2):
    """l2 * sum(w^2)  (Keras's default l2 = 0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def __repr__(self):
        return f"L2(l2={self.l2})"


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier):
    """A regulariser from None, a name ('l1', 'l2', 'l1_l2' with Keras's default 0.01) or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Unknown regularizer {identifier!r}. Valid names: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key](0.01, 0.01) if _BY_NAME[key] is L1L2 else _BY_NAME[key]()
    if callable(identifier):
        return identifier
    raise TypeError(f"regularizer must be a name, a callable or None, got {type(identifier).__name__}")
