"""deepdive.utils: ``data`` (datasets and loaders), as in ``torch.utils``."""
from . import data  # noqa: F401
