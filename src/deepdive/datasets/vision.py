"""Image data sets, read from disk only (nothing is ever downloaded).

- ``load_digits()``: scikit-learn's bundled 8x8 handwritten digits (1,797 real
  scans from 43 writers, 10 classes). It ships inside scikit-learn, so it works
  offline; install it with ``pip install deepdive[data]``.
- ``load_mnist(path)``: MNIST from files you already have: the four standard IDX
  files (optionally gzipped) or Keras' ``mnist.npz``.

Both return ``(images, labels)``: float32 images of shape (N, 1, H, W) scaled to
[0, 1] and int64 labels of shape (N,).
"""
import gzip
import os

import numpy as np

from .._optional import missing_extra
from ..tensor import _wrap

__all__ = ["load_digits", "load_mnist", "read_idx"]


def load_digits(scale=True):
    """The 8x8 digits: images (1797, 1, 8, 8) float32 (pixel values 0..16, divided by 16 when ``scale``)
    and labels (1797,) int64 in 0..9."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        # scikit-learn bundles the digits data set, so nothing is downloaded
        raise missing_extra("load_digits", "data", "scikit-learn") from None
    bunch = sklearn_digits()
    images = bunch.images.astype(np.float32)[:, None, :, :]
    if scale:
        images /= 16.0
    return _wrap(np.ascontiguousarray(images)), _wrap(bunch.target.astype(np.int64))


# IDX type codes (http://yann.lecun.com/exdb/mnist/): the third byte of the magic number.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(filename):
    """Read one IDX file (gzipped if the name ends in .gz) into a NumPy array.

    Layout: two zero bytes, a type code, the number of dimensions, then each
    dimension as a big-endian int32, then the data in C order.
    """
    opener = gzip.open if filename.endswith(".gz") else open
    with opener(filename, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{filename} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{filename}: header says shape {shape} ({expected} bytes of data), "
                         f"but the file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)


_IDX_NAMES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory, name):
    """The IDX file ``name`` in ``directory``, also under its common variants (``.gz``, ``train-images.idx3-ubyte``)."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        full = os.path.join(directory, candidate)
        if os.path.isfile(full):
            return full
    return None


def load_mnist(path, train=True, scale=True):
    """MNIST from local files: images (N, 1, 28, 28) float32 (/255 when ``scale``), labels (N,) int64.

    Args:
        path: a directory holding the IDX files (``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
            each optionally ``.gz``) or ``mnist.npz``; or the path of an ``.npz`` with
            ``x_train, y_train, x_test, y_test`` (Keras' layout).
        train: the 60,000 training images (True) or the 10,000 test images (False).
    """
    split = "train" if train else "test"
    npz = path if str(path).endswith(".npz") else os.path.join(path, "mnist.npz")
    image_name, label_name = _IDX_NAMES[bool(train)]
    images_file = labels_file = None
    if os.path.isdir(path):
        images_file, labels_file = _find(path, image_name), _find(path, label_name)
    if images_file and labels_file:
        images, labels = read_idx(images_file), read_idx(labels_file)
    elif os.path.isfile(npz):
        with np.load(npz) as data:
            keys = (f"x_{split}", f"y_{split}")
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise KeyError(f"{npz} has no {missing} (it holds {data.files}); expected Keras' mnist.npz layout "
                               f"with x_train, y_train, x_test, y_test")
            images, labels = data[keys[0]], data[keys[1]]
    else:
        raise FileNotFoundError(
            f"MNIST {split} files not found under {path!r}. deepdive never downloads data; put either "
            f"{image_name}[.gz] and {label_name}[.gz] (the standard IDX files) or mnist.npz (x_train, y_train, "
            f"x_test, y_test) there.")
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"MNIST {split}: expected images (N, H, W) and N labels, got {images.shape} and "
                         f"{labels.shape}")
    images = images.astype(np.float32)[:, None, :, :]
    if scale:
        images /= 255.0
    return _wrap(np.ascontiguousarray(images)), _wrap(labels.astype(np.int64))
