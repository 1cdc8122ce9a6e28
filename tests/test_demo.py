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
    for section in ("Training and validation curves", "SimpleNN(", "One neuron, with its numbers",
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
