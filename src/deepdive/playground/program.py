""""Show the code": the runnable PyTorch-style deepdive program for exactly the page's settings.

The page's model is built by running this program's own ``SimpleNN`` source (``model_source``), and the page
trains with the same data, seed, loader and loop (``Session`` mirrors ``program``'s loop step by step), so the
program reproduces the page's numbers: after the same number of steps it prints the same final loss.
"""
from .settings import ACTIVATIONS

NORM_MODULES = {"batch": "BatchNorm1d", "layer": "LayerNorm"}


def dataset_call(settings):
    """(function name in deepdive.datasets, its keyword arguments) for the settings' data set."""
    n, noise, seed = settings["n_samples"], settings["noise"], settings["seed"]
    name = settings["dataset"]
    if name == "blobs":                 # blobs have no "noise": it widens the clusters (std 0.5 .. 4.5)
        return "make_blobs", {"n_samples": n, "centers": 3, "cluster_std": 0.5 + 4 * noise, "seed": seed}
    if name == "spirals":
        return "make_spirals", {"n_samples": n, "n_classes": 3, "noise": noise, "seed": seed}
    return f"make_{name}", {"n_samples": n, "noise": noise, "seed": seed}


def n_classes(settings):
    return 3 if settings["dataset"] in ("blobs", "spirals") else 2


def n_val(settings):
    return int(settings["n_samples"] * settings["val_fraction"])


def _call(fn, kwargs):
    return f"{fn}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def model_source(settings, in_features=2, out_features=None):
    """The ``SimpleNN`` class of the post, one Linear (+ norm) + activation (+ dropout) per hidden layer."""
    out_features = n_classes(settings) if out_features is None else out_features
    init, forward, width = [], [], in_features
    activation = ACTIVATIONS[settings["activation"]]
    for i, hidden_size in enumerate(settings["hidden"], 1):
        block = [(f"fc{i}", f"nn.Linear({width}, {hidden_size})")]
        if settings["norm"] != "none":
            block.append((f"norm{i}", f"nn.{NORM_MODULES[settings['norm']]}({hidden_size})"))
        block.append((f"act{i}", f"nn.{activation}()"))
        if settings["dropout"] > 0:
            block.append((f"drop{i}", f"nn.Dropout({settings['dropout']!r})"))
        init += block
        width = hidden_size
    init.append(("fc_out", f"nn.Linear({width}, {out_features})"))
    lines = ["class SimpleNN(nn.Module):", "    def __init__(self):", "        super().__init__()"]
    lines += [f"        self.{name} = {module}" for name, module in init]
    lines += ["", "    def forward(self, x):", "        out = x"]
    lines += [f"        out = self.{name}(out)" for name, _ in init]
    lines += ["        return out", ""]
    return "\n".join(lines)


def optimizer_source(settings):
    extra = ", momentum=0.9" if settings["optimizer"] == "momentum" else ""
    extra += f", weight_decay={settings['l2']!r}" if settings["l2"] > 0 else ""      # L2, as PyTorch does it
    cls = "Adam" if settings["optimizer"] == "adam" else "SGD"
    return f"optim.{cls}(model.parameters(), lr={settings['lr']!r}{extra})"


def program(settings, steps):
    """The whole program as a string: data, SimpleNN, loss, optimizer, the training loop for ``steps`` steps,
    then the final losses and accuracy, printed as the page shows them."""
    fn, kwargs = dataset_call(settings)
    hidden = " -> ".join(str(w) for w in [2, *settings["hidden"], n_classes(settings)])
    l1 = settings["l1"]
    penalty = ([f"        loss = loss + {l1!r} * sum(w.abs().sum() for w in weights)  # L1 on the weights"]
               if l1 > 0 else [])
    return "\n".join([
        f'"""A network from the deepdive playground: {settings["dataset"]}, {hidden}, '
        f'{ACTIVATIONS[settings["activation"]]}, {settings["optimizer"]} (lr {settings["lr"]!r}), {steps} steps.',
        "",
        "Generated for exactly the settings on the page; run it as is (python playground_model.py) and it prints",
        "the page's final numbers. It is PyTorch code: with `import torch` in place of deepdive (and your own",
        "copy of the data set) it runs there too.",
        '"""',
        "import deepdive as torch",
        "import deepdive.nn as nn",
        "import deepdive.optim as optim",
        f"from deepdive.datasets import {fn}",
        "from deepdive.utils.data import DataLoader, TensorDataset",
        "",
        f"torch.manual_seed({settings['seed']})",
        "",
        f"# The data: {settings['n_samples']} points, the first {n_val(settings)} held out for validation",
        f"X, y = {_call(fn, kwargs)}",
        f"n_val = {n_val(settings)}",
        "X_train, y_train, X_val, y_val = X[n_val:], y[n_val:], X[:n_val], y[:n_val]",
        "",
        "",
        model_source(settings),
        "",
        "model = SimpleNN()",
        "criterion = nn.CrossEntropyLoss()",
        f"optimizer = {optimizer_source(settings)}",
        *(["weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]"] if l1 > 0 else []),
        "# drop_last: every step sees a full batch (batch norm cannot normalise a batch of one)",
        f"train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size={settings['batch_size']}, "
        "shuffle=True, drop_last=True)",
        "",
        f"steps, step = {steps}, 0",
        "while step < steps:",
        "    for inputs, labels in train_loader:",
        "        model.train()",
        "        outputs = model(inputs)",
        "        loss = criterion(outputs, labels)",
        *penalty,
        "        optimizer.zero_grad()",
        "        loss.backward()",
        "        optimizer.step()",
        "        step += 1",
        "        if step == steps:",
        "            break",
        "",
        "model.eval()",
        "with torch.no_grad():",
        "    train_loss = criterion(model(X_train), y_train).item()",
        "    val_loss = criterion(model(X_val), y_val).item()",
        "    val_accuracy = (model(X_val).argmax(1) == y_val).float().mean().item()",
        'print(f"after {steps} steps: train loss {train_loss:.6f}, val loss {val_loss:.6f}, '
        'val accuracy {val_accuracy:.4f}")',
        "",
        "# The page's trained weights (model.safetensors in its download) load into this same model:",
        '#     model.load_state_dict(torch.load("model.safetensors"))',
        "",
    ])
