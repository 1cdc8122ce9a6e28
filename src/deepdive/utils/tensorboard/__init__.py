"""``deepdive.utils.tensorboard`` (``torch.utils.tensorboard``): log a run for the TensorBoard program.

    from deepdive.utils.tensorboard import SummaryWriter
    writer = SummaryWriter()                 # runs/<date>_<host>
    writer.add_scalar("loss/train", loss.item(), step)

The event files are written by the ``tensorboard`` package itself (its event
file writer and its protocol buffers), so they are exactly what the
``tensorboard --logdir runs`` program reads. It is an optional dependency:
``pip install deepdive[tensorboard]``.
"""
try:
    import tensorboard  # noqa: F401
except ImportError:
    from ..._optional import missing_extra
    raise missing_extra("deepdive.utils.tensorboard", "tensorboard", "tensorboard") from None

from .writer import SummaryWriter, FileWriter  # noqa: E402,F401

__all__ = ["SummaryWriter", "FileWriter"]
