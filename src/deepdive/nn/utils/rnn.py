"""Variable-length sequences: pad a list of sequences into one tensor, and pack/unpack (PyTorch's layout).

Every conversion is a row gather from the concatenated sequences (plus one padding row), so gradients
flow back through ``x[index]`` to the original sequences.

    pad_sequence([a (3, F), b (1, F)])      -> (3, 2, F), b's missing steps filled with padding_value
    pack_padded_sequence(padded, lengths)   -> PackedSequence(data (sum(lengths), F), batch_sizes, ...)
    pad_packed_sequence(packed)             -> (padded, lengths)
"""
from collections import namedtuple

import numpy as np

from ...tensor import Tensor, _wrap

__all__ = ["PackedSequence", "pad_sequence", "unpad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The time-major concatenation of the still-active sequences at each step (longest first).

    data: (sum(lengths), *);  batch_sizes[t]: how many sequences are longer than t (int64, decreasing).
    sorted_indices / unsorted_indices: the permutation to and from decreasing length (None if already sorted).
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _wrap(np.argsort(sorted_indices._data))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)


def _gather_rows(sequences, index, padding_value):
    """cat(sequences + [padding row])[index]: differentiable, one gather."""
    from ... import cat, full
    first = sequences[0]
    pad_row = full((1,) + tuple(first.shape[1:]), padding_value, dtype=first.dtype)
    return cat(list(sequences) + [pad_row])[_wrap(index)]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padding the short ones."""
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape {list(trailing)}, but "
                               f"sequence {i} has shape {list(s.shape)}")
    lengths = np.array([s.shape[0] for s in sequences])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pad_index = int(lengths.sum())
    steps = np.arange(lengths.max())[:, None]                          # (T, 1)
    offset = steps if padding_side == "right" else steps - (lengths.max() - lengths)[None, :]
    valid = (offset >= 0) & (offset < lengths[None, :])
    index = np.where(valid, starts[None, :] + offset, pad_index)     # (T, B) rows of cat(sequences + [pad])
    return _gather_rows(sequences, index.T if batch_first else index, padding_value)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of pad_sequence: a list of (L_i, *) tensors."""
    lengths = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths).astype(np.int64)
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :int(n)] for b, n in enumerate(lengths)]


def _batch_sizes(sorted_lengths):
    steps = np.arange(sorted_lengths[0])
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _packed_rows(batch_sizes):
    """(time step, position in the sorted batch) of every row of a packed ``data``."""
    steps = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    return steps, np.concatenate([np.arange(n) for n in batch_sizes])


def _padded_index(batch_sizes, steps):
    """(steps, B) rows of [data; padding row] that lay a packed batch out padded, time-major, sorted."""
    batch = int(batch_sizes[0])
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)   # per sorted position
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    t = np.arange(steps)[:, None]
    valid = t < sorted_lengths[None, :]
    return np.where(valid, starts[np.minimum(t, batch_sizes.size - 1)] + np.arange(batch)[None, :],
                    int(batch_sizes.sum()))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose b-th sequence has ``lengths[b]`` valid steps."""
    lengths = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths).astype(np.int64).reshape(-1)
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
        order = np.arange(lengths.size)
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _wrap(order)
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    sorted_lengths = lengths[order]
    batch_sizes = _batch_sizes(sorted_lengths)
    steps, positions = _packed_rows(batch_sizes)
    members = order[positions]                                                   # original batch index
    index = (members, steps) if batch_first else (steps, members)
    data = input[_wrap(index[0]), _wrap(index[1])]
    return PackedSequence(data, _wrap(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack to (T, B, *) (or (B, T, *)) padded with ``padding_value``; also returns the lengths (int64)."""
    batch_sizes = sequence.batch_sizes._data
    batch = int(batch_sizes[0])
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)   # per sorted position
    index = _padded_index(batch_sizes, steps)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        index = index[:, unsorted._data]
        lengths = sorted_lengths[unsorted._data]
    else:
        lengths = sorted_lengths
    padded = _gather_rows([sequence.data], index.T if batch_first else index, padding_value)
    return padded, _wrap(lengths.astype(np.int64))


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) sequences (pad_sequence then pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The inverse of pack_sequence: the list of (L_i, *) tensors in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
