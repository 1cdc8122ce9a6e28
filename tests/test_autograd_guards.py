"""Autograd refuses what it must refuse, as PyTorch does: an index changed in place after an op kept it for
backward, a hook that changes a gradient's shape or dtype; and it frees what a node saved at backward."""
import gc
import tracemalloc

import numpy as np
import pytest

import deepdive
import deepdive.nn.functional as F
from parity import require_torch

VERSION_ERROR = "modified by an inplace operation"


@pytest.mark.parametrize("op", [
    lambda x, i: x.gather(0, i),
    lambda x, i: x.index_select(0, i),
    lambda x, i: x.scatter(0, i, deepdive.ones(1)),
    lambda x, i: x.scatter_add(0, i, deepdive.ones(1)),
    lambda x, i: x.index_add(0, i, deepdive.ones(1)),
    lambda x, i: F.embedding(i, x.reshape(4, 1)),
], ids=["gather", "index_select", "scatter", "scatter_add", "index_add", "embedding"])
def test_an_index_changed_after_the_op_is_caught(op):
    x = deepdive.arange(4.0, requires_grad=True)
    i = deepdive.tensor([3])
    y = op(x, i)
    i.zero_()
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        y.sum().backward()
    assert x.grad is None


def test_a_target_changed_after_the_loss_is_caught_as_in_pytorch():
    torch = require_torch()
    for lib, fn in ((deepdive, "cross_entropy"), (torch, "cross_entropy"), (deepdive, "nll_loss"), (torch, "nll_loss")):
        logits = lib.zeros(2, 3, requires_grad=True)
        target = lib.tensor([0, 2])
        loss = getattr(lib.nn.functional, fn)(logits.log_softmax(1) if fn == "nll_loss" else logits, target)
        target.zero_()
        with pytest.raises(RuntimeError, match=VERSION_ERROR):
            loss.backward()


def test_an_unchanged_index_still_backpropagates():
    x = deepdive.arange(4.0, requires_grad=True)
    i = deepdive.tensor([3, 3])
    x.gather(0, i).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 2.0]


@pytest.mark.parametrize("on_leaf", [True, False])
def test_a_hook_that_changes_the_shape_raises_as_in_pytorch(on_leaf):
    torch = require_torch()
    messages = []
    for lib in (deepdive, torch):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        (x if on_leaf else y).register_hook(lambda g: lib.ones(4))
        with pytest.raises(RuntimeError) as error:
            (y * 1).sum().backward()
        messages.append(str(error.value))
        assert x.grad is None
    assert messages[0].startswith(messages[1])        # ours adds the two shapes


def test_a_hook_that_changes_the_dtype_raises_as_in_pytorch():
    torch = require_torch()
    for lib in (deepdive, torch):
        x = lib.ones(3, requires_grad=True)

        def to_double(g):
            return g.double()
        x.register_hook(to_double)
        with pytest.raises(RuntimeError, match=r"hook 'to_double' has changed the type of value \(was "
                                               r"(deepdive|torch)\.FloatTensor got (deepdive|torch)\.DoubleTensor\)"):
            (x * 2).sum().backward()


def test_a_hook_may_replace_a_gradient_with_one_of_the_same_shape():
    x = deepdive.ones(3, requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [20.0] * 3


def _held_after_backward(retain_graph):
    tracemalloc.start()
    x = deepdive.randn(256, 256, requires_grad=True)
    h = x
    for _ in range(20):                 # masks, indices and inputs kept as node attributes
        h = F.dropout(h.relu() * 1.5, 0.1).gather(1, deepdive.randint(0, 256, (256, 256)))
    loss = h.sum()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    loss.backward(retain_graph=retain_graph)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, loss


def test_backward_frees_what_the_graph_saved():
    freed, loss = _held_after_backward(retain_graph=False)
    kept, _ = _held_after_backward(retain_graph=True)
    graph_bytes = 20 * 4 * 256 * 256 * 4                # ~20 MB of saved arrays in that graph
    assert freed < -0.5 * graph_bytes, f"only {-freed / 1e6:.1f} MB released at backward"
    assert kept > -0.1 * graph_bytes
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_nodes_that_saved_nothing_can_run_again_as_in_pytorch():
    x = deepdive.ones(3, requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0] * 3
