"""Regularisation: L2 as weight_decay (coupled into the gradient in SGD/Adam, decoupled in AdamW) and
the L1 penalty written as one line of the loss, each against PyTorch."""
import numpy as np
import pytest

import deepdive
import deepdive.nn as nn
import deepdive.optim as optim
from parity import assert_close, require_torch

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 5)).astype(np.float32)
Y = rng.standard_normal((8, 2)).astype(np.float32)


def _twin_models():
    """A deepdive Linear and a torch Linear with the same weights."""
    t = require_torch()
    theirs = t.nn.Linear(5, 2)
    ours = nn.Linear(5, 2)
    ours.weight._data[...] = theirs.weight.detach().numpy()
    ours.bias._data[...] = theirs.bias.detach().numpy()
    return ours, theirs


def _train(lib, model, opt, steps, l1_lambda=0.0):
    F = deepdive.nn.functional if lib is deepdive else lib.nn.functional
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(lib.tensor(X)), lib.tensor(Y))
        if l1_lambda:
            loss = loss + l1_lambda * sum(p.abs().sum() for p in model.parameters())
        loss.backward()
        opt.step()
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.1, weight_decay=0.1)),
                                          ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.05)),
                                          ("Adam", dict(lr=0.05, weight_decay=0.1)),
                                          ("AdamW", dict(lr=0.05, weight_decay=0.1)),
                                          ("AdamW", dict(lr=0.05, weight_decay=0.5, amsgrad=True))])
def test_weight_decay_matches_torch(name, options):
    t = require_torch()
    ours, theirs = _twin_models()
    a = _train(deepdive, ours, getattr(optim, name)(ours.parameters(), **options), 15)
    b = _train(t, theirs, getattr(t.optim, name)(theirs.parameters(), **options), 15)
    for p, q in zip(a, b):
        assert_close(p, q, rtol=1e-5, atol=1e-6, what=f"{name} weights")


def test_coupled_weight_decay_is_the_l2_term_in_the_gradient():
    # SGD with weight_decay = wd takes the same step as plain SGD on loss + wd/2 ||theta||^2.
    ours, _ = _twin_models()
    twin = nn.Linear(5, 2)
    twin.load_state_dict(ours.state_dict())
    _train(deepdive, ours, optim.SGD(ours.parameters(), lr=0.1, weight_decay=0.2), 5)
    opt = optim.SGD(twin.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.mse_loss(twin(deepdive.tensor(X)), deepdive.tensor(Y))
        loss = loss + 0.1 * sum((p * p).sum() for p in twin.parameters())
        loss.backward()
        opt.step()
    for p, q in zip(ours.parameters(), twin.parameters()):
        np.testing.assert_allclose(p._data, q._data, rtol=1e-5, atol=1e-6)


def test_adam_coupled_and_adamw_decoupled_differ():
    # Adam rescales the L2 gradient per parameter; AdamW shrinks every weight by the same lr * wd.
    results = []
    for cls in (optim.Adam, optim.AdamW):
        model, _ = _twin_models()
        model.load_state_dict(_twin_models()[0].state_dict())
        results.append(_train(deepdive, model, cls(model.parameters(), lr=0.05, weight_decay=0.5), 10))
    assert not np.allclose(results[0][0]._data, results[1][0]._data, atol=1e-4)


def test_adamw_decay_alone_shrinks_weights_by_lr_times_wd():
    w = deepdive.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    w.grad = deepdive.zeros(2)                  # no gradient signal: only the decay acts
    opt.step()
    np.testing.assert_allclose(w._data, [0.95, -1.9], rtol=1e-6)


@pytest.mark.parametrize("l1_lambda", [1e-3, 0.1])
def test_l1_penalty_gradient_matches_torch(l1_lambda):
    t = require_torch()
    ours, theirs = _twin_models()
    losses = []
    for lib, model in ((deepdive, ours), (t, theirs)):
        F = deepdive.nn.functional if lib is deepdive else t.nn.functional
        loss = F.mse_loss(model(lib.tensor(X)), lib.tensor(Y))
        loss = loss + l1_lambda * sum(p.abs().sum() for p in model.parameters())   # the documented one-liner
        loss.backward()
        losses.append(loss)
    assert_close(losses[0], losses[1], what="penalised loss")
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, what="gradient with L1 penalty")
    # and the penalty's share of it is exactly l1_lambda * sign(p)
    plain, _ = _twin_models()
    plain.load_state_dict(ours.state_dict())
    nn.functional.mse_loss(plain(deepdive.tensor(X)), deepdive.tensor(Y)).backward()
    for p, q in zip(ours.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad._data - q.grad._data, l1_lambda * np.sign(p._data), rtol=1e-4, atol=1e-7)


def test_l1_training_matches_torch():
    t = require_torch()
    ours, theirs = _twin_models()
    a = _train(deepdive, ours, optim.SGD(ours.parameters(), lr=0.05), 30, l1_lambda=0.05)
    b = _train(t, theirs, t.optim.SGD(theirs.parameters(), lr=0.05), 30, l1_lambda=0.05)
    for p, q in zip(a, b):
        assert_close(p, q, rtol=1e-4, atol=1e-5, what="weights trained with L1")
