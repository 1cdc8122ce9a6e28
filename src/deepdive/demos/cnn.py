"""``deepdive demo --model cnn``: a small CNN learns real handwritten digits (scikit-learn's 8x8 scans)."""
import os

import deepdive
import deepdive.nn as nn
from ..datasets.vision import load_digits
from ..utils.data import DataLoader, TensorDataset
from ..viz import plot_image_predictions, plot_filters
from . import run_folder
from ._common import train_and_report


class DigitsCNN(nn.Module):
    """(N, 1, 8, 8) images -> (N, 10) logits: two conv/ReLU/max-pool stages, then a small MLP."""

    def __init__(self, channels=(16, 32), hidden=64, num_classes=10):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 2 * 2, hidden), nn.ReLU(),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def run(epochs=8, batch_size=64, lr=3e-3, seed=0, out="runs", verbose=1, limit=None):
    folder = run_folder.prepare(out, "demo-cnn", needs=("matplotlib", "sklearn"))      # before any training
    deepdive.manual_seed(seed)
    images, labels = load_digits()
    if limit is not None:                       # a smaller run (tests)
        images, labels = images[:limit], labels[:limit]
    order = deepdive.randperm(len(labels), generator=deepdive.Generator().manual_seed(seed))
    n_val = len(labels) // 5
    val_idx, train_idx = order[:n_val], order[n_val:]
    train = DataLoader(TensorDataset(images[train_idx], labels[train_idx]), batch_size=batch_size, shuffle=True,
                       generator=deepdive.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(images[val_idx], labels[val_idx]), batch_size=256)
    model = DigitsCNN()
    intro = (f"A CNN (two Conv2d/ReLU/MaxPool2d stages, then Linear layers) trained with Adam(lr={lr}) for "
             f"{epochs} epochs on {len(train_idx)} real handwritten 8x8 digits, validated on {n_val} held-out "
             "digits (chance accuracy: 10%). Convolution runs as im2col + one matrix multiply.")
    sample_images, sample_labels = images[val_idx[:24]], labels[val_idx[:24]]

    def what_it_learned(folder, files):
        model.eval()
        with deepdive.no_grad():
            predicted = model(sample_images).argmax(1)
        files["predictions"] = plot_image_predictions(sample_images, sample_labels, predicted,
                                                      os.path.join(folder, "predictions.png"),
                                                      title="Held-out digits, labelled by the model")
        files["filters"] = plot_filters(model.features[0].weight, os.path.join(folder, "filters.png"),
                                        title="First Conv2d layer's filters")
        return [("What the CNN learned: held-out digits and its predictions", "image", "predictions",
                 "24 validation digits the model never trained on, each titled with the class it predicts "
                 "(green: right; red: wrong, with the true label)."),
                ("What the CNN learned: the first layer's filters", "image", "filters",
                 "The 16 3x3 kernels of the first Conv2d: each slides over the image and responds to one local "
                 "pattern (an edge or stroke direction); red weights reward ink, blue penalise it.")]
    return train_and_report("cnn", "deepdive demo: a CNN on handwritten digits", "Conv2d -> ReLU -> MaxPool2d, twice",
                            model, nn.CrossEntropyLoss(), deepdive.optim.Adam(model.parameters(), lr=lr), train, val,
                            epochs, ["accuracy"], (images[val_idx[:1]], labels[val_idx[:1]]), intro, out, verbose,
                            model_sections=what_it_learned, folder=folder)
