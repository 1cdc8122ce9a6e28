"""``deepdive.amp`` (``torch.amp``): automatic mixed precision, as PyTorch's CPU autocast, and GradScaler.

    with deepdive.autocast("cpu", dtype=deepdive.bfloat16):
        loss = loss_fn(model(x), y)          # matmuls / convs / linear at bfloat16 precision
    scaler.scale(loss).backward(); scaler.step(optimizer); scaler.update()

See ``autocast_mode.py`` for exactly which ops change and how deepdive stores
the lower-precision values, and ``grad_scaler.py`` for the loss-scaling rule.
"""
from .autocast_mode import (autocast, is_autocast_available, is_autocast_enabled, get_autocast_dtype,  # noqa: F401
                            bfloat16)
from .grad_scaler import GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype", "bfloat16"]
