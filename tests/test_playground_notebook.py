"""Live curves in Jupyter: fit in a notebook leaves ONE figure, updated in place each epoch, not one per epoch.

The notebook is executed headless (nbclient + ipykernel) exactly as a user would write it.
"""
import os

import pytest

import deepdive

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SRC = os.path.dirname(os.path.dirname(os.path.abspath(deepdive.__file__)))

SETUP = f"import sys; sys.path.insert(0, {SRC!r})"
TORCH_STYLE = """\
import deepdive as torch
import deepdive.nn as nn
import deepdive.optim as optim
from deepdive import training
from deepdive.datasets import make_moons
from deepdive.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
X, y = make_moons(300, noise=0.2)
train_loader = DataLoader(TensorDataset(X[:200], y[:200]), batch_size=32, shuffle=True)
val_loader = DataLoader(TensorDataset(X[200:], y[200:]), batch_size=100)
model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
history = training.fit(model, train_loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
                       epochs=6, val_loader=val_loader)
"""
KERAS_STYLE = """\
from deepdive import layers
from deepdive.training import Sequential
m = Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
h = m.fit(X.numpy(), y.numpy(), epochs=4, batch_size=32, validation_split=0.25)
"""


def _displays(cell):
    return [o for o in cell.outputs if o.output_type == "display_data"]


def test_fit_in_a_notebook_updates_one_figure_in_place():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(TORCH_STYLE),
                nbformat.v4.new_code_cell(KERAS_STYLE),
                nbformat.v4.new_code_cell("import os; os.environ['DEEPDIVE_LIVE_PLOT'] = '0'\n" + TORCH_STYLE)]
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=False)
    client.execute()
    for cell, epochs in ((nb.cells[1], 6), (nb.cells[2], 4)):
        displays = _displays(cell)
        assert len(displays) == 1, [o.output_type for o in cell.outputs]     # one figure, not one per epoch
        html = displays[0].data["text/html"]
        assert "data:image/png;base64," in html                            # the curves themselves
        # what is shown is the LAST epoch's state: the first display (1 row) was replaced in place
        assert html.count("<tr>") == epochs + 1, html.count("<tr>")
    assert _displays(nb.cells[3]) == []                                    # DEEPDIVE_LIVE_PLOT=0 turns it off


def test_no_live_figure_outside_a_notebook(capsys):
    from deepdive.training.live import notebook_callbacks, in_notebook
    assert not in_notebook()
    assert notebook_callbacks(None, verbose=1) == []
