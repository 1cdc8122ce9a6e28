"""deepdive.nn.functional: the functional form of every layer and loss (mirrors torch.nn.functional).

The math lives in ``deepdive.ops``; this module only gathers it under PyTorch's names.
"""
from ..ops.elementwise import relu, sigmoid, tanh  # noqa: F401
# Each op family adds one import line below.
from ..ops.linear import linear, bilinear  # noqa: F401
from ..ops.activation import (hardtanh, relu6, leaky_relu, prelu, rrelu, elu, selu, celu, gelu, silu, mish,  # noqa: F401
                              hardsigmoid, hardswish, softplus, softsign, tanhshrink, logsigmoid, hardshrink,
                              softshrink, threshold, glu, relu_, elu_, selu_, celu_, leaky_relu_, hardtanh_,
                              rrelu_, threshold_)
from ..ops.dropout import (dropout, dropout1d, dropout2d, dropout3d, alpha_dropout,  # noqa: F401
                           feature_alpha_dropout)
from ..ops.normalization import (batch_norm, layer_norm, group_norm, rms_norm, instance_norm,  # noqa: F401
                                 local_response_norm)
from ..ops.embedding import embedding  # noqa: F401
from ..ops.softmax import softmax, log_softmax, softmin  # noqa: F401
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.loss import (mse_loss, l1_loss, smooth_l1_loss, huber_loss, cross_entropy, nll_loss, binary_cross_entropy,  # noqa: F401,E501
                        binary_cross_entropy_with_logits, kl_div, one_hot, normalize)
from .attention import multi_head_attention_forward  # noqa: F401,E402
from ..ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold, fold  # noqa: F401
from ..ops.pooling import (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d,  # noqa: F401
                           adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d)
from ..ops.upsample import interpolate, upsample, upsample_nearest, upsample_bilinear  # noqa: F401
from ..ops.padding import pad  # noqa: F401
from ..ops.pooling import max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from ..ops.loss import (poisson_nll_loss, gaussian_nll_loss, margin_ranking_loss, hinge_embedding_loss,  # noqa: F401
                        soft_margin_loss, multilabel_soft_margin_loss, cosine_embedding_loss, triplet_margin_loss)
from ..ops.loss import triplet_margin_with_distance_loss, multi_margin_loss  # noqa: F401
from ..ops.distance import cosine_similarity, pairwise_distance, pdist  # noqa: F401
from ..ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle, channel_shuffle  # noqa: F401
from ..ops.conv3d import conv3d, conv_transpose3d  # noqa: F401
from ..ops.pool3d import max_pool3d, avg_pool3d, adaptive_avg_pool3d, adaptive_max_pool3d  # noqa: F401
from ..ops.embedding_bag import embedding_bag  # noqa: F401
from ..ops.grid_sample import affine_grid, grid_sample  # noqa: F401
from ..ops.ctc import ctc_loss  # noqa: F401
