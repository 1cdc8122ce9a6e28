"""What every demo writes: history (CSV/JSON), weights (safetensors), plots (PNG), graph (SVG/Mermaid/DOT)
and one self-contained ``report.html`` bringing them together."""
import csv
import datetime
import json
import math
import os
from dataclasses import dataclass, field

from ..serialization import save
from ..viz import graph as make_graph
from ..viz.jupyter import parameter_rows
from ..viz.report import Report


@dataclass
class RunResult:
    folder: str
    history: dict
    overfitting: dict
    files: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def __str__(self):
        return f"run folder: {self.folder}\nreport:     {self.files.get('report')}"


def new_folder(root, name):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    folder = os.path.join(root, f"{name}-{stamp}")
    os.makedirs(folder, exist_ok=False)
    return folder


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


def finish(folder, title, subtitle, model, history, overfitting, loss_for_graph, intro, extra_sections=(),
           monitors=None, metrics=None, plots_2d=None):
    """Write every artefact of a finished run and the report; return a ``RunResult``."""
    from ..viz import plots
    files = {}
    files["history_json"], files["history_csv"] = write_history(folder, history, overfitting)
    files["weights"] = os.path.join(folder, "model.safetensors")
    save(model.state_dict(), files["weights"])
    files["curves"] = plots.plot_history(_History(history, overfitting),
                                         os.path.join(folder, "curves.png"), title=f"{title}: training curves")
    monitors = monitors or {}
    if monitors.get("gradients") is not None and monitors["gradients"].history:
        files["gradient_flow"] = plots.plot_gradient_flow(monitors["gradients"], os.path.join(folder, "gradient_flow.png"))
    if monitors.get("activations") is not None and monitors["activations"].history:
        files["activations"] = plots.plot_activation_stats(monitors["activations"], os.path.join(folder, "activations.png"))
    if monitors.get("weights") is not None and monitors["weights"].weights:
        files["weights_hist"] = plots.plot_weight_histograms(monitors["weights"], os.path.join(folder, "weights.png"))
    if plots_2d is not None:
        files["decision_boundary"] = plots.plot_decision_boundary(model, *plots_2d,
                                                                  path=os.path.join(folder, "decision_boundary.png"))
    g = make_graph(loss_for_graph, params=model)
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
    if verdict.get("detected"):
        report.text(verdict["message"], css="note")
    elif verdict.get("best_epoch") is not None:
        report.text(f"No overfitting detected: validation loss did not rise for 3 epochs in a row while training "
                    f"loss fell. Best epoch: {verdict['best_epoch']} (val_loss {verdict['best_val_loss']:.4g}).",
                    css="ok")
    if metrics:
        report.table(["metric", "value"], [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in metrics.items()])
    report.heading("Training and validation curves")
    report.image(files["curves"], "training and validation loss per epoch")
    rows, total, trainable = parameter_rows(model)
    report.heading("The model")
    report.pre(repr(model))
    report.table(["parameter", "shape", "count", "trainable"], rows)
    report.text(f"Total parameters: {total:,} (trainable {trainable:,}).")
    report.heading("The computation graph of one loss")
    report.text("Leaves (blue) are the learnable parameters; boxes are the operations of the forward pass; the "
                "loss (yellow) is where backpropagation starts. The same graph is saved as Mermaid (graph.mmd) "
                "and Graphviz DOT (graph.dot).")
    report.svg(svg)
    for heading, body, kind in extra_sections:
        report.heading(heading)
        if kind == "pre":
            report.pre(body)
        elif kind == "text":
            report.text(body)
    for key, heading, caption in (("gradient_flow", "Gradient flow", "Gradient norm of every parameter over training."),
                                  ("activations", "Activation statistics", "Dead-ReLU fraction / saturation of activation layers."),
                                  ("weights_hist", "Weights and updates", "Histograms of the final weights and of the last epoch's updates."),
                                  ("decision_boundary", "Decision boundary", "What the model predicts over the input plane.")):
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
    report.heading("Files in this run folder")
    report.pre("\n".join(sorted(os.path.basename(v) for v in files.values())))
    files["report"] = report.write(os.path.join(folder, "report.html"))
    return RunResult(folder, history, overfitting, files, metrics or {})


class _History:
    """Adapter so plot_history sees the verdict computed during training."""

    def __init__(self, history, overfitting):
        self.history, self.overfitting = history, overfitting
