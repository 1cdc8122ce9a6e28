"""Per-op forward+backward time, deepdive vs PyTorch, side by side in one process.

    python benchmarks/bench_core.py            # small (3) and medium (256x256) tensors

For each op it times ``y = op(inputs); y.sum().backward()`` (leaves with
requires_grad) and prints microseconds per call and the ratio
deepdive/PyTorch (below 1.0 means deepdive is faster). Also prints the time of
``import deepdive`` and ``import torch`` in fresh interpreters.
"""
import subprocess
import sys
import timeit

import numpy as np

import deepdive

try:
    import torch
except ImportError:
    sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")

OPS = {
    "a + b": lambda a, b: a + b,
    "a * b": lambda a, b: a * b,
    "a / b": lambda a, b: a / b,
    "a @ b": lambda a, b: a @ b,
    "exp(a)": lambda a, b: a.exp(),
    "tanh(a)": lambda a, b: a.tanh(),
    "sigmoid(a)": lambda a, b: a.sigmoid(),
    "relu(a)": lambda a, b: a.relu(),
    "a.sum(0)": lambda a, b: a.sum(0),
    "a.mean()": lambda a, b: a.mean(),
    "a.reshape(-1)": lambda a, b: a.reshape(-1),
    "a.t()": lambda a, b: a.t(),
    "a[0]": lambda a, b: a[0],
}


def _time(fn, number):
    fn()
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def bench(shape, number):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(shape).astype(np.float32)
    b_np = rng.uniform(0.5, 2, shape).astype(np.float32)
    rows = []
    for name, op in OPS.items():
        if name == "a[0]" and len(shape) < 2:
            continue
        da = deepdive.tensor(a_np, requires_grad=True)
        db = deepdive.tensor(b_np, requires_grad=True)
        ta = torch.tensor(a_np, requires_grad=True)
        tb = torch.tensor(b_np, requires_grad=True)

        def dd_fwd():
            op(da, db)

        def th_fwd():
            op(ta, tb)

        def dd_step():
            op(da, db).sum().backward()

        def th_step():
            op(ta, tb).sum().backward()
        rows.append((name, _time(dd_fwd, number), _time(th_fwd, number), _time(dd_step, number), _time(th_step, number)))
    return rows


def import_time(module):
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code]).decode()) for _ in range(3)]
    return min(runs)


def main():
    torch.set_num_threads(1)
    print(f"deepdive {deepdive.__version__} vs torch {torch.__version__} (torch threads: 1), float32, best of 5\n")
    for label, shape, number in [("small (3,3)", (3, 3), 3000), ("medium (256,256)", (256, 256), 50)]:
        print(f"== {label}: microseconds per call; ratio = deepdive / torch (< 1 is faster)")
        print(f"{'op':<14}{'fwd dd':>9}{'fwd torch':>11}{'ratio':>7}{'fwd+bwd dd':>12}{'fwd+bwd torch':>15}{'ratio':>7}")
        for name, f_dd, f_th, s_dd, s_th in bench(shape, number):
            print(f"{name:<14}{f_dd:>9.2f}{f_th:>11.2f}{f_dd / f_th:>7.2f}{s_dd:>12.2f}{s_th:>15.2f}{s_dd / s_th:>7.2f}")
        print()
    import numpy  # noqa: F401
    t_np, t_dd, t_th = import_time("numpy"), import_time("deepdive"), import_time("torch")
    print(f"import time: numpy {t_np * 1e3:.0f} ms, deepdive {t_dd * 1e3:.0f} ms (incl. numpy), "
          f"torch {t_th * 1e3:.0f} ms; deepdive/torch = {t_dd / t_th:.2f}")


if __name__ == "__main__":
    main()
