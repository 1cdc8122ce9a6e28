"""An LSTM (or GRU) learns a generated sequence task: sine-wave forecasting or the adding problem.

    python examples/lstm_sequence.py [--task sine|adding] [--cell lstm|gru] [--steps 300] [--seed 0]

The model reads a batch-first sequence with ``nn.LSTM(batch_first=True)``, and a
``nn.Linear`` maps the last hidden state to the prediction; the loss is the mean
squared error. The code is plain PyTorch code (``import deepdive as torch`` would
run it unchanged).

Baselines to beat: on ``sine`` predicting the last seen value scores MSE ~0.05;
on ``adding`` predicting the mean sum (1.0) scores MSE ~0.167.
"""
import argparse
import time

import deepdive
import deepdive.nn as nn
import deepdive.optim  # noqa: F401  (deepdive.optim.Adam)
from deepdive.datasets import sine_waves, adding_problem


class SequenceRegressor(nn.Module):
    """(batch, seq_len, features) -> recurrent layer -> last hidden state -> Linear -> (batch, out_features)."""

    def __init__(self, in_features, hidden_size, out_features, cell="lstm", num_layers=1):
        super().__init__()
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = recurrent(in_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, out_features)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


def make_task(task, n_samples, seq_len, seed):
    if task == "sine":
        return sine_waves(n_samples, seq_len, horizon=1, seed=seed)
    if task == "adding":
        return adding_problem(n_samples, seq_len, seed=seed)
    raise ValueError(f"unknown task {task!r}: choose 'sine' or 'adding'")


def main(task="sine", cell="lstm", steps=300, hidden_size=32, seq_len=30, batch_size=64, lr=0.01,
         n_samples=2048, seed=0, log_every=50, verbose=True):
    """Train and return the list of per-step training losses (a float each)."""
    deepdive.manual_seed(seed)
    X, y = make_task(task, n_samples, seq_len, seed)
    model = SequenceRegressor(X.shape[-1], hidden_size, y.shape[-1], cell)
    optimizer = deepdive.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    generator = deepdive.Generator().manual_seed(seed)
    losses, start = [], time.perf_counter()
    for step in range(steps):
        batch = deepdive.randint(0, n_samples, (batch_size,), generator=generator)
        loss = loss_fn(model(X[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if verbose and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:4d}  loss {losses[-1]:.4f}  ({time.perf_counter() - start:.1f}s)")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="sine", choices=["sine", "adding"])
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seq-len", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    history = main(args.task, args.cell, args.steps, seq_len=args.seq_len, seed=args.seed)
    print(f"loss: first {history[0]:.4f}, mean of last 20 steps {sum(history[-20:]) / 20:.4f}")
