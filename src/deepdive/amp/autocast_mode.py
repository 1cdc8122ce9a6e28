"""Autocast: run the ops that tolerate it at lower precision, as PyTorch's CPU autocast does.

Inside ``autocast("cpu", dtype=...)`` (dtype ``deepdive.bfloat16``, the default,
or ``deepdive.float16``) the ops of PyTorch's CPU autocast lists change:

* lower precision (inputs and output rounded to ``dtype``): ``matmul`` / ``@``,
  ``mm``, ``bmm``, ``addmm``, ``baddbmm``, ``linear`` (``nn.Linear``),
  ``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d``
  (``nn.Conv*``), ``prelu``, ``scaled_dot_product_attention``
  (``nn.MultiheadAttention``, transformer layers). As in PyTorch, only float32
  inputs are cast (float64 inputs are left alone), and ``mv``, ``dot``,
  ``addmv`` are not in the list, so they stay in float32.
* float32 (float16 inputs cast up): ``mse_loss``, ``l1_loss``,
  ``smooth_l1_loss``, ``huber_loss``, ``cross_entropy``, ``nll_loss``,
  ``binary_cross_entropy``, ``binary_cross_entropy_with_logits``, ``kl_div``.
* every other op runs on its inputs' dtype, as outside autocast.

How the lower precision is stored (NOTE: the one difference from PyTorch):
deepdive has no bfloat16 tensors (NumPy has no bfloat16; the ``ml_dtypes``
extension type is not a NumPy floating kind, and taking it on would touch every
op). So each listed op rounds its float32 inputs to ``dtype``'s precision
(round to nearest even), computes in float32 as PyTorch's CPU kernels do
(float32 accumulation), and rounds its result to ``dtype``'s precision; the
values are stored as float32. Backward rounds the gradients flowing through
these casts the same way, as PyTorch's gradients of bfloat16 tensors are
bfloat16. The values therefore equal PyTorch's autocast results (up to the
order of float32 sums), but their dtype reads float32 where PyTorch says
bfloat16/float16, and the elementwise ops that follow a listed op compute in
float32 where PyTorch computes (and rounds) them in bfloat16. ``float16``
works the same way. ``deepdive.bfloat16`` exists for ``autocast(dtype=...)``;
making a tensor of it raises a TypeError that says so.
"""
import functools
import sys
import warnings

import numpy as np

from .. import _dtype
from ..autograd.function import Function
from ..tensor import _TENSOR_TYPES

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype", "bfloat16"]


class _AutocastOnlyDtype(_dtype.dtype):
    """A dtype that names a precision for autocast but cannot hold tensors (see the module docstring)."""
    __slots__ = ()

    @property
    def np(self):
        raise TypeError(f"deepdive has no {self.name} tensors (NumPy has no {self.name} type): "
                        f"deepdive.{self.name} is accepted only as autocast's dtype, where values are rounded "
                        f"to {self.name} precision and stored as float32. Use float16 or float32 tensors.")


bfloat16 = _dtype.dtype.__new__(_AutocastOnlyDtype)
bfloat16.name, bfloat16.is_floating_point, bfloat16.is_signed = "bfloat16", True, True
bfloat16.itemsize, bfloat16._category = 2, 2


def round_to_bfloat16(a):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32; NaN stays NaN."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32)
    rounded = ((bits + (((bits >> 16) & 1) + 0x7FFF)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), a, rounded)


def round_to(a, kind):
    if kind == "bfloat16":
        return round_to_bfloat16(a)
    with np.errstate(over="ignore"):          # beyond float16's range is inf, as a cast in PyTorch
        return a.astype(np.float16).astype(np.float32)


class RoundToPrecision(Function):
    """y = x rounded to bfloat16/float16 precision (stored as float32).

    Backward: dx = g rounded the same way (PyTorch's gradient of a bfloat16 tensor is bfloat16).
    """

    @staticmethod
    def forward(ctx, x, kind):
        ctx.kind = kind
        return round_to(x, kind)

    @staticmethod
    def backward(ctx, grad):
        return round_to(grad, ctx.kind), None

    @staticmethod
    def graph_backward(ctx, grad):
        """The rounding of g recorded (torch: the gradient of a cast is a cast, differentiable again)."""
        return RoundToPrecision.apply(grad, ctx.kind), None


class _State:
    enabled = False
    kind = "bfloat16"


STATE = _State()

# the Function classes behind the listed public ops (see the module docstring)
_LOWER = [("ops.linalg", "MatMul"), ("ops.linalg", "AddMatMul"), ("ops.linear", "Linear"),
          ("ops.conv", "Convolution"), ("ops.conv", "ConvolutionTranspose"), ("ops.activation", "Prelu"),
          ("ops.attention", "ScaledDotProductAttention")]
_FP32 = [("ops.loss", name) for name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropy", "NLLLoss",
                                         "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "KLDiv")]
# NOTE: mv, dot and addmv reach the same MatMul/AddMatMul ops as matmul/addmm, but PyTorch's list leaves
# them out; the caller's name tells them apart (addmv calls through the shared helper _add_matmul).
_NOT_LISTED_CALLERS = {"mv", "dot", "addmv"}


def _not_listed(frame):
    name = frame.f_code.co_name
    if name == "_add_matmul":
        name = frame.f_back.f_code.co_name
    return name in _NOT_LISTED_CALLERS
_installed = []


def _lower_apply(original):
    def apply(cls, *args, **kwargs):
        if not STATE.enabled or _not_listed(sys._getframe(1)):
            return original.__func__(cls, *args, **kwargs)
        kind, cast = STATE.kind, False
        new_args = []
        for a in args:
            if a.__class__ in _TENSOR_TYPES and a._data.dtype in (np.float32, np.float16):
                if a._data.dtype == np.float16:
                    a = a.float()
                a = RoundToPrecision.apply(a, kind)
                cast = True
            new_args.append(a)
        out = original.__func__(cls, *new_args, **kwargs)
        if not cast:
            return out
        if isinstance(out, tuple):
            return tuple(RoundToPrecision.apply(o, kind) if o.__class__ in _TENSOR_TYPES and o.is_floating_point()
                         else o for o in out)
        return RoundToPrecision.apply(out, kind)
    return classmethod(apply)


def _fp32_apply(original):
    def apply(cls, *args, **kwargs):
        if STATE.enabled:
            args = [a.float() if a.__class__ in _TENSOR_TYPES and a._data.dtype == np.float16 else a for a in args]
        return original.__func__(cls, *args, **kwargs)
    return classmethod(apply)


def _install():
    """Wrap the listed ops' ``apply`` once (their cost outside autocast: one flag test)."""
    if _installed:
        return
    import importlib
    for policy, entries in ((_lower_apply, _LOWER), (_fp32_apply, _FP32)):
        for module, name in entries:
            cls = getattr(importlib.import_module(f"..{module}", __package__), name)
            original = cls.__dict__.get("apply") or classmethod(cls.apply.__func__)
            cls.apply = policy(original)
            _installed.append(cls)


def is_autocast_available(device_type):
    return device_type == "cpu"


class autocast:
    """``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: context manager or decorator.

    Args:
        device_type: "cpu" (with "cuda", which deepdive does not have, PyTorch's warning and no effect).
        dtype: ``deepdive.bfloat16`` (the default on CPU) or ``deepdive.float16``.
        enabled (bool): False leaves every op as it is (handy to switch autocast off in a region).
        cache_enabled: accepted; the rounded weights are not cached (each call rounds again).
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        self.fast_dtype = bfloat16 if dtype is None else _dtype.to_dtype(dtype) if not isinstance(
            dtype, _AutocastOnlyDtype) else dtype
        self._enabled = bool(enabled)
        if device_type != "cpu":
            warnings.warn(f"User provided device_type of '{device_type}', but CUDA is not available. Disabling")
            self._enabled = False
        elif self.fast_dtype.name not in ("bfloat16", "float16"):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of deepdive.bfloat16, deepdive.float16 currently.")
            self._enabled = False
        self._prev = None

    def __enter__(self):
        _install()
        self._prev = (STATE.enabled, STATE.kind)
        STATE.enabled = self._enabled
        if self._enabled:
            STATE.kind = self.fast_dtype.name
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        STATE.enabled, STATE.kind = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with self.__class__(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)
        return decorated


def is_autocast_enabled(device_type=None):
    return STATE.enabled and device_type in (None, "cpu")


def get_autocast_dtype(device_type):
    return {"bfloat16": bfloat16, "float16": _dtype.float16}[STATE.kind]


