"""deepdive: a deep-learning framework written from scratch on NumPy.

PyTorch-compatible (``import deepdive as torch``), with Keras-style layers and
``fit`` on the same core, and every inner working open to inspection.
"""
from . import _allocator
_allocator.tune()
from . import _dtype
from ._dtype import (dtype, bool_ as bool, uint8, int8, int16, int32, int64, float16, float32, float64, half, float,
                     double, short, int, long, get_default_dtype, set_default_dtype)
from ._dtype import promote_types, can_cast, result_type, finfo, iinfo
from .tensor import Tensor, Size, device
from .autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd.anomaly_mode import is_anomaly_enabled, is_anomaly_check_nan_enabled
from .random import manual_seed, seed, initial_seed, Generator, default_generator, get_rng_state, set_rng_state
from .creation import *  # noqa: F401,F403
from .ops.elementwise import *  # noqa: F401,F403
from .ops.comparison import *  # noqa: F401,F403
from .ops.reduction import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.indexing import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.conv import *  # noqa: F401,F403
from .ops.pooling import *  # noqa: F401,F403
from .ops.padding import *  # noqa: F401,F403
from .ops.joining import *  # noqa: F401,F403
from .ops.softmax import *  # noqa: F401,F403
from .ops.sorting import *  # noqa: F401,F403
from .ops.linear import *  # noqa: F401,F403
from .ops.activation import *  # noqa: F401,F403
from .ops.dropout import *  # noqa: F401,F403
from .ops.normalization import *  # noqa: F401,F403
from .ops.embedding import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403   (lgamma, digamma, polygamma, erfinv: for distributions)
from . import autograd
from .serialization import save, load
from ._compat import *  # noqa: F401,F403
# torch.linalg and the old top-level names of its functions (torch.inverse, torch.svd ...)
from . import linalg  # noqa: E402
from .ops.linalg_legacy import *  # noqa: F401,F403,E402
# distances, counting/bucketing, diff/logcumsumexp/kron
from .ops.distance import cdist, pdist, pairwise_distance, cosine_similarity  # noqa: F401,E402
from .ops.bucketing import *  # noqa: F401,F403,E402
from .ops.scan import *  # noqa: F401,F403,E402
from .ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle, channel_shuffle  # noqa: F401,E402
from .ops.conv3d import conv3d, conv_transpose3d  # noqa: F401,E402
from .ops.pool3d import max_pool3d, avg_pool3d, adaptive_avg_pool3d  # noqa: F401,E402
from . import utils
from . import nn
from . import optim
# Sparse COO tensors (torch.sparse) and memory layouts
from . import sparse
from .sparse import sparse_coo_tensor, spmm
from ._layout import layout, strided, sparse_coo
# Module paths PyTorch scripts import in their headers (torch.backends, torch._utils, ...)
from . import backends, multiprocessing, _utils, accelerator, hub, version  # noqa: F401
from . import amp  # noqa: F401  (autocast, GradScaler)
# torch.distributed on MPI (mpi4py is imported only when a process group is made)
from . import distributed  # noqa: F401
from .amp import autocast, bfloat16, is_autocast_enabled, get_autocast_dtype  # noqa: F401
from ._compile import compile  # noqa: F401,A001

# Loaded on first use (PEP 562), so `import deepdive` costs little more than NumPy's own import.
_LAZY = ("layers", "training", "viz", "datasets", "demos")
_LAZY += ("func",)       # torch.func: function transforms (higher-order gradients)
_LAZY += ("distributions",)     # torch.distributions


def __getattr__(name):
    if name in _LAZY:
        import importlib
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'deepdive' has no attribute {name!r}")

__version__ = "0.1.0"

import builtins as _builtins
bool = _dtype.bool_                      # noqa: A001  (torch.bool)
float, int = _dtype.float, _dtype.int    # noqa: A001


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


class _Cuda:
    """``deepdive.cuda``: there is no GPU here; code that checks for one falls back to the CPU."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0

    @staticmethod
    def manual_seed(seed):
        pass

    manual_seed_all = manual_seed


cuda = _Cuda()
