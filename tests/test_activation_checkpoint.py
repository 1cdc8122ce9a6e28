"""deepdive.utils.checkpoint: recomputed activations, gradients identical to no checkpointing, as PyTorch."""

import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
from deepdive.utils.checkpoint import checkpoint, checkpoint_sequential
from parity import require_torch, assert_close, gradcheck


def _mlp(lib, depth=6, width=16, dropout=0.0, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(depth):
        lin = lib.nn.Linear(width, width)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(rng.standard_normal((width, width)).astype(np.float32) * 0.3))
            lin.bias.copy_(lib.tensor(rng.standard_normal(width).astype(np.float32) * 0.1))
        layers += [lin, lib.nn.Tanh()] + ([lib.nn.Dropout(dropout)] if dropout else [])
    return lib.nn.Sequential(*layers)


def _grads(model):
    return [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradients_identical_to_no_checkpointing(use_reentrant):
    x = np.random.default_rng(1).standard_normal((5, 16)).astype(np.float32)
    plain, ckpt = _mlp(deepdive), _mlp(deepdive)
    xa = deepdive.tensor(x, requires_grad=True)
    (plain(xa) ** 2).sum().backward()
    xb = deepdive.tensor(x, requires_grad=True)
    half = len(ckpt) // 2
    h = checkpoint(ckpt[:half], xb, use_reentrant=use_reentrant)
    out = checkpoint(ckpt[half:], h, use_reentrant=use_reentrant)
    (out ** 2).sum().backward()
    for a, b in zip(_grads(plain), _grads(ckpt)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(xa.grad.numpy(), xb.grad.numpy())


def _saved_bytes(loss):
    """Bytes of the arrays the graph behind ``loss`` keeps for backward (checkpoint segments count their inputs)."""
    seen, stack, total = set(), [loss.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen or isinstance(node, deepdive.Tensor):
            continue
        seen.add(node)
        total += sum(a.nbytes for a in node._saved if isinstance(a, np.ndarray))
        total += sum(a._data.nbytes for a in getattr(node, "_args", ()) if isinstance(a, deepdive.Tensor))
        stack.extend(e[0] for e in node.next_functions if e is not None)
    return total


def test_checkpointed_graph_keeps_only_segment_inputs():
    model = _mlp(deepdive, depth=12, width=64)
    x = deepdive.randn(32, 64, requires_grad=True)
    plain = _saved_bytes((model(x) ** 2).sum())
    ckpt = _saved_bytes((checkpoint_sequential(model, 4, x, use_reentrant=False) ** 2).sum())
    assert ckpt < plain / 2, (ckpt, plain)


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_parity_with_pytorch_checkpoint_sequential(use_reentrant):
    torch = require_torch()
    import torch.utils.checkpoint as tcp
    x = np.random.default_rng(2).standard_normal((4, 16)).astype(np.float32)
    ours, theirs = _mlp(deepdive, depth=5), _mlp(torch, depth=5)
    xa, xb = deepdive.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya = checkpoint_sequential(ours, 3, xa, use_reentrant=use_reentrant)
    yb = tcp.checkpoint_sequential(theirs, 3, xb, use_reentrant=use_reentrant)
    assert_close(ya.detach(), yb.detach())
    (ya.sin().sum()).backward()
    (yb.sin().sum()).backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad)
    assert_close(xa.grad, xb.grad)


def test_dropout_draws_the_same_mask_when_recomputed():
    x = np.random.default_rng(3).standard_normal((8, 16)).astype(np.float32)
    plain, ckpt = _mlp(deepdive, depth=3, dropout=0.5), _mlp(deepdive, depth=3, dropout=0.5)
    deepdive.manual_seed(7)
    (plain(deepdive.tensor(x)) ** 2).sum().backward()
    deepdive.manual_seed(7)
    (checkpoint(ckpt, deepdive.tensor(x), use_reentrant=False) ** 2).sum().backward()
    for a, b in zip(_grads(plain), _grads(ckpt)):
        np.testing.assert_array_equal(a, b)


def test_reentrant_variant_without_grad_inputs_matches_pytorch():
    torch = require_torch()
    import torch.utils.checkpoint as tcp
    for lib, ck in ((deepdive, checkpoint), (torch, tcp.checkpoint)):
        lin = lib.nn.Linear(3, 2)
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
            out = ck(lin, lib.ones(1, 3), use_reentrant=True)
        assert not out.requires_grad
        out = ck(lin, lib.ones(1, 3), use_reentrant=False)
        out.sum().backward()
        assert lin.weight.grad is not None


def test_warnings_and_errors_as_pytorch():
    torch = require_torch()
    import torch.utils.checkpoint as tcp
    lin = nn.Linear(2, 2)
    x = deepdive.ones(1, 2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lin, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, scale=2.0, use_reentrant=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        tcp.checkpoint(lambda t, scale: t * scale, torch.ones(1, requires_grad=True), scale=2.0, use_reentrant=True)
    y = checkpoint(lambda t, scale: t * scale, x, scale=3.0, use_reentrant=False)
    y.sum().backward()
    assert x.grad.tolist() == [[3.0, 3.0]]


def test_autograd_grad_and_multiple_outputs_and_nesting():
    x = deepdive.tensor([0.5, -1.0, 2.0], requires_grad=True)

    def two(t):
        return t.exp(), (t * t).sum()

    def nested(t):
        a, b = checkpoint(two, t, use_reentrant=False)
        return a * b

    (g,) = deepdive.autograd.grad(checkpoint(nested, x, use_reentrant=False).sum(), x)
    x2 = deepdive.tensor([0.5, -1.0, 2.0], requires_grad=True)
    a, b = two(x2)
    (g2,) = deepdive.autograd.grad((a * b).sum(), x2)
    np.testing.assert_allclose(g.numpy(), g2.numpy(), rtol=1e-6)
    assert x.grad is None


def test_gradcheck_through_checkpoint():
    w = deepdive.tensor(np.random.default_rng(4).standard_normal((3, 3)), requires_grad=True)
    gradcheck(lambda x: checkpoint(lambda t: (t @ w).tanh() * t, x, use_reentrant=False),
              np.random.default_rng(5).standard_normal((2, 3)))


def test_second_backward_through_a_freed_segment_raises():
    x = deepdive.ones(2, requires_grad=True)
    y = checkpoint(lambda t: t * 2, x, use_reentrant=False).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_mode_just_runs_the_function():
    with deepdive.no_grad():
        out = checkpoint(lambda t: t + 1, deepdive.ones(2, requires_grad=True), use_reentrant=False)
    assert not out.requires_grad and out.tolist() == [2.0, 2.0]


DEEP_MLP = '''
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint_sequential

def train(x, y, weights, steps=3):
    blocks = []
    for w, b in weights:
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w))
            lin.bias.copy_(torch.tensor(b))
        blocks += [lin, nn.ReLU()]
    model = nn.Sequential(*blocks[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out = checkpoint_sequential(model, 4, torch.tensor(x), use_reentrant=False)
        loss = nn.functional.mse_loss(out, torch.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]
'''


def test_checkpointed_deep_mlp_program_matches_pytorch():
    require_torch()
    from program_swap import run_both
    rng = np.random.default_rng(6)
    weights = [(rng.standard_normal((16, 16)).astype(np.float32) * 0.3, np.zeros(16, np.float32)) for _ in range(8)]
    x, y = rng.standard_normal((10, 16)).astype(np.float32), rng.standard_normal((10, 16)).astype(np.float32)
    runs = {name: ns["train"](x, y, weights) for name, ns in run_both(DEEP_MLP).items()}
    np.testing.assert_allclose(runs["deepdive"][0], runs["torch"][0], rtol=1e-5)
    for a, b in zip(runs["deepdive"][1], runs["torch"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_parameter_hooks_run_once_per_backward():
    torch = require_torch()
    import torch.utils.checkpoint as tcp
    counts = {}
    for name, lib, ck in (("dd", deepdive, checkpoint), ("torch", torch, tcp.checkpoint)):
        lin = lib.nn.Linear(3, 2)
        calls = []
        lin.weight.register_hook(lambda g, calls=calls: calls.append(1) or g * 2)
        ck(lin, lib.ones(4, 3), use_reentrant=False).sum().backward()
        counts[name] = (len(calls), lin.weight.grad.tolist())
    assert counts["dd"] == counts["torch"] == (1, [[8.0] * 3] * 2)
