"""DistributedDataParallel: importable, but deepdive has no process groups yet."""
from ..module import Module


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, ...)`` needs a default process group
    (``torch.distributed.init_process_group``). deepdive has no distributed
    backend yet, so no group can be initialised and construction raises the
    ValueError PyTorch raises when the group is missing. The class exists so
    that ``from torch.nn.parallel import DistributedDataParallel`` in a script's
    header works and single-process code paths (``if distributed: ...``) run.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, **kwargs):
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
