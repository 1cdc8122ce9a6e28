"""Vision data: the bundled 8x8 digits and MNIST read from IDX / npz files the test writes itself."""
import gzip
import struct
import sys

import numpy as np
import pytest

import deepdive
from deepdive.datasets import load_digits, load_mnist
from deepdive.datasets.vision import read_idx

rng = np.random.default_rng(0)


def _write_idx(filename, array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(">" + "i" * array.ndim, *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if filename.endswith(".gz") else open
    with opener(filename, "wb") as f:
        f.write(header + body)


def test_load_digits_shapes_dtypes_and_content():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (it bundles the digits): pip install -e \".[data]\"")
    images, labels = load_digits()
    assert tuple(images.shape) == (1797, 1, 8, 8) and images.dtype == deepdive.float32
    assert tuple(labels.shape) == (1797,) and labels.dtype == deepdive.int64
    x, y = images.numpy(), labels.numpy()
    assert x.min() == 0.0 and x.max() == 1.0
    assert sorted(np.unique(y).tolist()) == list(range(10))
    raw, _ = load_digits(scale=False)
    assert raw.numpy().max() == 16.0
    # real handwriting: a mean "0" and a mean "1" look different (ring vs stroke down the middle)
    zero, one = x[y == 0].mean(0)[0], x[y == 1].mean(0)[0]
    assert zero[3:5, 3:5].mean() < 0.3 < zero[:, 1:3].mean() and one[3:5, 3:5].mean() > 0.5


def test_load_digits_without_sklearn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"install deepdive\[data\]") as error:
        load_digits()
    # the checkout form too, as the [viz] message gives it: most newcomers run from a clone
    assert 'pip install -e ".[data]" in a checkout' in str(error.value)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx(tmp_path, gz):
    suffix = ".gz" if gz else ""
    train_x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, 5).astype(np.uint8)
    test_x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    test_y = rng.integers(0, 10, 3).astype(np.uint8)
    _write_idx(str(tmp_path / f"train-images-idx3-ubyte{suffix}"), train_x)
    _write_idx(str(tmp_path / f"train-labels-idx1-ubyte{suffix}"), train_y)
    _write_idx(str(tmp_path / f"t10k-images.idx3-ubyte{suffix}"), test_x)      # the dotted variant some mirrors use
    _write_idx(str(tmp_path / f"t10k-labels.idx1-ubyte{suffix}"), test_y)
    images, labels = load_mnist(str(tmp_path))
    assert tuple(images.shape) == (5, 1, 28, 28) and images.dtype == deepdive.float32
    np.testing.assert_allclose(images.numpy()[:, 0], train_x / 255.0, rtol=1e-6)
    assert labels.dtype == deepdive.int64 and labels.numpy().tolist() == train_y.tolist()
    images, labels = load_mnist(str(tmp_path), train=False, scale=False)
    np.testing.assert_array_equal(images.numpy()[:, 0], test_x)
    assert labels.numpy().tolist() == test_y.tolist()


def test_load_mnist_npz(tmp_path):
    x = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    y = np.array([3, 1, 4, 1], dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    for path in (str(tmp_path), str(tmp_path / "mnist.npz")):
        images, labels = load_mnist(path)
        assert tuple(images.shape) == (4, 1, 28, 28)
        np.testing.assert_allclose(images.numpy()[:, 0] * 255.0, x, rtol=1e-6)
        assert labels.numpy().tolist() == [3, 1, 4, 1]
    images, labels = load_mnist(str(tmp_path), train=False)
    assert tuple(images.shape) == (2, 1, 28, 28)


def test_load_mnist_missing_files_names_them(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_mnist(str(tmp_path))
    message = str(err.value)
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message and "mnist.npz" in message
    assert "never downloads" in message


def test_read_idx_rejects_corrupt_files(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(bad))
    short = tmp_path / "short-idx"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">i", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(str(short))
    ints = tmp_path / "ints-idx"
    _write_idx(str(ints), np.arange(6, dtype=np.int32).reshape(2, 3))
    np.testing.assert_array_equal(read_idx(str(ints)), np.arange(6).reshape(2, 3))
