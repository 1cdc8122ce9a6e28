"""``deepdive demo`` and the ``deepdive`` command: the run folder and everything in it."""
import csv
import json
import os
import subprocess
import sys

import pytest

import deepdive
from deepdive.cli import main


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", "deepdive", "demo", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--model", "--epochs", "--out", "--seed", "--quiet", "mlp", "cnn", "rnn", "transformer"):
        assert option in out
    top = subprocess.run([sys.executable, "-m", "deepdive", "--help"], capture_output=True, text=True, check=True).stdout
    assert "demo" in top


def test_mlp_demo_writes_a_complete_run_folder(tmp_path, capsys):
    assert main(["demo", "--epochs", "4", "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert str(folder) in printed and "report.html" in printed
    names = set(os.listdir(folder))
    assert {"report.html", "curves.png", "gradient_flow.png", "activations.png", "weights.png", "history.csv",
            "history.json", "model.safetensors", "graph.svg", "graph.mmd", "graph.dot"} <= names
    rows = list(csv.DictReader(open(folder / "history.csv")))
    assert len(rows) == 4 and {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(rows[0])
    saved = json.load(open(folder / "history.json"))
    assert "overfitting" in saved and saved["overfitting"]["best_epoch"] is not None
    weights = deepdive.load(folder / "model.safetensors")
    assert set(weights) == {"layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"}
    assert tuple(weights["layer1.weight"].shape) == (20, 10)
    report = (folder / "report.html").read_text()
    for section in ("Training and validation curves", "SimpleNN(", "One neuron, with its numbers", "decision boundary",
                    "Backpropagation, step by step", "Gradient flow", "<svg", "data:image/png;base64,"):
        assert section in report
    assert "http://" not in report.replace("http://www.w3.org/2000/svg", "") and "https://" not in report
    assert "layer1.weight" in (folder / "graph.mmd").read_text()


def test_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        main(["demo", "--model", "resnet", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["demo", "--epochs", "0", "--out", str(tmp_path)])


@pytest.mark.parametrize("model,kwargs,metric", [
    ("cnn", {"limit": 300}, "accuracy"), ("rnn", {}, "mae"), ("transformer", {"n_train": 400}, None)])
def test_architecture_demos_write_run_folders(tmp_path, model, kwargs, metric):
    if model == "cnn":
        pytest.importorskip("sklearn")
    from deepdive.demos import run
    result = run(model, epochs=1, out=str(tmp_path), verbose=0, **kwargs)
    names = set(os.listdir(result.folder))
    assert {"report.html", "curves.png", "history.csv", "model.safetensors", "graph.svg"} <= names
    assert len(result.history["loss"]) == 1 and "val_loss" in result.history
    if metric:
        assert f"val_{metric}" in result.history
    if model == "transformer":
        assert "sequences sorted exactly (greedy)" in result.metrics
    own = {"cnn": ("held-out digits and its predictions", "the first layer's filters"),
           "rnn": ("forecast against the truth",),
           "transformer": ("held-out inputs and its sorted outputs", "model's output (greedy)")}[model]
    report = open(result.files["report"]).read()
    for heading in own:                                   # each model's report has its own section
        assert __import__("html").escape(heading) in report
    for key in {"cnn": ("predictions", "filters"), "rnn": ("forecast",), "transformer": ()}[model]:
        assert os.path.isfile(result.files[key])


# ---------------------------------------------------------------- the demo never loses a run (issue 8, §5)
def test_unwritable_out_is_refused_before_training(tmp_path, capsys, monkeypatch):
    import deepdive.demos.mlp as mlp
    monkeypatch.setattr(mlp, "_train", lambda *a, **k: pytest.fail("trained before checking --out"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["demo", "--epochs", "2", "--out", str(blocker / "runs"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot write the run folder in --out" in err and "Nothing was trained" in err


def test_missing_extra_is_refused_before_training(tmp_path, capsys, monkeypatch):
    import importlib.util
    import deepdive.demos.mlp as mlp
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    monkeypatch.setattr(mlp, "_train", lambda *a, **k: pytest.fail("trained before checking the extras"))
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and "deepdive[viz]" in err
    assert list(tmp_path.iterdir()) == []


def test_cnn_demo_without_scikit_learn_says_which_extra_before_training(tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    assert main(["demo", "--model", "cnn", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "needs scikit-learn" in err and "deepdive[data]" in err and "Nothing was trained" in err


def test_a_failure_after_training_keeps_and_prints_the_folder(tmp_path, capsys, monkeypatch):
    from deepdive.viz import plots

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(plots, "plot_gradient_flow", broken)
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert f"The folder is kept: {folder}" in err and "disk full" in err
    names = set(os.listdir(folder))
    assert {"model.safetensors", "history.json", "history.csv", "curves.png"} <= names
    for name in names:
        assert name in err                         # every file already written is named


def test_closing_summary_repeats_the_verdict_and_labels_every_file(tmp_path, capsys):
    assert main(["demo", "--epochs", "3", "--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    saved = json.load(open(folder / "history.json"))["overfitting"]
    assert "Overfitting: " in printed
    if saved.get("message"):
        assert saved["message"] in printed
    listed = {}
    for line in printed.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and (folder / parts[0]).is_file():
            listed[parts[0]] = parts[1].strip()
    assert set(listed) == set(os.listdir(folder))             # every file written, and nothing else
    assert len(set(listed.values())) == len(listed)           # labels that cannot be confused
    assert listed["model.safetensors"].startswith("trained weights")
    summary = printed[printed.index("Results:"):]
    assert all(len(line) <= 80 for line in summary.splitlines() if str(folder) not in line)   # fits 80 columns
    assert listed["weights.png"].startswith("plot:")


def test_mlp_report_teaches_its_model(tmp_path):
    from deepdive.demos import run
    result = run("mlp", epochs=20, out=str(tmp_path), verbose=0)
    report = open(result.files["report"]).read()
    assert "What the network learned: its decision boundary" in report and "decision_boundary.png" in result.files["decision_boundary"]
    assert "layer1 (Linear) of SimpleNN, then relu (ReLU)" in report                             # the neuron is explained with the ReLU after it
    neuron = report.split("One neuron, with its numbers")[1].split("</pre>")[0]
    assert "outputs 0 for this input" not in neuron           # a live neuron
    caption = report.split("Backpropagation, step by step</h2>")[1].split("</p>")[0]
    assert float(caption.split(", loss ")[1].split(")")[0]) > 0.1      # a sample with a real loss to explain
    assert "class=\"node input\"" in report                   # the data appear in the graph


def test_informative_sample_has_a_real_loss_and_a_live_neuron():
    import numpy as np
    import deepdive.nn as nn
    from deepdive.demos.mlp import SimpleNN, informative_sample
    deepdive.manual_seed(0)
    model = SimpleNN(10, 20, 2)
    X, y = deepdive.datasets.make_classification(n_samples=200, n_features=10, seed=0)
    index, unit = informative_sample(model, nn.CrossEntropyLoss(), X, y)
    with deepdive.no_grad():
        hidden = model.relu(model.layer1(X)).numpy()
        losses = nn.functional.cross_entropy(model(X), y, reduction="none").numpy()
    assert hidden[index, unit] > 0 and losses[index] >= np.median(losses)


def test_progress_bar_fits_80_columns_and_keeps_val_metrics(monkeypatch):
    pytest.importorskip("tqdm")
    import io
    import re
    from deepdive.training.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setenv("COLUMNS", "80")
    stream = Terminal()
    bar = ProgressBar(verbose=1, stream=stream)
    bar.params = {"epochs": 100, "steps": 130}
    bar.on_train_begin()
    logs = {"loss": 0.61234, "accuracy": 0.7123, "val_loss": 0.5716, "val_accuracy": 0.6889, "lr": 0.1}
    bar.on_epoch_begin(9)
    for step in range(130):
        bar.on_train_batch_end(step, {"loss": 0.61234, "accuracy": 0.7123})
    bar.on_epoch_end(9, logs)
    lines = [l for l in re.split(r"[\r\n]", stream.getvalue()) if l.strip()]
    assert max(len(l) for l in lines) <= 80
    final = stream.getvalue()
    assert "val_loss: 0.5716" in final and "val_accuracy: 0.6889" in final and "accuracy: 0.7123" in final
