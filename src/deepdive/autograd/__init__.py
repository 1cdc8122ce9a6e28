"""Automatic differentiation: ``Function``, ``backward``, ``grad``, grad modes, ``gradcheck``."""
from .function import TensorFunction as Function, Function as _NumpyFunction, once_differentiable  # noqa: F401
from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .gradcheck import gradcheck, GradcheckError
# higher-order gradients (create_graph=True): second-derivative check and the functional API
from .gradcheck import gradgradcheck  # noqa: E402
from . import functional  # noqa: F401,E402
from .anomaly_mode import detect_anomaly, set_detect_anomaly, is_anomaly_enabled, is_anomaly_check_nan_enabled
from . import function  # noqa: F401
from .variable import Variable  # noqa: F401  (legacy API)

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "gradcheck", "GradcheckError", "gradgradcheck", "functional", "Variable"]
