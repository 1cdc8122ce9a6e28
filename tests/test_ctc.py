"""F.ctc_loss / nn.CTCLoss: forward-backward in log space against PyTorch (values and gradients, padded and
concatenated targets, variable lengths, repeated labels, reductions, zero_infinity) and gradcheck."""
import numpy as np
import pytest

import deepdive
from parity import check_parity, gradcheck, require_torch

rng = np.random.default_rng(0)
T, N, C = 8, 3, 5
TARGETS = np.array([[1, 2, 2, 4], [3, 1, 0, 0], [4, 4, 4, 0]], dtype=np.int64)   # repeats need blanks between
TARGET_LENGTHS = np.array([4, 2, 3], dtype=np.int64)
INPUT_LENGTHS = np.array([8, 5, 7], dtype=np.int64)


def logits(dtype=np.float64):
    return rng.standard_normal((T, N, C)).astype(dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ctc_loss_parity(reduction, dtype):
    torch = require_torch()
    x = logits(dtype)

    def run(lib):
        def f(z, targets, input_lengths, target_lengths):
            return lib.nn.functional.ctc_loss(z.log_softmax(2), targets, input_lengths, target_lengths,
                                              reduction=reduction)
        return f
    check_parity(run(deepdive), run(torch), [x, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS])
    concatenated = np.concatenate([t[:n] for t, n in zip(TARGETS, TARGET_LENGTHS)])
    check_parity(run(deepdive), run(torch), [x, concatenated, INPUT_LENGTHS, TARGET_LENGTHS])


def test_ctc_gradient_wrt_log_probs_is_pytorchs():
    """PyTorch's gradient w.r.t. log_probs themselves includes the log_softmax normaliser's term."""
    torch = require_torch()
    lp = torch.log_softmax(torch.tensor(logits()), 2).numpy()
    check_parity(lambda a, *r: deepdive.nn.functional.ctc_loss(a, *r), lambda a, *r: torch.nn.functional.ctc_loss(a, *r),
                 [lp, TARGETS, INPUT_LENGTHS, TARGET_LENGTHS])


def test_ctc_gradcheck_through_log_softmax():
    gradcheck(lambda z: deepdive.nn.functional.ctc_loss(z.log_softmax(2), deepdive.tensor(TARGETS),
                                                        deepdive.tensor(INPUT_LENGTHS), deepdive.tensor(TARGET_LENGTHS),
                                                        reduction="sum"), logits())


def test_zero_infinity_and_module_and_tuple_lengths():
    torch = require_torch()
    short = np.array([2, 5, 7], dtype=np.int64)           # 2 frames cannot emit 4 labels: an infinite loss
    x = logits()
    for zero_infinity in (False, True):
        check_parity(lambda z, *r: deepdive.nn.CTCLoss(zero_infinity=zero_infinity, reduction="none")(z.log_softmax(2), *r),
                     lambda z, *r: torch.nn.CTCLoss(zero_infinity=zero_infinity, reduction="none")(z.log_softmax(2), *r),
                     [x, TARGETS, short, TARGET_LENGTHS], grad=zero_infinity)
    check_parity(lambda z: deepdive.nn.CTCLoss(blank=C - 1)(z.log_softmax(2), deepdive.tensor(np.where(TARGETS == 4, 0, TARGETS)),
                                                            tuple(INPUT_LENGTHS), tuple(TARGET_LENGTHS)),
                 lambda z: torch.nn.CTCLoss(blank=C - 1)(z.log_softmax(2), torch.tensor(np.where(TARGETS == 4, 0, TARGETS)),
                                                         tuple(INPUT_LENGTHS), tuple(TARGET_LENGTHS)), [x])
    check_parity(lambda z: deepdive.nn.functional.ctc_loss(z.log_softmax(1), deepdive.tensor(TARGETS[0]), (8,), (4,)),
                 lambda z: torch.nn.functional.ctc_loss(z.log_softmax(1), torch.tensor(TARGETS[0]), (8,), (4,)),
                 [x[:, 0]])
