"""The main demo: the post's SimpleNN and its SGD loop, on a built-in data set, with everything visible.

The network is the post's code as printed; the loop is the post's pseudo-code
made concrete (the loader yields ``(batch, target)`` pairs; a validation pass
ends each epoch so the overfitting monitor can compare the two losses).
"""
import os

import numpy as np

import deepdive as torch            # the post's code, with only the import changed
import deepdive.nn as nn
from ..datasets import make_classification
from ..training.callbacks import CallbackList, History
from ..training.monitor import OverfittingMonitor
from ..training.progress import ProgressBar
from ..utils.data import DataLoader, TensorDataset
from ..viz import GradientFlow, ActivationStats, WeightTracker, explain_neuron, explain_backward, plot_decision_boundary
from . import run_folder


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


def informative_sample(model, criterion, X, y):
    """(sample index, hidden unit) worth explaining: a live hidden neuron, on a sample with a real loss.

    The unit is the hidden unit active on the most samples; the sample is, among those where it is active
    and whose loss is at least the median, the one with the most live hidden units (then the larger loss),
    so the explanation shows numbers flowing, not a page of zeros.
    """
    with torch.no_grad():
        hidden = model.relu(model.layer1(X)).numpy()
        losses = nn.functional.cross_entropy(model(X), y, reduction="none").numpy()
    unit = int(np.argmax((hidden > 0).mean(0)))
    live = (hidden > 0).sum(1)
    candidates = np.flatnonzero((hidden[:, unit] > 0) & (losses >= np.median(losses)))
    if len(candidates) == 0:
        return int(np.argmax(losses)), unit
    best = max(candidates, key=lambda i: (live[i], losses[i]))
    return int(best), unit


def run(epochs=60, n_samples=300, validation_split=0.3, lr=0.1, batch_size=16, seed=0, out="runs", verbose=1):
    """Train ``SimpleNN(10, 20, 2)`` with SGD and write the run folder. Returns a ``RunResult``."""
    folder = run_folder.prepare(out, "demo-mlp")                  # extras and --out checked before training
    try:
        return _train(folder, epochs, n_samples, validation_split, lr, batch_size, seed, verbose)
    except run_folder.RunFolderError:
        raise
    except BaseException:
        run_folder.discard(folder)
        raise


def _train(folder, epochs, n_samples, validation_split, lr, batch_size, seed, verbose):
    torch.manual_seed(seed)
    X, y = make_classification(n_samples=n_samples, n_features=10, flip_y=0.15, seed=seed)
    n_val = int(round(n_samples * validation_split))
    train_set = TensorDataset(X[n_val:], y[n_val:])
    X_val, y_val = X[:n_val], y[:n_val]
    data_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))

    # Create model (the post's line)
    model = SimpleNN(input_size=10, hidden_size=20, output_size=2)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    history = History()
    monitor = OverfittingMonitor(history=history, verbose=verbose)
    gradients, activations, weights = GradientFlow(model), ActivationStats(model), WeightTracker(model)
    callbacks = CallbackList([history, ProgressBar(verbose=verbose), monitor, gradients, activations, weights],
                             model=model, params={"epochs": epochs, "steps": len(data_loader)})
    num_epochs = epochs
    callbacks.on_train_begin()
    # The post's training loop
    for epoch in range(num_epochs):
        callbacks.on_epoch_begin(epoch)
        model.train()
        total, count, correct = 0.0, 0, 0
        for step, (batch, target) in enumerate(data_loader):
            optimizer.zero_grad()
            output = model(batch)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(target)
            count += len(target)
            correct += int((output.argmax(1) == target).sum())
            callbacks.on_train_batch_end(step, {"loss": total / count, "accuracy": correct / count})
        model.eval()
        with torch.no_grad():
            val_output = model(X_val)
            val_loss = criterion(val_output, y_val).item()
            val_acc = float((val_output.argmax(1) == y_val).float().mean())
        callbacks.on_epoch_end(epoch, {"loss": total / count, "accuracy": correct / count,
                                       "val_loss": val_loss, "val_accuracy": val_acc, "lr": lr})
    callbacks.on_train_end()

    metrics = run_folder.final_metrics(history.history)
    verdict = getattr(history, "overfitting", None) or monitor.verdict
    X_train, y_train = X[n_val:], y[n_val:]
    intro = (f"The post's network SimpleNN(input_size=10, hidden_size=20, output_size=2) was trained with "
             f"SGD(lr={lr}) for {epochs} epochs on {len(train_set)} samples of a built-in 10-feature, 2-class task "
             f"(15% of labels flipped at random: noise a network can memorise), and validated on {n_val} held-out "
             f"samples after every epoch.\n\nEach step: optimizer.zero_grad(); output = model(batch); "
             f"loss = criterion(output, target); loss.backward(); optimizer.step().")

    def what_it_learned(folder, files):
        model.eval()
        index, unit = informative_sample(model, criterion, X_val, y_val)
        sample, label = X_val[index:index + 1], y_val[index:index + 1]
        neuron = explain_neuron(model, sample, unit=unit)          # layer1, then the ReLU that follows it
        loss = criterion(model(sample), label)
        backward = explain_backward(loss, params=model)           # before any backward: it shows the saved values
        about = (f"validation sample {index} (true class {int(label.item())}, loss {loss.item():.3g}), chosen "
                 f"because its loss is real and hidden neuron {unit} is live on it")
        files["decision_boundary"] = plot_decision_boundary(
            model, X_train, y_train, X_val, y_val, path=os.path.join(folder, "decision_boundary.png"),
            project="pca", title="What SimpleNN predicts over the data's main plane")
        return [("What the network learned: its decision boundary", "image", "decision_boundary",
                 "The inputs have 10 features, so the picture is a slice: the plane through the data's mean spanned "
                 "by its two principal components. Background: the class the model predicts at each point of that "
                 "plane; circles: training samples, crosses: validation samples, at their projection onto it."),
                ("One neuron, with its numbers", "pre", str(neuron), f"Hidden neuron {unit} on {about}."),
                ("Backpropagation, step by step", "pre", str(backward), f"The loss of {about}.")]
    return run_folder.finish(
        folder, "deepdive demo: the post's SimpleNN", "y = σ(Σ wᵢxᵢ + b), layer by layer, trained by backpropagation",
        model, history.history, verdict, criterion, (X_val[:1], y_val[:1]), intro, model_sections=what_it_learned,
        monitors={"gradients": gradients, "activations": activations, "weights": weights}, metrics=metrics)
