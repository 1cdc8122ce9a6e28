"""``deepdive.accelerator`` (``torch.accelerator``): device-agnostic scripts ask it for a GPU; there is none."""


def is_available():
    return False


def current_accelerator(check_available=False):
    """None: the CPU is not an accelerator (device-agnostic code then picks ``'cpu'``)."""
    return None


def device_count():
    return 0


def synchronize(device=None):
    pass   # NumPy computes synchronously: nothing is ever pending
