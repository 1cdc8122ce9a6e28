"""Shared by the architecture demos: check what the run needs, train with the one training engine, then
write the run folder."""
from ..training.engine import fit
from ..viz import GradientFlow, ActivationStats, WeightTracker
from . import run_folder


def train_and_report(name, title, subtitle, model, loss_fn, optimizer, train_loader, val_loader, epochs, metrics,
                     graph_batch, intro, out, verbose, extra_metrics=None, model_sections=None, folder=None):
    """``folder``: the run folder from ``run_folder.prepare`` (made here when the demo did not make it earlier)."""
    folder = folder or run_folder.prepare(out, f"demo-{name}")
    gradients, activations, weights = GradientFlow(every=5), ActivationStats(every=5), WeightTracker()
    activations.attach(model)
    try:
        history = fit(model, train_loader, loss_fn, optimizer, epochs=epochs, val_loader=val_loader,
                      callbacks=[gradients, activations, weights], metrics=metrics, verbose=verbose)
    except BaseException:
        run_folder.discard(folder)          # nothing was written yet: leave no empty folder behind
        raise
    logs = history.history
    results = run_folder.final_metrics(logs)
    results.update(extra_metrics(model) if extra_metrics else {})
    return run_folder.finish(folder, title, subtitle, model, logs, getattr(history, "overfitting", None), loss_fn,
                             graph_batch, intro, model_sections=model_sections,
                             monitors={"gradients": gradients, "activations": activations, "weights": weights},
                             metrics=results)
