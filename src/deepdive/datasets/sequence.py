"""Sequence tasks for recurrent networks, generated locally from a seed (or from a text you supply).

- ``sine_waves``: forecast the next value(s) of a noisy sine wave from a window of past values.
- ``adding_problem``: sum the two marked numbers of a long sequence (Hochreiter & Schmidhuber, 1997),
  the classic test of memory over many steps: a model that ignores the markers scores MSE ~0.167.
- ``CharText``: character-level language-model data from any string: vocabulary, encode/decode,
  (input, next-character) windows and random batches.

Everything is batch-first ``(batch, seq_len, features)``, float32 inputs, as ``nn.LSTM(batch_first=True)`` takes.
"""
import numpy as np

from ..tensor import _wrap
from ..utils.data import Dataset

__all__ = ["sine_waves", "adding_problem", "CharText"]


def sine_waves(n_samples=1000, seq_len=50, horizon=1, noise=0.05, seed=0):
    """Windows of sine waves with random frequency, phase and amplitude; predict what comes next.

    x_k = A sin(w k + phi) + noise, with A ~ U(0.5, 1.5), w ~ U(0.1, 0.5) rad/step, phi ~ U(0, 2 pi);
    noise ~ N(0, noise^2) on the inputs only (the targets are the clean continuation).

    Returns ``(X, y)``: X float32 (n_samples, seq_len, 1), y float32 (n_samples, horizon).
    """
    if seq_len < 1 or horizon < 1:
        raise ValueError(f"sine_waves: seq_len and horizon must be at least 1, got {seq_len} and {horizon}")
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.5, 1.5, (n_samples, 1))
    frequency = rng.uniform(0.1, 0.5, (n_samples, 1))
    phase = rng.uniform(0, 2 * np.pi, (n_samples, 1))
    steps = np.arange(seq_len + horizon)
    wave = amplitude * np.sin(frequency * steps + phase)
    X = wave[:, :seq_len] + rng.normal(0, noise, (n_samples, seq_len)) if noise else wave[:, :seq_len]
    return _wrap(X[:, :, None].astype(np.float32)), _wrap(wave[:, seq_len:].astype(np.float32))


def adding_problem(n_samples=1000, seq_len=50, seed=0):
    """The adding problem: channel 0 holds numbers ~ U(0, 1), channel 1 marks exactly two of them
    (one in each half of the sequence); the target is the sum of the two marked numbers.

    Returns ``(X, y)``: X float32 (n_samples, seq_len, 2), y float32 (n_samples, 1).
    """
    if seq_len < 2:
        raise ValueError(f"adding_problem: seq_len must be at least 2, got {seq_len}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, (n_samples, seq_len))
    half = seq_len // 2
    first = rng.integers(0, half, n_samples)
    second = rng.integers(half, seq_len, n_samples)
    rows = np.arange(n_samples)
    markers = np.zeros((n_samples, seq_len))
    markers[rows, first] = 1
    markers[rows, second] = 1
    X = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return _wrap(X), _wrap(y)


class CharText(Dataset):
    """Character-level data from ``text``: item i is (characters i..i+seq_len-1, the ones after them).

    Attributes:
        vocab (list[str]): the distinct characters, sorted; ``vocab_size`` their number.
        stoi / itos: character -> index and index -> character.
        data: the whole text encoded, an int64 tensor.

    Example::

        >>> text = CharText("hello world", seq_len=4)
        >>> x, y = text[0]                 # encode("hell"), encode("ello")
        >>> text.decode(x)
        'hell'
    """

    def __init__(self, text, seq_len=64):
        if not isinstance(text, str):
            raise TypeError(f"CharText: text must be a str, got {type(text).__name__}")
        if len(text) < seq_len + 1:
            raise ValueError(f"CharText: the text has {len(text)} characters; need at least seq_len + 1 = "
                             f"{seq_len + 1}")
        self.seq_len = seq_len
        self.vocab = sorted(set(text))
        self.vocab_size = len(self.vocab)
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}
        self.itos = dict(enumerate(self.vocab))
        self._ids = np.array([self.stoi[ch] for ch in text], dtype=np.int64)
        self.data = _wrap(self._ids)

    def encode(self, string):
        """A string -> int64 tensor of indices (every character must be in the vocabulary)."""
        unknown = sorted(set(string) - set(self.stoi))
        if unknown:
            raise KeyError(f"CharText.encode: characters not in the vocabulary: {unknown!r}")
        return _wrap(np.array([self.stoi[ch] for ch in string], dtype=np.int64))

    def decode(self, ids):
        """Indices (a tensor, array or list) -> the string they spell."""
        ids = np.asarray(ids._data if hasattr(ids, "_data") else ids).reshape(-1)
        return "".join(self.itos[int(i)] for i in ids)

    def __len__(self):
        return len(self._ids) - self.seq_len

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"CharText index {index} out of range for {len(self)} windows")
        window = self._ids[index:index + self.seq_len + 1]
        return _wrap(window[:-1].copy()), _wrap(window[1:].copy())

    def batches(self, batch_size, n_batches=None, seed=0):
        """Yield ``n_batches`` (default: one pass's worth) random batches ``(x, y)``, each int64
        (batch_size, seq_len), y the text shifted one character on from x."""
        rng = np.random.default_rng(seed)
        n_batches = max(1, len(self) // batch_size) if n_batches is None else n_batches
        offsets = np.arange(self.seq_len + 1)
        for _ in range(n_batches):
            starts = rng.integers(0, len(self), batch_size)
            windows = self._ids[starts[:, None] + offsets]
            yield _wrap(windows[:, :-1]), _wrap(windows[:, 1:])
