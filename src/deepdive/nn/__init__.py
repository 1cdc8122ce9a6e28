"""deepdive.nn: Module, Parameter, layers and losses with PyTorch's names, defaults and initialisations."""
from .parameter import Parameter, UninitializedParameter, UninitializedBuffer  # noqa: F401
from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from .linear import Identity, Linear, LazyLinear, Bilinear  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .activation import *  # noqa: F401,F403
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout  # noqa: F401
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d,  # noqa: F401
                            InstanceNorm3d, LayerNorm, GroupNorm, RMSNorm)
from .sparse import Embedding  # noqa: F401
from . import init, functional, utils  # noqa: F401
# Each layer family registers itself with one import line below.
from .attention import MultiheadAttention  # noqa: F401
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
