"""Plots (matplotlib, from the optional ``[viz]`` extra). Each returns the figure, or writes it to ``path``."""
import numpy as np

from ._deps import pyplot, save_or_return

__all__ = ["plot_history", "plot_gradient_flow", "plot_activation_stats", "plot_weight_histograms",
           "plot_decision_boundary"]


def _history_dict(history):
    if hasattr(history, "history"):
        return history.history, getattr(history, "overfitting", None)
    return dict(history), None


def plot_history(history, path=None, metrics=None, title="Training curves"):
    """Training vs validation loss (and metrics), with the best epoch and the overfitting region marked.

    ``history``: a ``History`` from ``fit`` or a dict of lists ('loss', 'val_loss', ...).
    """
    plt = pyplot()
    logs, verdict = _history_dict(history)
    if "loss" not in logs:
        raise ValueError(f"plot_history: the history has no 'loss' (keys: {sorted(logs)})")
    if verdict is None and "val_loss" in logs:
        from ..training.monitor import detect_overfitting
        verdict = detect_overfitting(logs["loss"], logs["val_loss"])
    metrics = metrics if metrics is not None else [k for k in logs if not k.startswith("val_") and k not in ("loss", "lr")]
    panels = ["loss"] + [m for m in metrics if m in logs]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False, layout="constrained")
    epochs = np.arange(1, len(logs["loss"]) + 1)
    for ax, key in zip(axes[0], panels):
        ax.plot(epochs, logs[key], "o-", ms=3, label=f"training {key}", color="#2563eb")
        if f"val_{key}" in logs:
            ax.plot(epochs[:len(logs[f"val_{key}"])], logs[f"val_{key}"], "o-", ms=3, label=f"validation {key}",
                    color="#dc2626")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if key == "loss" and "val_loss" in logs:
            val = np.asarray(logs["val_loss"], dtype=float)
            best = int(np.nanargmin(val)) + 1
            ax.axvline(best, color="#16a34a", ls="--", lw=1, label=f"best epoch ({best})")
            if verdict and verdict.get("detected"):
                start = verdict["start_epoch"]                # 1-based, as printed
                ax.axvspan(start, epochs[-1], color="#fca5a5", alpha=0.25, label="overfitting")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_or_return(fig, path)


def plot_gradient_flow(flow, path=None):
    """Gradient norm per parameter over training (log scale): vanishing and exploding gradients show at a glance."""
    plt = pyplot()
    history = flow.history if hasattr(flow, "history") else flow
    if not history:
        raise ValueError("plot_gradient_flow: nothing recorded yet (call record() after backward, or train with it)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for name, norms in history.items():
        ax1.plot(np.arange(1, len(norms) + 1), np.maximum(norms, 1e-12), label=name, lw=1)
    ax1.set_yscale("log")
    ax1.set_xlabel("recorded step")
    ax1.set_ylabel("gradient L2 norm")
    ax1.grid(alpha=0.3)
    if len(history) <= 12:               # beyond that a legend hides the plot; the bar chart names them
        ax1.legend(fontsize=7)
    names = list(history)
    ax2.bar(range(len(names)), [np.mean(history[n]) for n in names], color="#2563eb")
    ax2.set_xticks(range(len(names)))
    ax2.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
    ax2.set_yscale("log")
    ax2.set_ylabel("mean gradient norm")
    fig.suptitle("Gradient flow per layer")
    return save_or_return(fig, path)


def plot_activation_stats(stats, path=None):
    """Mean/std and dead or saturated fraction of each activation layer over training."""
    plt = pyplot()
    history = stats.history if hasattr(stats, "history") else stats
    if not history:
        raise ValueError("plot_activation_stats: nothing recorded (attach ActivationStats and train)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for name, rows in history.items():
        steps = np.arange(1, len(rows) + 1)
        ax1.plot(steps, [r["mean"] for r in rows], label=f"{name} mean", lw=1)
        key = "dead" if "dead" in rows[0] else "saturated"
        ax2.plot(steps, [r[key] for r in rows], label=f"{name} {key}", lw=1)
    ax1.set_xlabel("recorded step")
    ax1.set_ylabel("mean activation")
    ax2.set_xlabel("recorded step")
    ax2.set_ylabel("fraction of units")
    ax2.set_ylim(0, 1)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Activation statistics")
    return save_or_return(fig, path)


def plot_weight_histograms(model_or_tracker, path=None, bins=40):
    """Histogram of every weight tensor (and, from a ``WeightTracker``, of its last epoch's updates)."""
    plt = pyplot()
    if hasattr(model_or_tracker, "updates"):
        weights, updates = model_or_tracker.weights, model_or_tracker.updates
    else:
        weights = {n: p._data for n, p in model_or_tracker.named_parameters()}
        updates = {}
    if not weights:
        raise ValueError("plot_weight_histograms: no weights (train with the WeightTracker or pass a model)")
    panels = []
    for name, w in weights.items():
        panels.append((name, w, "#2563eb"))
        if updates:
            panels.append((f"update of {name}", updates.get(name, np.zeros(1)), "#f59e0b"))
    cols = min(6, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols, 2.4 * rows), squeeze=False, layout="constrained")
    for ax, (title, values, color) in zip(axes.flat, panels):
        ax.hist(np.asarray(values).ravel(), bins=bins, color=color)
        ax.set_title(title, fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Weights" + (" and last-epoch updates" if updates else ""))
    return save_or_return(fig, path)


def plot_decision_boundary(model, X, y, X_val=None, y_val=None, path=None, resolution=200, title=None):
    """The classes a model predicts over the plane, with training (circles) and validation (crosses) points.

    Needs 2-D inputs: ``X`` of shape (n, 2). The model maps (m, 2) -> (m, classes) scores (or (m, 1) / (m,)
    for a binary model with a logit or probability output).
    """
    from ..tensor import Tensor, _wrap
    from ..autograd.grad_mode import no_grad
    Xn = np.asarray(X._data if isinstance(X, Tensor) else X)
    yn = np.asarray(y._data if isinstance(y, Tensor) else y)
    if Xn.ndim != 2 or Xn.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs (X of shape (n, 2)); got X of shape "
                         f"{list(Xn.shape)}. For a model with {Xn.shape[-1] if Xn.ndim else 0} input features, "
                         "plot its training curves instead, or project the inputs to 2-D first.")
    plt = pyplot()
    pad = 0.5
    x0 = np.linspace(Xn[:, 0].min() - pad, Xn[:, 0].max() + pad, resolution)
    x1 = np.linspace(Xn[:, 1].min() - pad, Xn[:, 1].max() + pad, resolution)
    grid = np.stack(np.meshgrid(x0, x1), -1).reshape(-1, 2).astype(np.float32)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    with no_grad():
        scores = model(_wrap(grid))._data
    if was_training and hasattr(model, "train"):
        model.train()
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.argmax(1)
    else:
        flat = scores.reshape(-1)
        classes = (flat > (0.5 if flat.min() >= 0 and flat.max() <= 1 else 0)).astype(int)
    fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    ax.contourf(x0, x1, classes.reshape(resolution, resolution), alpha=0.3, cmap="coolwarm",
                levels=np.arange(classes.max() + 2) - 0.5)
    ax.scatter(Xn[:, 0], Xn[:, 1], c=yn, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3, label="training")
    if X_val is not None:
        Xv = np.asarray(X_val._data if isinstance(X_val, Tensor) else X_val)
        yv = np.asarray(y_val._data if isinstance(y_val, Tensor) else y_val)
        ax.scatter(Xv[:, 0], Xv[:, 1], c=yv, cmap="coolwarm", s=22, marker="x", label="validation")
    ax.legend(fontsize=8)
    ax.set_title(title or "Decision boundary")
    return save_or_return(fig, path)
