"""deepdive.viz: see the inner workings — graphs, the chain rule, neurons, gradients, activations, curves.

Text and SVG outputs need nothing beyond NumPy; the ``plot_*`` functions need
matplotlib (``pip install deepdive[viz]``) and say so if it is missing.
"""
from .graph import graph, Graph, GraphNode  # noqa: F401
from .trace import trace, Trace  # noqa: F401
from .explain import explain_neuron, explain_backward  # noqa: F401
from .monitors import GradientFlow, ActivationStats, WeightTracker  # noqa: F401
from .plots import (plot_history, plot_gradient_flow, plot_activation_stats, plot_weight_histograms,  # noqa: F401
                    plot_decision_boundary, plot_image_predictions, plot_filters, plot_forecast)
