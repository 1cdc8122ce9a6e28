"""Progress display for ``fit``: a live bar per epoch, or one line per epoch.

    verbose=1, stdout a terminal, tqdm installed   a tqdm bar per epoch with the running loss/metrics and ETA
    verbose=1 otherwise, or verbose=2              one plain line per epoch:
        Epoch 3/10 - 0.4s - loss: 0.2147 - accuracy: 0.9375 - val_loss: 0.2561 - val_accuracy: 0.9062
    verbose=0                                      nothing

tqdm is an optional dependency (the ``[viz]`` extra), imported only when a bar
is wanted; without it the plain lines are printed and a one-time hint says
``pip install deepdive[viz]``.
"""
import shutil
import sys
import textwrap
import time

from .._optional import missing_extra
from .callbacks import Callback

__all__ = ["ProgressBar", "format_logs"]

_HINT_SHOWN = [False]
# NOTE: a compact bar (fixed 10-cell bar, no rate) leaves an 80-column terminal room for the running training
# metrics; validation metrics are printed on their own line at the end of the epoch, so they are never cut off.
_BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar:10}| {n_fmt}/{total_fmt} {elapsed}{postfix}"


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def format_logs(logs, skip=("lr",)):
    """'loss: 0.2147 - accuracy: 0.9375 ...' for the numeric entries of ``logs``."""
    parts = []
    for key, value in logs.items():
        if key in skip or not isinstance(value, (int, float)):
            continue
        parts.append(f"{key}: {value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{key}: {value:.4f}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """Prints training progress (see the module docstring)."""

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose, self.stream = verbose, stream
        self.bar = None

    def _out(self):
        return self.stream or sys.stdout

    def on_train_begin(self, logs=None):
        out = self._out()
        self._use_bar = False
        if self.verbose == 1 and hasattr(out, "isatty") and out.isatty():
            self._tqdm = _tqdm()
            self._use_bar = self._tqdm is not None
            if self._tqdm is None and not _HINT_SHOWN[0]:
                _HINT_SHOWN[0] = True
                print(f"({missing_extra('a live progress bar', 'viz', 'tqdm')}; printing one line per epoch)", file=out)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        if self._use_bar:
            self.bar = self._tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                                  unit="batch", leave=True, file=self._out(), bar_format=_BAR_FORMAT,
                                  ncols=shutil.get_terminal_size().columns)

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if not self.verbose:
            return
        text = format_logs(logs or {})
        if self.bar is not None:
            logs = logs or {}
            self.bar.set_postfix_str(format_logs({k: v for k, v in logs.items() if not k.startswith("val_")}),
                                     refresh=False)
            self.bar.close()
            self.bar = None
            validation = format_logs({k: v for k, v in logs.items() if k.startswith("val_")})
            if validation:
                width = shutil.get_terminal_size().columns
                print(textwrap.fill(validation.replace(" - ", "   "), width=width, initial_indent="  ",
                                    subsequent_indent="  ", break_on_hyphens=False), file=self._out(), flush=True)
            return
        seconds = time.perf_counter() - self._epoch_start
        print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {seconds:.1f}s - {text}", file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
