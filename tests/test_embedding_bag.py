"""EmbeddingBag / F.embedding_bag: sum, mean, max; offsets, include_last_offset, per_sample_weights,
padding_idx, 2-D input; parity with PyTorch (values, gradients of weight and per_sample_weights) and gradcheck."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)
INDICES = np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0], dtype=np.int64)
OFFSETS = np.array([0, 4, 4, 7], dtype=np.int64)                 # the second bag is empty


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_bag_with_offsets(mode, padding_idx, dtype):
    torch = require_torch()
    weight = rng.standard_normal((10, 3)).astype(dtype)
    F, tF = deepdive.nn.functional, torch.nn.functional
    check_parity(lambda w, i, o: F.embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx),
                 lambda w, i, o: tF.embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx),
                 [weight, INDICES, OFFSETS])
    last = np.append(OFFSETS, len(INDICES))
    check_parity(lambda w, i, o: F.embedding_bag(i, w, o, mode=mode, include_last_offset=True),
                 lambda w, i, o: tF.embedding_bag(i, w, o, mode=mode, include_last_offset=True),
                 [weight, INDICES, last])
    check_parity(lambda w, i: F.embedding_bag(i, w, mode=mode, padding_idx=padding_idx),
                 lambda w, i: tF.embedding_bag(i, w, mode=mode, padding_idx=padding_idx),
                 [weight, INDICES.reshape(2, 5)])


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_per_sample_weights_and_gradcheck(padding_idx):
    torch = require_torch()
    weight, psw = rng.standard_normal((10, 3)), rng.standard_normal(len(INDICES))
    F, tF = deepdive.nn.functional, torch.nn.functional
    check_parity(lambda w, i, o, p: F.embedding_bag(i, w, o, mode="sum", per_sample_weights=p, padding_idx=padding_idx),
                 lambda w, i, o, p: tF.embedding_bag(i, w, o, mode="sum", per_sample_weights=p,
                                                     padding_idx=padding_idx), [weight, INDICES, OFFSETS, psw])
    gradcheck(lambda w, p: F.embedding_bag(deepdive.tensor(INDICES), w, deepdive.tensor(OFFSETS), mode="sum",
                                           per_sample_weights=p, padding_idx=padding_idx), weight, psw)
    for mode in ("mean", "max"):
        gradcheck(lambda w: F.embedding_bag(deepdive.tensor(INDICES), w, deepdive.tensor(OFFSETS), mode=mode), weight)


def test_module_copies_weights_and_matches():
    torch = require_torch()
    for kwargs in [dict(mode="sum"), dict(mode="max", padding_idx=0), dict(mode="mean"),
                   dict(mode="sum", max_norm=1.0)]:
        mine, theirs = deepdive.nn.EmbeddingBag(10, 4, **kwargs), torch.nn.EmbeddingBag(10, 4, **kwargs)
        assert repr(mine) == repr(theirs)
        mine.load_state_dict(theirs.state_dict())
        out = mine(deepdive.tensor(INDICES), deepdive.tensor(OFFSETS))
        ref = theirs(torch.tensor(INDICES), torch.tensor(OFFSETS))
        assert_close(out, ref)
        (out * deepdive.tensor(np.arange(16.0, dtype=np.float32).reshape(4, 4))).sum().backward()
        (ref * torch.tensor(np.arange(16.0, dtype=np.float32).reshape(4, 4))).sum().backward()
        assert_close(mine.weight.grad, theirs.weight.grad)
        assert_close(mine.weight, theirs.weight, what="weight after max_norm")
    bag = deepdive.nn.EmbeddingBag(5, 2, padding_idx=1)
    assert not bag.weight[1].detach().numpy().any()
    frozen = deepdive.nn.EmbeddingBag.from_pretrained(deepdive.ones(3, 2), mode="sum")
    assert not frozen.weight.requires_grad


def test_scale_grad_by_freq_divides_by_the_batch_frequency():
    """As documented (and as torch.nn.functional.embedding does); PyTorch 2.13's embedding_bag itself divides
    some rows by another index's count (e.g. a once-seen index by 2), which is not reproduced."""
    torch = require_torch()
    weight, idx = rng.standard_normal((10, 3)), INDICES.reshape(2, 5)
    check_parity(lambda w, i: deepdive.nn.functional.embedding_bag(i, w, mode="sum", scale_grad_by_freq=True),
                 lambda w, i: torch.nn.functional.embedding(i, w, scale_grad_by_freq=True).sum(1), [weight, idx])


def test_errors():
    w = deepdive.ones(5, 2)
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        deepdive.nn.functional.embedding_bag(deepdive.tensor([0, 1]), w, deepdive.tensor([0]),
                                             per_sample_weights=deepdive.ones(2))
    with pytest.raises(ValueError, match="offsets has to be None"):
        deepdive.nn.functional.embedding_bag(deepdive.tensor([[0, 1]]), w, deepdive.tensor([0]))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        deepdive.nn.functional.embedding_bag(deepdive.tensor([0, 1]), w, deepdive.tensor([1]))
