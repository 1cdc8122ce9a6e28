"""``deepdive demo --model rnn``: an LSTM learns to forecast a noisy sine wave one step ahead."""
import os

import deepdive
import deepdive.nn as nn
from ..datasets.sequence import sine_waves
from ..utils.data import DataLoader, TensorDataset
from ..viz import plot_forecast
from . import run_folder
from ._common import train_and_report


class Forecaster(nn.Module):
    """(N, T, 1) windows -> (N, 1) next value: an LSTM over the window, a Linear on its last hidden state."""

    def __init__(self, hidden_size=32):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        output, (h_n, c_n) = self.lstm(x)
        return self.head(output[:, -1])


def run(epochs=10, batch_size=32, lr=1e-2, seed=0, out="runs", verbose=1):
    folder = run_folder.prepare(out, "demo-rnn")                  # before any training
    deepdive.manual_seed(seed)
    X, y = sine_waves(n_samples=600, seq_len=30, seed=seed)          # (600, 30, 1) windows, (600, 1) targets
    n_val = len(X) // 5
    train = DataLoader(TensorDataset(X[n_val:], y[n_val:]), batch_size=batch_size, shuffle=True,
                       generator=deepdive.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(X[:n_val], y[:n_val]), batch_size=256)
    model = Forecaster()
    intro = (f"An LSTM(1 -> 32) reads windows of 30 points of a noisy sine wave and a Linear layer predicts the next "
             f"point; trained with Adam(lr={lr}) and MSE for {epochs} epochs on {len(X) - n_val} windows, validated on "
             f"{n_val}. The whole sequence runs as one fused op whose backward is backpropagation through time.")

    def what_it_learned(folder, files):
        model.eval()
        with deepdive.no_grad():
            forecast = model(X[:n_val])
        files["forecast"] = plot_forecast(X[:n_val], y[:n_val], forecast, os.path.join(folder, "forecast.png"),
                                          title="Held-out windows: the LSTM's forecast of the next point")
        return [("What the LSTM learned: forecast against the truth", "image", "forecast",
                 f"Left: validation windows (grey), the true next point (green) and the model's forecast (red x). "
                 f"Right: forecast against truth for all {n_val} validation windows; on the dashed line a "
                 "forecast is exact.")]
    return train_and_report("rnn", "deepdive demo: an LSTM forecasting a sine wave", "LSTM -> Linear, MSE loss",
                            model, nn.MSELoss(), deepdive.optim.Adam(model.parameters(), lr=lr), train, val, epochs,
                            ["mae"], (X[:1], y[:1]), intro, out, verbose, model_sections=what_it_learned,
                            folder=folder)
