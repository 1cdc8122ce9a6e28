"""The post's code ("Understanding Neural Networks: A Deep Dive") runs exactly as printed, import swapped.

The two code blocks below are the post's, character for character (checked
against the seed file when it is present). The training loop is the post's
pseudo-code: it needs ``num_epochs``, ``data_loader``, ``criterion``,
``optimizer`` and a ``target`` per batch, which the test provides. deepdive and
PyTorch run it from the same initial weights and the same batches, and must
agree step by step; and the loss must fall.
"""
import os
import re

import numpy as np
import pytest

import deepdive
from parity import require_torch

MODEL_CODE = """import torch
import torch.nn as nn

class SimpleNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(SimpleNN, self).__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.relu = nn.ReLU()
        self.layer2 = nn.Linear(hidden_size, output_size)
    
    def forward(self, x):
        x = self.layer1(x)
        x = self.relu(x)
        x = self.layer2(x)
        return x

# Create model
model = SimpleNN(input_size=10, hidden_size=20, output_size=2)
"""

LOOP_CODE = """# Pseudo-code for SGD
for epoch in range(num_epochs):
    for batch in data_loader:
        optimizer.zero_grad()
        output = model(batch)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
"""

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seed", "000_f91c8819269dbd6d.txt")


def as_deepdive(code):
    return code.replace("import torch\nimport torch.nn as nn", "import deepdive as torch\nimport deepdive.nn as nn")


@pytest.mark.skipif(not os.path.exists(SEED), reason="the seed post is not beside this checkout")
def test_code_blocks_are_the_posts_verbatim():
    blocks = re.findall(r"```python\n(.*?)```", open(SEED).read(), flags=re.S)
    assert MODEL_CODE in blocks[0]
    assert re.sub(r"^   ", "", blocks[1], flags=re.M) == LOOP_CODE      # the loop is indented in a list item


class BatchesSettingTarget:
    """The post's loop reads a global ``target``: this loader sets it for each batch it yields."""

    def __init__(self, namespace, X, y, batch_size, to_tensor):
        self.namespace, self.X, self.y, self.batch_size, self.to_tensor = namespace, X, y, batch_size, to_tensor

    def __iter__(self):
        for i in range(0, len(self.X), self.batch_size):
            self.namespace["target"] = self.to_tensor(self.y[i:i + self.batch_size])
            yield self.to_tensor(self.X[i:i + self.batch_size])


def run_post(code, X, y, init_weights=None, epochs=5):
    ns = {}
    exec(code, ns)                                  # defines SimpleNN and model, as the post does
    torch_like, model = ns["torch"], ns["model"]
    if init_weights is not None:
        model.load_state_dict({k: torch_like.tensor(v) for k, v in init_weights.items()})
    losses = []
    loss_fn = ns["nn"].CrossEntropyLoss()

    def criterion(output, target):
        loss = loss_fn(output, target)
        losses.append(loss.item())
        return loss
    ns.update(num_epochs=epochs, criterion=criterion,
              optimizer=torch_like.optim.SGD(model.parameters(), lr=0.1),
              data_loader=BatchesSettingTarget(ns, X, y, 32, torch_like.tensor))
    exec(LOOP_CODE, ns)
    return model, losses


def test_post_runs_unchanged_and_matches_pytorch_step_by_step():
    torch = require_torch()
    from deepdive.datasets import make_classification
    X, y = make_classification(n_samples=320, seed=1)
    X, y = X.numpy(), y.numpy()
    torch.manual_seed(0)
    ns = {}                           # both runs start from the weights PyTorch initialised
    exec(MODEL_CODE, ns)
    start = {k: v.detach().numpy().copy() for k, v in ns["model"].state_dict().items()}
    torch_model, torch_losses = run_post(MODEL_CODE, X, y, init_weights=start)
    dd_model, dd_losses = run_post(as_deepdive(MODEL_CODE), X, y, init_weights=start)
    assert len(dd_losses) == len(torch_losses) == 50
    np.testing.assert_allclose(dd_losses, torch_losses, rtol=1e-4, atol=1e-5)
    for k, v in torch_model.state_dict().items():
        np.testing.assert_allclose(dd_model.state_dict()[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5)
    assert np.mean(dd_losses[-10:]) < 0.75 * np.mean(dd_losses[:10])      # it learns


def test_model_prints_like_pytorch():
    torch = require_torch()
    ns_dd, ns_torch = {}, {}
    exec(as_deepdive(MODEL_CODE), ns_dd)
    exec(MODEL_CODE, ns_torch)
    assert repr(ns_dd["model"]) == repr(ns_torch["model"])
    assert [k for k, _ in ns_dd["model"].named_parameters()] == [k for k, _ in ns_torch["model"].named_parameters()]
    assert ns_dd["model"].layer1.weight.dtype == deepdive.float32
