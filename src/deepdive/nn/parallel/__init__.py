"""``deepdive.nn.parallel`` (``torch.nn.parallel``): ``DataParallel`` as a CPU passthrough, and
``DistributedDataParallel``, which averages gradients over the ranks of an initialised process group
(``deepdive.distributed``, on MPI)."""
from .data_parallel import DataParallel, data_parallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]
