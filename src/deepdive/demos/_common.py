"""Shared by the architecture demos: train with the one training engine, then write the run folder."""
from ..training.engine import fit
from ..viz import GradientFlow, ActivationStats, WeightTracker
from . import run_folder


def train_and_report(name, title, subtitle, model, loss_fn, optimizer, train_loader, val_loader, epochs, metrics,
                     graph_batch, intro, out, verbose, extra_metrics=None, extra_sections=()):
    gradients, activations, weights = GradientFlow(every=5), ActivationStats(every=5), WeightTracker()
    activations.attach(model)
    history = fit(model, train_loader, loss_fn, optimizer, epochs=epochs, val_loader=val_loader,
                  callbacks=[gradients, activations, weights], metrics=metrics, verbose=verbose)
    inputs, target = graph_batch
    loss_for_graph = loss_fn(model(inputs), target)
    logs = history.history
    results = {"final training loss": logs["loss"][-1], "final validation loss": logs["val_loss"][-1],
               "best validation loss": min(logs["val_loss"])}
    results.update(extra_metrics(model) if extra_metrics else {})
    folder = run_folder.new_folder(out, f"demo-{name}")
    return run_folder.finish(folder, title, subtitle, model, logs, getattr(history, "overfitting", None),
                             loss_for_graph, intro, extra_sections=extra_sections,
                             monitors={"gradients": gradients, "activations": activations, "weights": weights},
                             metrics=results)
