"""``trace()``: keep every node's forward value and backward gradient while it is active.

    with deepdive.viz.trace() as t:
        loss = criterion(model(x), y)
        loss.backward()
    deepdive.viz.graph(loss, params=model, trace=t).to_svg("graph.svg")

Outside a trace nothing is kept (the hot path pays one flag test per op).
"""
import numpy as np

from ..autograd import engine
from ..autograd.function import TRACE


class Trace:
    def __init__(self):
        self.grads = {}           # id(node) -> list of gradients of its outputs (NumPy)
        self.events = []          # (node, grad_outputs, grad_inputs) in the order backward ran them
        self._prev = None

    def _observe(self, node, grad_outputs, grad_inputs):
        self.grads[id(node)] = [None if g is None else np.array(g, copy=True) for g in grad_outputs]
        self.events.append((node, [None if g is None else np.array(g, copy=True) for g in grad_outputs],
                            [None if g is None else np.array(g, copy=True) for g in grad_inputs]))

    def __enter__(self):
        self._prev = TRACE.on
        TRACE.on = True
        engine.OBSERVERS.append(self._observe)
        return self

    def __exit__(self, *exc):
        TRACE.on = self._prev
        if self._observe in engine.OBSERVERS:
            engine.OBSERVERS.remove(self._observe)
        return False


def trace():
    """Context manager recording forward values and backward gradients of every op inside it."""
    return Trace()
