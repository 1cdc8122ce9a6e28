"""PixelShuffle / PixelUnshuffle / ChannelShuffle: parity, gradcheck, errors; and an ESPCN-style sub-pixel
super-resolution program that trains with only the import swapped and matches PyTorch step by step."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch, assert_close

rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape,r", [((1, 8, 3, 2), 2), ((2, 3, 18, 2, 2), 3), ((4, 2, 3), 2), ((9, 1, 1), 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pixel_shuffle_and_unshuffle(shape, r, dtype):
    torch = require_torch()
    x = rng.standard_normal(shape).astype(dtype)
    out = check_parity(lambda a: deepdive.nn.functional.pixel_shuffle(a, r),
                       lambda a: torch.nn.functional.pixel_shuffle(a, r), [x])[0]
    check_parity(lambda a: deepdive.nn.PixelShuffle(r)(a), lambda a: torch.nn.PixelShuffle(r)(a), [x])
    y = out.detach().numpy()
    check_parity(lambda a: deepdive.pixel_unshuffle(a, r), lambda a: torch.pixel_unshuffle(a, r), [y])
    check_parity(lambda a: deepdive.nn.PixelUnshuffle(r)(a), lambda a: torch.nn.PixelUnshuffle(r)(a), [y])
    back = deepdive.pixel_unshuffle(out, r)
    np.testing.assert_array_equal(back.detach().numpy(), x)
    if dtype == np.float64:
        gradcheck(lambda a: deepdive.pixel_shuffle(a, r), x)


def test_channel_shuffle():
    torch = require_torch()
    for shape, groups in [((2, 6, 3, 3), 3), ((1, 4, 5), 2), ((2, 8, 1, 2, 2), 4)]:
        x = rng.standard_normal(shape)
        check_parity(lambda a: deepdive.nn.functional.channel_shuffle(a, groups),
                     lambda a: torch.nn.functional.channel_shuffle(a, groups), [x])
        check_parity(lambda a: deepdive.nn.ChannelShuffle(groups)(a), lambda a: torch.nn.ChannelShuffle(groups)(a), [x])
    gradcheck(lambda a: deepdive.channel_shuffle(a, 2), rng.standard_normal((1, 4, 2, 2)))


def test_reprs_and_errors():
    torch = require_torch()
    for name, arg in [("PixelShuffle", 2), ("PixelUnshuffle", 3), ("ChannelShuffle", 2)]:
        assert repr(getattr(deepdive.nn, name)(arg)) == repr(getattr(torch.nn, name)(arg))
    with pytest.raises(RuntimeError, match=r"pixel_shuffle expects input to have at least 3 dimensions"):
        deepdive.pixel_shuffle(deepdive.ones(2, 3), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        deepdive.pixel_shuffle(deepdive.ones(5, 2, 3), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle expects height to be divisible by downscale_factor, "
                                           r"but input.size\(-2\)=3 is not divisible by 2"):
        deepdive.pixel_unshuffle(deepdive.ones(4, 3, 3), 2)
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 4 channels and 3"):
        deepdive.nn.functional.channel_shuffle(deepdive.ones(1, 4, 3, 3), 3)


def espcn_program(torch, low_res, high_res, steps, state=None):
    """A sub-pixel super-resolution net written as the ESPCN tutorials write it (Shi et al., 2016)."""
    import importlib
    nn = importlib.import_module(torch.__name__ + ".nn")

    class ESPCN(nn.Module):
        def __init__(self, upscale_factor):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=5, padding=2)
            self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(8, upscale_factor ** 2, kernel_size=3, padding=1)
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        def forward(self, x):
            x = torch.tanh(self.conv1(x))
            x = torch.tanh(self.conv2(x))
            return self.pixel_shuffle(self.conv3(x))

    model = ESPCN(upscale_factor=2)
    if state is not None:
        model.load_state_dict(state)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    inputs, targets = torch.tensor(low_res), torch.tensor(high_res)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def test_espcn_trains_like_pytorch_step_by_step():
    torch = require_torch()
    high_res = rng.random((4, 1, 12, 12)).astype(np.float32)
    low_res = high_res.reshape(4, 1, 6, 2, 6, 2).mean(axis=(3, 5))          # 2x2 box downsampling
    torch.manual_seed(0)
    reference, _ = espcn_program(torch, low_res, high_res, steps=0)
    state = {k: v.detach().clone() for k, v in reference.state_dict().items()}
    theirs, torch_losses = espcn_program(torch, low_res, high_res, steps=20, state=state)
    mine, losses = espcn_program(deepdive, low_res, high_res, steps=20, state=state)
    np.testing.assert_allclose(losses, torch_losses, rtol=2e-4, atol=1e-6)
    assert losses[-1] < 0.5 * losses[0], f"ESPCN did not learn: {losses[0]:.4f} -> {losses[-1]:.4f}"
    for (name, p), (_, q) in zip(mine.named_parameters(), theirs.named_parameters()):
        assert_close(p, q, rtol=2e-3, atol=2e-4, what=name)
