"""deepdive.nn: Module, Parameter, layers and losses with PyTorch's names, defaults and initialisations."""
from .parameter import Parameter, UninitializedParameter, UninitializedBuffer  # noqa: F401
from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict  # noqa: F401
from .linear import Identity, Linear, LazyLinear, Bilinear  # noqa: F401
from .flatten import Flatten, Unflatten  # noqa: F401
from .activation import *  # noqa: F401,F403
from .dropout import Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout  # noqa: F401
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d,  # noqa: F401
                            InstanceNorm3d, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)
from .sparse import Embedding  # noqa: F401
from . import init, functional, utils  # noqa: F401
# Each layer family registers itself with one import line below.
from .attention import MultiheadAttention  # noqa: F401
from .transformer import (Transformer, TransformerEncoder, TransformerDecoder, TransformerEncoderLayer,  # noqa: F401
                          TransformerDecoderLayer)
from .rnn import RNNBase, RNN, LSTM, GRU, RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Unfold, Fold  # noqa: F401
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,  # noqa: F401
                      AdaptiveMaxPool1d, AdaptiveMaxPool2d)
from .upsampling import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d  # noqa: F401
from .padding import (ZeroPad1d, ZeroPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d,  # noqa: F401
                      ReplicationPad1d, ReplicationPad2d, CircularPad1d, CircularPad2d)
from .pooling import MaxUnpool1d, MaxUnpool2d  # noqa: F401
from .loss import (L1Loss, MSELoss, SmoothL1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCELoss,  # noqa: F401
                   BCEWithLogitsLoss, KLDivLoss)
from .loss import (PoissonNLLLoss, GaussianNLLLoss, MarginRankingLoss, HingeEmbeddingLoss, SoftMarginLoss,  # noqa: F401
                   MultiLabelSoftMarginLoss, CosineEmbeddingLoss, TripletMarginLoss)
from .loss import TripletMarginWithDistanceLoss, MultiMarginLoss  # noqa: F401
# torch.nn.parallel (DataParallel passthrough, DistributedDataParallel's import path)
from . import parallel  # noqa: F401
from .parallel import DataParallel  # noqa: F401
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401
from .pixelshuffle import PixelShuffle, PixelUnshuffle, ChannelShuffle  # noqa: F401
from .conv import Conv3d, ConvTranspose3d  # noqa: F401
from .pooling import MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d, MaxUnpool3d  # noqa: F401
from .embedding_bag import EmbeddingBag  # noqa: F401
from .loss import CTCLoss  # noqa: F401
