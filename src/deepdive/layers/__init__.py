"""deepdive.layers: Keras-style layers on deepdive's PyTorch-style core.

Every layer is an ``nn.Module``: ``__init__`` stores configuration,
``build(input_shape)`` creates weights on the first call, ``call`` does the
math. Combine them with ``deepdive.training.Sequential`` / ``Model`` and
``compile``/``fit``, or use them inside any ``nn.Module`` and a hand-written loop.

NOTE: convolution / pooling layers take channels-last (N, H, W, C) input by
default, as Keras does, and BatchNormalization normalises the last axis
(``data_format='channels_first'`` / ``axis=1`` for PyTorch's NCHW).
"""
from . import activations, initializers, regularizers
from .layer import Layer, InputLayer, Input
from .core import Dense, Activation, Flatten, Dropout, Reshape, Permute, Lambda, Identity
from .conv import (Conv2D, Conv1D, Convolution2D, MaxPooling2D, MaxPool2D, AveragePooling2D, AvgPool2D,
                   MaxPooling1D, GlobalAveragePooling2D, GlobalMaxPooling2D)
from .normalization import BatchNormalization, LayerNormalization
from .recurrent import LSTM, GRU, SimpleRNN
from .attention import MultiHeadAttention
from .embedding import Embedding
from .regularizers import L1, L2, L1L2

__all__ = ["Layer", "InputLayer", "Input",
           "Dense", "Activation", "Flatten", "Dropout", "Reshape", "Permute", "Lambda", "Identity",
           "Conv2D", "Conv1D", "Convolution2D", "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D",
           "MaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization",
           "LayerNormalization", "LSTM", "GRU", "SimpleRNN", "MultiHeadAttention", "Embedding", "L1", "L2", "L1L2",
           "activations", "initializers", "regularizers"]
