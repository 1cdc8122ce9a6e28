"""Embedding, Keras-style: integer ids (batch, ...) -> vectors (batch, ..., output_dim).

    y[b, t] = embeddings[x[b, t]]

The table is ``embeddings`` (input_dim, output_dim), initialised U(-0.05, 0.05)
as Keras does (PyTorch's ``nn.Embedding`` uses N(0, 1)); the lookup is
``F.embedding``, whose backward scatter-adds into the rows used.
"""
from .layer import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Args: input_dim (vocabulary size), output_dim (vector size), embeddings_initializer ('uniform'),
    embeddings_regularizer (None)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        if mask_zero:
            raise NotImplementedError("Embedding: mask_zero (Keras masking) is not supported; pass an explicit "
                                      "mask (e.g. attention_mask) to the layers that need it")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer, self.embeddings_regularizer = embeddings_initializer, embeddings_regularizer

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, self.embeddings_regularizer)

    def call(self, inputs):
        from ..nn import functional as F
        if inputs.is_floating_point():
            inputs = inputs.long()          # Keras accepts float ids (e.g. from NumPy); PyTorch needs integers
        return F.embedding(inputs, self.embeddings)

    def extra_repr(self):
        return f"input_dim={self.input_dim}, output_dim={self.output_dim}"
