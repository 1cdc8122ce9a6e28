"""Memory layouts: ``deepdive.strided`` (dense arrays) and ``deepdive.sparse_coo`` (indices + values)."""


class layout:
    """``tensor.layout``: which storage a tensor has (PyTorch's torch.layout)."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "deepdive." + self.name


strided = layout("strided")
sparse_coo = layout("sparse_coo")
