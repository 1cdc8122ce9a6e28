"""``deepdive demo``: train a network, watch it learn, and write a run folder with a full report.

    deepdive demo                      # the post's SimpleNN, its SGD loop, on built-in data
    deepdive demo --model cnn          # a CNN on real handwritten digits
    deepdive demo --model rnn          # an LSTM forecasting a sine wave
    deepdive demo --model transformer  # a tiny GPT learning to sort digits
"""
DEMOS = ("mlp", "cnn", "rnn", "transformer")


def run(model="mlp", **kwargs):
    """Run one demo and return its ``RunResult`` (the run folder, history and verdict)."""
    if model not in DEMOS:
        raise ValueError(f"unknown demo model {model!r}; choose one of {', '.join(DEMOS)}")
    import importlib
    return importlib.import_module(f".{model}", __name__).run(**kwargs)
