"""A sweep of the error paths: every error a user can provoke names the op (no raw NumPy message).

Each case is (op name that must appear in the message, the call). The fuzzer (test_fuzz.py) checks the
same property on random programs: a NumPy-raised error reaching the user is its own failure class.
"""
import numpy as np
import pytest

import deepdive as torch
from deepdive.ops._errors import is_from_numpy

F = torch.nn.functional
x23, x0, e0 = torch.zeros(2, 3), torch.tensor(1.0), torch.zeros(0)
i64 = torch.tensor([0, 1])

CASES = [
    ("add", lambda: x23 + torch.zeros(4)),
    ("mul", lambda: x23 * torch.zeros(2, 2)),
    ("matmul", lambda: x23 @ x23),
    ("matmul", lambda: x0 @ x23),
    ("mm", lambda: torch.mm(x23, x23)),
    ("bmm", lambda: torch.bmm(x23, x23)),
    ("reshape", lambda: x23.reshape(4)),
    ("view", lambda: x23.view(5)),
    ("sum", lambda: x23.sum(5)),
    ("mean", lambda: x23.mean(dim=-3)),
    ("max", lambda: e0.max()),
    ("argmax", lambda: e0.argmax()),
    ("flip", lambda: x23.flip(4)),
    ("transpose", lambda: x23.transpose(0, 3)),
    ("permute", lambda: x23.permute(1, 0, 2)),
    ("squeeze", lambda: x23.squeeze(4)),
    ("unsqueeze", lambda: x23.unsqueeze(5)),
    ("cat", lambda: torch.cat([x23, torch.zeros(3, 2)], dim=1)),
    ("stack", lambda: torch.stack([x23, torch.zeros(3, 2)])),
    ("chunk", lambda: x0.chunk(2)),
    ("split", lambda: x23.split(1, dim=3)),
    ("index_select", lambda: torch.index_select(x23, 0, torch.tensor([5]))),
    ("gather", lambda: torch.gather(x23, 1, torch.tensor([[5]]))),
    ("take_along_dim", lambda: torch.take_along_dim(x23, torch.zeros(0, 3, 1, dtype=torch.int64), dim=-1)),
    ("masked_fill", lambda: torch.tensor([1, 2]).masked_fill(torch.tensor([True, False]), float("inf"))),
    ("masked_fill", lambda: x23.masked_fill(torch.ones(3, 3, dtype=torch.bool), 0.0)),
    ("expand", lambda: x23.expand(3, 3)),
    ("repeat", lambda: x23.repeat(2)),
    ("softmax", lambda: torch.softmax(x23, dim=3)),
    ("log_softmax", lambda: torch.log_softmax(torch.tensor([1, 2]), 0)),
    ("cross_entropy", lambda: F.cross_entropy(x23, torch.tensor([0, 1, 2]))),
    ("Target", lambda: F.cross_entropy(x23, torch.tensor([0, 7]))),
    ("nll_loss", lambda: F.nll_loss(x23, torch.tensor([0.5, 1.0]))),
    ("mse_loss", lambda: F.mse_loss(x23, torch.zeros(4))),
    ("linear", lambda: F.linear(x23, torch.zeros(4, 2))),
    ("layer_norm", lambda: F.layer_norm(x23, (4,))),
    ("conv2d", lambda: F.conv2d(torch.zeros(1, 2, 3, 3), torch.zeros(4, 3, 1, 1))),
    ("max_pool2d", lambda: F.max_pool2d(torch.zeros(1, 1, 2, 2), 3)),
    ("embedding", lambda: F.embedding(torch.tensor([5]), torch.zeros(3, 2))),
    ("pad", lambda: F.pad(x23, (1, 2, 3))),
    ("gelu", lambda: F.gelu(i64)),
    ("frac", lambda: i64.frac()),
    ("abs", lambda: torch.tensor([True]).abs()),
    ("Negation", lambda: -torch.tensor([True])),
    ("Subtraction", lambda: torch.tensor([True]) - torch.tensor([True])),
    ("floor_divide", lambda: i64 // torch.tensor([0, 0])),
    ("pow", lambda: torch.tensor([True]) ** torch.tensor([True])),
    ("norm", lambda: torch.zeros(2, 0).norm(p=float("inf"))),
    ("where", lambda: torch.where(x23, x23, x23)),
    ("layer_norm", lambda: F.layer_norm(x0, ())),
    ("__setitem__", lambda: x23.__setitem__(0, torch.zeros(4))),
    ("einsum", lambda: torch.einsum("ij,jk->ik", x23, x23)),
    ("topk", lambda: torch.topk(torch.zeros(2), 5)),
]


@pytest.mark.parametrize("op,call", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_error_names_the_op(op, call):
    with pytest.raises(Exception) as info:
        call()
    message = str(info.value)
    assert not is_from_numpy(info.value), f"raw NumPy error: {type(info.value).__name__}: {message}"
    assert op.lower() in message.lower(), f"{op!r} not in {type(info.value).__name__}: {message}"
