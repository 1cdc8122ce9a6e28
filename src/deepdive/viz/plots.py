"""Plots (matplotlib, from the optional ``[viz]`` extra). Each returns the figure, or writes it to ``path``."""
import textwrap

import numpy as np

from ._deps import pyplot, save_or_return

__all__ = ["plot_history", "plot_gradient_flow", "plot_activation_stats", "plot_weight_histograms",
           "plot_decision_boundary", "plot_image_predictions", "plot_filters", "plot_forecast"]

# Figures are sized to be read at their own size in a ~900-pixel-wide page (the report, a notebook): wider
# figures are scaled down until their text is too small to read.
_MAX_WIDTH = 9.5


def _layer_of(name):
    """'features.0.weight' -> 'features.0': the module a parameter belongs to."""
    return name.rsplit(".", 1)[0] if "." in name else name


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
    """Gradient norm of each layer over training (log scale): vanishing and exploding gradients show at a glance.

    The parameters of one module (its weight and bias...) are grouped into one layer norm
    sqrt(sum of their squared norms), so every line is in the legend and none is hidden.
    """
    plt = pyplot()
    history = flow.history if hasattr(flow, "history") else flow
    if not history:
        raise ValueError("plot_gradient_flow: nothing recorded yet (call record() after backward, or train with it)")
    layers = {}
    for name, norms in history.items():
        layers.setdefault(_layer_of(name), []).append(np.asarray(norms, dtype=float))
    steps = min(len(n) for group in layers.values() for n in group)
    grouped = {layer: np.sqrt(sum(n[:steps] ** 2 for n in group)) for layer, group in layers.items()}
    names = list(grouped)
    labels = list(names)
    model = getattr(flow, "model", None)
    if model is not None and hasattr(model, "named_modules"):      # legend: 'features.0' -> 'features.0 (Conv2d)'
        # NOTE: attention's out_proj is PyTorch's NonDynamicallyQuantizableLinear, which users know as a Linear
        kinds = {path: type(module).__name__.replace("NonDynamicallyQuantizable", "")
                 for path, module in model.named_modules()}
        labels = [f"{layer} ({kinds[layer]})" if layer in kinds else layer for layer in names]
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(names)))
    legend_rows = -(-len(names) // 2)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(_MAX_WIDTH, 3.4 + 0.17 * legend_rows), layout="constrained")
    for color, name, label in zip(colors, names, labels):
        ax1.plot(np.arange(1, steps + 1), np.maximum(grouped[name], 1e-12), label=label, lw=1.2, color=color)
    from matplotlib.ticker import MaxNLocator
    ax1.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax1.set_yscale("log")
    ax1.set_xlabel("recorded step")
    ax1.set_ylabel("gradient L2 norm of the layer")
    ax1.grid(alpha=0.3)
    ax2.barh(range(len(names)), [np.mean(grouped[n]) for n in names], color=colors)
    ax2.set_yticks(range(len(names)))
    ax2.set_yticklabels(names, fontsize=6 if len(names) > 12 else 7)
    ax2.invert_yaxis()                    # first layer on top, as the model is read
    means = np.array([np.mean(grouped[n]) for n in names])
    if means.min() > 0 and means.max() / means.min() > 10:       # log only when the norms span decades
        from matplotlib.ticker import NullFormatter
        ax2.set_xscale("log")
        ax2.xaxis.set_minor_formatter(NullFormatter())           # minor labels crowd a narrow log axis
    else:
        ax2.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax2.tick_params(axis="x", labelsize=7)
    ax2.set_xlabel("mean gradient norm")
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=7, frameon=False)
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


_SMALL = 10       # a tensor with fewer values is listed, not drawn: a histogram of 1 or 2 values shows nothing


def plot_weight_histograms(model_or_tracker, path=None, bins=30):
    """Histogram of every weight tensor (and, from a ``WeightTracker``, of its last epoch's updates).

    Tensors of fewer than 10 values (a bias of 1 or 2 units) are listed with their values under the
    figure instead of being drawn as a histogram of a few bars. Three panels a row, three ticks an axis,
    so labels never overlap at the figure's own size.
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator
    if hasattr(model_or_tracker, "updates"):
        weights, updates = model_or_tracker.weights, model_or_tracker.updates
    else:
        weights = {n: p._data for n, p in model_or_tracker.named_parameters()}
        updates = {}
    if not weights:
        raise ValueError("plot_weight_histograms: no weights (train with the WeightTracker or pass a model)")
    panels, small = [], []
    for name, w in weights.items():
        if np.size(w) < _SMALL:
            small.append(f"{name} = [{', '.join(f'{v:.3g}' for v in np.ravel(w))}]")
            continue
        panels.append((f"{name}  ({np.size(w):,} values)", w, "#2563eb"))
        if updates:               # a row per tensor: its weights, then its update, side by side
            panels.append((f"its last-epoch update", updates.get(name, np.zeros(1)), "#f59e0b"))
    cols = 2 if updates else 3
    cols = max(1, min(cols, len(panels)))
    rows = max(1, -(-len(panels) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(_MAX_WIDTH, 2.1 * rows + 0.25 * len(small)), squeeze=False,
                             layout="constrained")
    width_chars = int(_MAX_WIDTH / cols * 72 / 8 * 1.6)        # characters of 8-pt text a panel's title can hold
    for ax, (title, values, color) in zip(axes.flat, panels):
        values = np.asarray(values, dtype=float).ravel()
        ax.hist(values, bins=int(min(bins, max(5, values.size // 4))), color=color)
        ax.set_title(textwrap.fill(title, width_chars, break_on_hyphens=False), fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    if small:
        fig.supxlabel("Too few values for a histogram:\n" + "\n".join(small), fontsize=7, ha="center")
    fig.suptitle("Weights" + (" and last-epoch updates" if updates else ""))
    return save_or_return(fig, path)


def plot_decision_boundary(model, X, y, X_val=None, y_val=None, path=None, resolution=200, title=None,
                           project=None):
    """The classes a model predicts over the plane, with training (circles) and validation (crosses) points.

    Needs 2-D inputs: ``X`` of shape (n, 2), or ``project='pca'`` for more features: then the plane drawn is
    the one through the training data's mean spanned by its two principal components (a slice of the input
    space: points off the plane are drawn at their projection). The model maps (m, features) ->
    (m, classes) scores (or (m, 1) / (m,) for a binary model with a logit or probability output).
    """
    from ..tensor import Tensor, _wrap
    from ..autograd.grad_mode import no_grad
    Xn = np.asarray(X._data if isinstance(X, Tensor) else X, dtype=np.float64)
    yn = np.asarray(y._data if isinstance(y, Tensor) else y)
    if Xn.ndim != 2 or (Xn.shape[1] != 2 and project != "pca"):
        raise ValueError(f"plot_decision_boundary needs 2-D inputs (X of shape (n, 2)); got X of shape "
                         f"{list(Xn.shape)}. For a model with {Xn.shape[-1] if Xn.ndim else 0} input features, "
                         "pass project='pca' to draw the plane of the data's two principal components.")
    if project not in (None, "pca"):
        raise ValueError(f"plot_decision_boundary: project must be None or 'pca', got {project!r}")
    mean, basis = np.zeros(Xn.shape[1]), np.eye(2)
    if project == "pca":
        mean = Xn.mean(0)
        basis = np.linalg.svd(Xn - mean, full_matrices=False)[2][:2]          # (2, features), orthonormal rows
    to_plane = lambda A: (np.asarray(A._data if isinstance(A, Tensor) else A, dtype=np.float64) - mean) @ basis.T
    Xn = to_plane(Xn)
    plt = pyplot()
    pad = 0.5
    x0 = np.linspace(Xn[:, 0].min() - pad, Xn[:, 0].max() + pad, resolution)
    x1 = np.linspace(Xn[:, 1].min() - pad, Xn[:, 1].max() + pad, resolution)
    grid = (np.stack(np.meshgrid(x0, x1), -1).reshape(-1, 2) @ basis + mean).astype(np.float32)
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
        Xv = to_plane(X_val)
        yv = np.asarray(y_val._data if isinstance(y_val, Tensor) else y_val)
        ax.scatter(Xv[:, 0], Xv[:, 1], c=yv, cmap="coolwarm", s=22, marker="x", label="validation")
    ax.legend(fontsize=8)
    if project == "pca":
        ax.set_xlabel("first principal component")
        ax.set_ylabel("second principal component")
    ax.set_title(title or "Decision boundary" + (" (plane of the two principal components)" if project else ""),
                 fontsize=10)
    return save_or_return(fig, path)


def _numpy(a):
    from ..tensor import Tensor
    return np.asarray(a._data if isinstance(a, Tensor) else a)


def plot_image_predictions(images, labels, predicted, path=None, cols=8, title="Sample inputs and predictions"):
    """A grid of images, each titled with the model's predicted label (green when right, red with the truth).

    ``images``: (n, H, W) or (n, 1, H, W); ``labels``, ``predicted``: (n,) class indices.
    """
    plt = pyplot()
    images, labels, predicted = _numpy(images), _numpy(labels).ravel(), _numpy(predicted).ravel()
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or not len(images) == len(labels) == len(predicted):
        raise ValueError(f"plot_image_predictions needs images (n, H, W) or (n, 1, H, W) and n labels and "
                         f"predictions; got {list(images.shape)}, {len(labels)}, {len(predicted)}")
    cols = min(cols, len(images))
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(min(_MAX_WIDTH, 1.15 * cols), 1.3 * rows + 0.4), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label, guess in zip(axes.flat, images, labels, predicted):
        ax.imshow(image, cmap="gray_r")
        right = int(label) == int(guess)
        ax.set_title(f"pred {int(guess)}" if right else f"pred {int(guess)}\n(true {int(label)})", fontsize=8,
                     color="#15803d" if right else "#b91c1c")
    fig.suptitle(f"{title}: {int(np.sum(labels == predicted))}/{len(labels)} right", fontsize=10)
    return save_or_return(fig, path)


def plot_filters(weight, path=None, cols=8, title="First-layer filters"):
    """The kernels of a convolution layer as small images (blue negative, red positive, one colour scale).

    ``weight``: (out_channels, in_channels, kH, kW), e.g. ``model.conv1.weight``; with several input channels
    each filter shows their mean.
    """
    plt = pyplot()
    w = _numpy(weight.detach() if hasattr(weight, "detach") else weight).astype(float)
    if w.ndim != 4:
        raise ValueError(f"plot_filters needs a conv weight (out_channels, in_channels, kH, kW), got {list(w.shape)}")
    kernels = w.mean(1)
    limit = float(np.abs(kernels).max()) or 1.0
    cols = min(cols, len(kernels))
    rows = -(-len(kernels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(min(_MAX_WIDTH, 1.0 * cols + 1), 1.05 * rows + 0.5),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, k) in enumerate(zip(axes.flat, kernels)):
        shown = ax.imshow(k, cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set_title(f"filter {i}", fontsize=7)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="weight")
    mean_note = f" (mean over {w.shape[1]} input channels)" if w.shape[1] > 1 else ""
    fig.suptitle(f"{title}: {len(kernels)} filters of {w.shape[2]}x{w.shape[3]}{mean_note}", fontsize=10)
    return save_or_return(fig, path)


def plot_forecast(windows, truth, predicted, path=None, n=4, title="Forecast against the truth"):
    """Input windows with the true next value and the model's forecast, and forecast vs truth over all samples.

    ``windows``: (n, T) or (n, T, 1) inputs; ``truth``, ``predicted``: (n,) or (n, 1) next values.
    """
    plt = pyplot()
    windows = _numpy(windows).reshape(len(_numpy(windows)), -1)
    truth, predicted = _numpy(truth).reshape(-1), _numpy(predicted).reshape(-1)
    if not len(windows) == len(truth) == len(predicted):
        raise ValueError(f"plot_forecast needs as many windows, truths and forecasts; got {len(windows)}, "
                         f"{len(truth)}, {len(predicted)}")
    n = min(n, len(windows))
    fig, axes = plt.subplots(1, n + 1, figsize=(_MAX_WIDTH, 2.6), layout="constrained",
                             gridspec_kw={"width_ratios": [1.3] * n + [1.6]})
    T = windows.shape[1]
    for i, ax in enumerate(axes[:n]):
        ax.plot(np.arange(T), windows[i], color="#6b7280", lw=1, label="input window")
        ax.plot([T], [truth[i]], "o", color="#16a34a", ms=6, label="true next value")
        ax.plot([T], [predicted[i]], "x", color="#dc2626", ms=8, mew=2, label="forecast")
        ax.set_title(f"sample {i}", fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, loc="lower left")
    ax = axes[n]
    ax.scatter(truth, predicted, s=6, color="#2563eb")
    lo, hi = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="#6b7280", lw=1, ls="--")
    ax.set_xlabel("true next value", fontsize=7)
    ax.set_ylabel("forecast", fontsize=7)
    ax.set_title(f"all {len(truth)}: MAE {np.mean(np.abs(truth - predicted)):.3g}", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return save_or_return(fig, path)
