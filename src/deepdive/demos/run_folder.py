"""What every demo writes: history (CSV/JSON), weights (safetensors), plots (PNG), graph (SVG/Mermaid/DOT)
and one self-contained ``report.html`` bringing them together.

A run never loses its work: ``prepare`` checks the optional packages and that ``--out`` is writable
*before* training, and if writing fails after training, ``finish`` keeps the folder and raises
``RunFolderError`` naming it and every file already written.
"""
import csv
import datetime
import importlib.util
import json
import math
import os
import textwrap
from dataclasses import dataclass, field

from .._optional import missing_extra
from ..serialization import save
from ..viz import graph as make_graph, trace
from ..viz.jupyter import parameter_rows
from ..viz.report import Report

# What each file is, in words that cannot be confused (weights.png is a plot; model.safetensors the weights).
FILE_LABELS = {
    "report": "the report: open it in a browser",
    "curves": "plot: training and validation curves",
    "history_csv": "losses and metrics per epoch (CSV)",
    "history_json": "losses and metrics per epoch + verdict (JSON)",
    "weights": "trained weights (safetensors; deepdive.load)",
    "gradient_flow": "plot: gradient norm per layer",
    "activations": "plot: activation statistics per layer",
    "weights_hist": "plot: histograms of weights and updates",
    "decision_boundary": "plot: the model's decision boundary",
    "predictions": "plot: sample digits, predicted labels",
    "filters": "plot: first convolution layer's filters",
    "forecast": "plot: forecast against the truth",
    "graph_svg": "graph of one loss: SVG drawing",
    "graph_mermaid": "graph of one loss: Mermaid text",
    "graph_dot": "graph of one loss: Graphviz DOT text",
}

# The optional packages a demo needs, and the extra that installs each.
_EXTRAS = {"matplotlib": "viz", "sklearn": "data"}
_PACKAGES = {"sklearn": "scikit-learn"}


class RunFolderError(RuntimeError):
    """Writing a run folder failed after training; the folder and what it holds are kept."""

    def __init__(self, folder, files, cause):
        self.folder, self.files = folder, dict(files)
        written = "\n".join(f"  {os.path.basename(p)}" for p in files.values() if os.path.exists(p)) or "  (nothing)"
        super().__init__(f"writing the run folder failed after training ({type(cause).__name__}: {cause}).\n"
                         f"The folder is kept: {folder}\nWritten so far:\n{written}")


@dataclass
class RunResult:
    folder: str
    history: dict
    overfitting: dict
    files: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def summary(self):
        """The closing summary: results, the overfitting verdict, and every file written with what it is."""
        lines = ["Results:"]
        lines += [f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}" for k, v in self.metrics.items()]
        lines += ["", textwrap.fill("Overfitting: " + verdict_text(self.overfitting), 80, subsequent_indent="  "),
                  "", f"Run folder: {self.folder}"]
        width = max(len(os.path.basename(p)) for p in self.files.values())
        for key, path in self.files.items():
            lines.append(f"  {os.path.basename(path):<{width}}  {FILE_LABELS.get(key, key)}")
        return "\n".join(lines)

    def __str__(self):
        return f"run folder: {self.folder}\nreport:     {self.files.get('report')}"


def verdict_text(verdict):
    verdict = verdict or {}
    if verdict.get("detected") and verdict.get("message"):
        return verdict["message"]
    if verdict.get("best_epoch") is not None:
        return (f"none detected. Best epoch: {verdict['best_epoch']} "
                f"(val_loss {verdict['best_val_loss']:.4g}).")
    return "not judged (no validation loss)."


def new_folder(root, name):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    folder = os.path.join(root, f"{name}-{stamp}")
    os.makedirs(folder, exist_ok=False)
    return folder


def prepare(out, name, needs=("matplotlib",)):
    """Before training: check the optional packages the run needs and create its folder in ``out``."""
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        raise missing_extra(f"the {name.removeprefix('demo-')} demo", sorted({_EXTRAS.get(m, m) for m in missing}),
                            [_PACKAGES.get(m, m) for m in missing], then="Nothing was trained.")
    try:
        os.makedirs(out, exist_ok=True)
        folder = new_folder(out, name)
        probe = os.path.join(folder, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise PermissionError(f"cannot write the run folder in --out {out!r}: {e.strerror or e}. Choose a "
                              "writable folder with --out DIR. Nothing was trained.") from None
    return folder


def discard(folder):
    """Remove a prepared folder that training never filled (training failed or was interrupted)."""
    try:
        os.rmdir(folder)
    except OSError:
        pass


def final_metrics(logs):
    """The run's headline numbers from its history: final and best losses, then each final validation metric."""
    results = {"final training loss": logs["loss"][-1], "final validation loss": logs["val_loss"][-1],
               "best validation loss": min(logs["val_loss"])}
    for key in logs:
        if key.startswith("val_") and key != "val_loss":
            results[f"final validation {key[4:]}"] = logs[key][-1]
    return results


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_history(folder, history, overfitting):
    json_path = os.path.join(folder, "history.json")
    with open(json_path, "w") as f:
        json.dump(_json_safe({"history": history, "overfitting": overfitting}), f, indent=2)
    csv_path = os.path.join(folder, "history.csv")
    keys = list(history)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch"] + keys)
        for i in range(len(history[keys[0]])):
            writer.writerow([i + 1] + [history[k][i] if i < len(history[k]) else "" for k in keys])
    return json_path, csv_path


def finish(folder, title, subtitle, model, history, overfitting, loss_fn, graph_batch, intro, model_sections=None,
           extra_sections=(), monitors=None, metrics=None):
    """Write every artefact of a finished run and the report; return a ``RunResult``.

    ``model_sections(folder, files)``: the demo's own part of the report (what this model learned); it writes
    its plots into ``folder``, records them in ``files`` and returns ``(heading, kind, body, caption)`` sections
    (kind 'image' with a file key as body, 'pre', 'text' or 'table' with (header, rows) as body).
    On any failure the folder is kept and ``RunFolderError`` names it and what it holds.
    """
    files = {}
    try:
        _write(folder, files, title, subtitle, model, history, overfitting, loss_fn, graph_batch, intro,
               model_sections, extra_sections, monitors or {}, metrics or {})
    except Exception as e:
        raise RunFolderError(folder, files, e) from e
    report = files.pop("report")
    return RunResult(folder, history, overfitting, {"report": report, **files}, metrics or {})


def _write(folder, files, title, subtitle, model, history, overfitting, loss_fn, graph_batch, intro,
           model_sections, extra_sections, monitors, metrics):
    from ..viz import plots
    files["weights"] = os.path.join(folder, "model.safetensors")
    save(model.state_dict(), files["weights"])
    files["history_json"], files["history_csv"] = write_history(folder, history, overfitting)
    files["curves"] = plots.plot_history(_History(history, overfitting),
                                         os.path.join(folder, "curves.png"), title=f"{title}: training curves")
    own = model_sections(folder, files) if model_sections is not None else []
    if monitors.get("gradients") is not None and monitors["gradients"].history:
        files["gradient_flow"] = plots.plot_gradient_flow(monitors["gradients"], os.path.join(folder, "gradient_flow.png"))
    if monitors.get("activations") is not None and monitors["activations"].history:
        files["activations"] = plots.plot_activation_stats(monitors["activations"], os.path.join(folder, "activations.png"))
    if monitors.get("weights") is not None and monitors["weights"].weights:
        files["weights_hist"] = plots.plot_weight_histograms(monitors["weights"], os.path.join(folder, "weights.png"))
    inputs, target = graph_batch
    was_training = model.training
    model.eval()
    with trace() as t:                       # the trace remembers where the data entered, to draw it
        loss_for_graph = loss_fn(model(inputs), target)
    model.train(was_training)
    g = make_graph(loss_for_graph, params=model, trace=t, inputs={"input": inputs, "target": target})
    files["graph_svg"] = os.path.join(folder, "graph.svg")
    svg = g.to_svg(files["graph_svg"], values=False)
    files["graph_mermaid"] = os.path.join(folder, "graph.mmd")
    with open(files["graph_mermaid"], "w") as f:
        f.write(g.to_mermaid())
    files["graph_dot"] = os.path.join(folder, "graph.dot")
    with open(files["graph_dot"], "w") as f:
        f.write(g.to_dot())

    report = Report(title, subtitle)
    report.heading("What happened")
    report.pre(intro)
    verdict = overfitting or {}
    report.text("Overfitting: " + verdict_text(verdict), css="note" if verdict.get("detected") else "ok")
    if metrics:
        report.table(["metric", "value"], [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in metrics.items()])
    report.heading("Training and validation curves")
    report.image(files["curves"], "training and validation loss per epoch")
    for heading, kind, body, caption in own:
        report.heading(heading)
        _section(report, files, kind, body, caption)
    rows, total, trainable = parameter_rows(model)
    report.heading("The model")
    report.pre(repr(model))
    report.table(["parameter", "shape", "count", "trainable"], rows)
    report.text(f"Total parameters: {total:,} (trainable {trainable:,}).")
    report.heading("The computation graph of one loss")
    report.text("Green: the data (one input and its target); blue (rounded): the learnable parameters; grey boxes: "
                "the operations of the forward pass; yellow: the loss, where backpropagation starts. The same "
                "graph is saved as Mermaid (graph.mmd) and Graphviz DOT (graph.dot).")
    report.svg(svg)
    for heading, body, kind in extra_sections:
        report.heading(heading)
        _section(report, files, kind, body, None)
    for key, heading, caption in (
            ("gradient_flow", "Gradient flow", "Gradient norm of each layer (all its parameters together) over training."),
            ("activations", "Activation statistics", "Dead-ReLU fraction / saturation of activation layers."),
            ("weights_hist", "Weights and updates", "Histograms of the final weights and of the last epoch's updates.")):
        if key in files:
            report.heading(heading)
            report.text(caption)
            report.image(files[key], caption)
    warnings = []
    for m in monitors.values():
        warnings += list(getattr(m, "warnings", []) or [])
    if warnings:
        report.heading("Warnings from the monitors")
        report.pre("\n".join(warnings))
    files["report"] = os.path.join(folder, "report.html")
    report.heading("Files in this run folder")
    names = {key: os.path.basename(path) for key, path in files.items()}
    report.table(["file", "what it is"], [(names[k], FILE_LABELS.get(k, k)) for k in ["report"] + [
        k for k in files if k != "report"]])
    report.write(files["report"])


def _section(report, files, kind, body, caption):
    if caption and kind != "image":
        report.text(caption)
    if kind == "pre":
        report.pre(body)
    elif kind == "text":
        report.text(body)
    elif kind == "table":
        report.table(*body)
    elif kind == "image":
        if caption:
            report.text(caption)
        report.image(files[body], caption or body)
    else:
        raise ValueError(f"unknown report section kind {kind!r}")


class _History:
    """Adapter so plot_history sees the verdict computed during training."""

    def __init__(self, history, overfitting):
        self.history, self.overfitting = history, overfitting
