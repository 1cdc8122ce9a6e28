"""``deepdive.nn.parallel`` (``torch.nn.parallel``): ``DataParallel`` as a CPU passthrough, and
``DistributedDataParallel``, which needs an initialised process group (distributed training is not in
deepdive yet, so constructing one raises PyTorch's error)."""
from .data_parallel import DataParallel, data_parallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]
