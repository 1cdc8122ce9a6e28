"""Script-header names from PyTorch: backends, legacy tensor types, print options, threads."""
import deepdive as torch


def test_backends_flags_and_cuda_checks():
    torch.backends.cudnn.benchmark = True          # common first line of training scripts
    assert not torch.backends.mps.is_available() and not torch.cuda.is_available()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert str(device) == "cpu"


def test_legacy_tensor_types():
    x = torch.FloatTensor([1, 2])
    assert x.dtype == torch.float32 and isinstance(x, torch.FloatTensor) and not isinstance(x, torch.LongTensor)
    assert torch.LongTensor([1, 2]).dtype == torch.int64
    assert isinstance(torch.tensor([True]), torch.BoolTensor)


def test_set_printoptions_changes_repr():
    x = torch.tensor([1.23456789, 2.5])
    try:
        torch.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.50])"
        torch.set_printoptions(sci_mode=True)
        assert repr(x) == "tensor([1.23e+00, 2.50e+00])"
    finally:
        torch.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.2346, 2.5000])"


def test_num_threads_round_trip():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before
