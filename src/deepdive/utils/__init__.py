"""deepdive.utils: ``data`` (datasets and loaders), ``checkpoint`` (activation checkpointing) and
``tensorboard`` (imported on demand: it needs the tensorboard extra), as in ``torch.utils``."""
from . import data  # noqa: F401
from . import checkpoint  # noqa: F401  (torch.utils.checkpoint is there after `import torch` too)
