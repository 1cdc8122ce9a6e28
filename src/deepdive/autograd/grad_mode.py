"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each works as a context manager and as a decorator, as in PyTorch. The switch is
one attribute read by ``Function.apply``; while it is off no graph is recorded.
"""
import functools


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


STATE = _GradState()


def is_grad_enabled():
    return STATE.enabled


class _GradModeContext:
    """Base: sets ``STATE.enabled`` to ``self._mode`` inside, restores it after."""
    _mode = True

    def __enter__(self):
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __exit__(self, *exc):
        STATE.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


class _BareDecorator(_GradModeContext):
    """Also usable without parentheses, as PyTorch allows: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if callable(orig_func):
            return cls()(orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass


class no_grad(_BareDecorator):
    """Disable graph recording: results of ops have ``requires_grad=False``."""
    _mode = False


class enable_grad(_BareDecorator):
    """Enable graph recording inside a ``no_grad`` block."""
    _mode = True


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (deepdive has no separate inference tensors); ``@inference_mode`` works bare too."""

    def __new__(cls, mode=True):
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self._mode = not mode

    def _args(self):
        return (not self._mode,)


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` as a call, a context manager or a decorator."""

    def __init__(self, mode):
        self._mode = bool(mode)
        # As a plain call it takes effect at once, like PyTorch.
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __call__(self, fn):
        # As a decorator it must not leave the mode switched by __init__ (PyTorch restores it here too).
        STATE.enabled = self._prev
        return super().__call__(fn)

    def __enter__(self):
        STATE.enabled = self._mode

    def _args(self):
        return (self._mode,)
