"""The five training workloads of issue 14, deepdive vs PyTorch, in one process, at 1 and 2 threads each.

    python benchmarks/run_all.py                    # 5 rounds, 2 s per measurement
    python benchmarks/run_all.py --quick            # smoke run: 2 rounds, 0.3 s each
    python benchmarks/run_all.py --busy-neighbour   # the same with one core kept busy by another process
    python benchmarks/run_all.py --profile          # also a cProfile of each deepdive workload (1 thread)
    python benchmarks/run_all.py --only a,b         # a subset
    python benchmarks/run_all.py --threads 1        # one thread count only (steadier on a loaded machine)
    python benchmarks/run_all.py --memory           # also peak training memory (fresh process per framework)

Workloads (float32, a step is zero_grad, forward, loss, backward, optimizer.step on a fixed batch):
    (a) the post's SimpleNN 10-20-2, batch 32, CrossEntropyLoss, SGD(lr=0.1)
    (b) MLP 784-256-256-10, batch 128, CrossEntropyLoss, SGD(lr=0.01, momentum=0.9)
    (c) LeNet-5 on 1x28x28, batch 64, CrossEntropyLoss, Adam(lr=1e-3)
    (d) char-LSTM: Embedding(65, 64) -> nn.LSTM(64, 128) -> Linear(128, 65), T=64, batch 32, Adam
    (e) tiny GPT: examples/tiny_gpt.py, 2 x TransformerEncoderLayer(128, 4 heads, ff 512), T=64, batch 16, AdamW

How it measures. Both frameworks live in this process with the same weights (copied from torch) and the
same batches. Every round visits each thread count (1, then 2) and, inside it, each framework in turn
(deepdive, torch, and for (a) and (b) a hand-written NumPy training step, the floor of what NumPy alone
can do), so machine load falls on all of them alike. deepdive's threads are NumPy's OpenBLAS threads,
set by ``deepdive.set_num_threads``; torch's by ``torch.set_num_threads``. A rate is steps per wall-clock
second over one window; the table shows each framework's median over the rounds and the deepdive/torch
ratio's median with its min..max over rounds (the ratio of one round compares two windows a few seconds
apart). The load average is printed at the start and the end: a run is labelled "quiet" only when both
are <= 0.5 and no busy neighbour ran; figures for the README must come from a quiet run.

OpenBLAS environment. Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (older OpenBLAS builds
crash or compute wrongly on their processor without them); they make a current NumPy pick a slower
kernel. For this benchmark alone the script re-executes itself with both unset (``--keep-openblas-env``
keeps them) and prints the kernel OpenBLAS then runs (threadpoolctl's ``architecture``). Tests and CI
never change them.
"""
import argparse
import os
import subprocess
import sys

_OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if __name__ == "__main__" and "--keep-openblas-env" not in sys.argv and any(v in os.environ for v in _OPENBLAS_VARS):
    # NOTE: they are read when OpenBLAS loads, so unsetting them in this process is too late: re-exec.
    env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_VARS}
    env["DEEPDIVE_BENCH_UNSET_OPENBLAS"] = ",".join(f"{v}={os.environ[v]}" for v in _OPENBLAS_VARS if v in os.environ)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import cProfile  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

# NOTE: a --memory child imports only the framework it measures (importing both would add the other's
# libraries to its peak RSS), so the frameworks are imported here only in the main process.
_MEMORY_CHILD = __name__ == "__main__" and sys.argv[1:2] == ["--memory-child"]
if not _MEMORY_CHILD:
    import deepdive  # noqa: E402
    import deepdive.optim  # noqa: E402,F401
    try:
        import torch
    except ImportError:
        sys.exit("the benchmark compares against PyTorch: pip install -e '.[test]'")

THREADS = (1, 2)        # the two columns; --threads picks others (e.g. 1 alone on a loaded machine)


# ---------------------------------------------------------------- the workloads, written once for both libraries
def _copy_weights(torch_model, dd_model):
    dd_model.load_state_dict({k: deepdive.tensor(v.detach().numpy().copy()) for k, v in
                              torch_model.state_dict().items()})


def _classifier_step(lib, model, optimizer, x, y):
    criterion = lib.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def _mlp(nn, sizes):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _char_lstm(lib):
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(65, 64)
            self.lstm = nn.LSTM(64, 128, batch_first=True)
            self.head = nn.Linear(128, 65)

        def forward(self, ids):
            output, _ = self.lstm(self.embed(ids))
            return self.head(output).reshape(-1, 65)
    return CharLSTM()


def _pair(build, make_data, optimizer, opt_kwargs):
    """(deepdive step, torch step) for the same model, weights and batch."""
    steps = {}
    torch.manual_seed(0)
    torch_model = build(torch)
    dd_model = build(deepdive)
    _copy_weights(torch_model, dd_model)
    for lib, model in ((deepdive, dd_model), (torch, torch_model)):
        steps[lib.__name__] = _one_step(lib, model, make_data, optimizer, opt_kwargs)
    return steps["deepdive"], steps["torch"]


def _one_step(lib, model, make_data, optimizer, opt_kwargs):
    x, y = (lib.tensor(a) for a in make_data())
    opt = getattr(lib.optim, optimizer)(model.parameters(), **opt_kwargs)
    return _classifier_step(lib, model, opt, x, y)


def spec_a():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 10)).astype(np.float32), rng.integers(0, 2, 32)
    return lambda lib: _mlp(lib.nn, [10, 20, 2]), lambda: (x, y), "SGD", dict(lr=0.1)


def spec_b():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((128, 784)).astype(np.float32), rng.integers(0, 10, 128)
    return lambda lib: _mlp(lib.nn, [784, 256, 256, 10]), lambda: (x, y), "SGD", dict(lr=0.01, momentum=0.9)


def spec_c():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 64)
    return lambda lib: _lenet(lib.nn), lambda: (x, y), "Adam", dict(lr=1e-3)


def spec_d():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 65, (32, 65))
    return _char_lstm, lambda: (ids[:, :-1], ids[:, 1:].reshape(-1)), "Adam", dict(lr=2e-3)


def spec_e():
    from tiny_gpt import build_gpt
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 64, (16, 64)), rng.integers(0, 64, 16 * 64)

    def build(lib):
        gpt = build_gpt(lib, vocab_size=64, block_size=64, d_model=128, n_layer=2, n_head=4, d_ff=512,
                        dropout=0.0, activation="gelu")
        return Flat(lib, gpt)

    def Flat(lib, gpt):          # logits (B, T, V) -> (B*T, V) for cross-entropy, as the tutorial's loop does
        class FlatLogits(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.gpt = gpt

            def forward(self, idx):
                return self.gpt(idx).reshape(-1, 64)
        return FlatLogits()
    return build, lambda: (ids, targets), "AdamW", dict(lr=1e-3)


SPECS = {"a": spec_a, "b": spec_b, "c": spec_c, "d": spec_d, "e": spec_e}


def workload_a():
    return _pair(*spec_a())


def workload_b():
    return _pair(*spec_b())


def workload_c():
    return _pair(*spec_c())


def workload_d():
    return _pair(*spec_d())


def workload_e():
    return _pair(*spec_e())


# ---------------------------------------------------------------- peak training memory
MEMORY_STEPS = {"a": 500, "b": 100, "c": 30, "d": 10, "e": 10}


def _vm_hwm_mb():
    # NOTE: VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child would report its parent's peak.
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024


def memory_child(key, lib_name):
    """In a fresh interpreter that imports only ``lib_name``: train workload ``key``; print the peak RSS (MB)."""
    import importlib
    lib = importlib.import_module(lib_name)
    importlib.import_module(lib_name + ".optim")
    lib.set_num_threads(1)
    build, make_data, optimizer, opt_kwargs = SPECS[key]()
    lib.manual_seed(0)
    step = _one_step(lib, build(lib), make_data, optimizer, opt_kwargs)
    for _ in range(MEMORY_STEPS[key]):
        step()
    print(_vm_hwm_mb())


def peak_memory(keys):
    """Peak RSS of a fresh process per framework and workload: deepdive on NumPy alone, deepdive with the
    [fast] extra's compiled kernels (when numba is installed), torch."""
    def peak(key, lib_name, **env):
        out = subprocess.check_output([sys.executable, os.path.abspath(__file__), "--memory-child", key, lib_name],
                                      env=dict(os.environ, **env))
        return float(out.decode().split()[-1])
    try:
        import numba  # noqa: F401
        fast = True
    except ImportError:
        fast = False
    print("\npeak RSS (VmHWM) of a fresh process that imports one framework and trains, 1 thread, MB; "
          "ratio = deepdive/torch (goal <= 0.25)")
    for key in keys:
        numpy_mb, torch_mb = peak(key, "deepdive", DEEPDIVE_NUMBA="0"), peak(key, "torch")
        line = f"  {WORKLOADS[key][0]:40s} deepdive (NumPy) {numpy_mb:6.0f} = {numpy_mb / torch_mb:.2f}x"
        if fast:
            fast_mb = peak(key, "deepdive", DEEPDIVE_NUMBA="1")
            line += f", deepdive [fast] {fast_mb:6.0f} = {fast_mb / torch_mb:.2f}x"
        print(line + f", torch {torch_mb:6.0f}")


# ---------------------------------------------------------------- the hand-written NumPy floor for (a) and (b)
def numpy_mlp_step(sizes, batch, lr, momentum, params=None, data=None):
    """One training step of a ReLU MLP with softmax cross-entropy and SGD(momentum), in plain NumPy
    with as few temporaries as it can: what a step costs with no framework at all. ``params`` (weights
    then biases, float32, updated in place) and ``data`` (x, y) default to random ones; the step
    returns the loss (tests/test_benchmarks.py checks it against torch)."""
    rng = np.random.default_rng(0)
    n_layers = len(sizes) - 1
    if params is None:
        params = [(rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
        params += [np.zeros(o, np.float32) for o in sizes[1:]]
    weights, biases = params[:n_layers], params[n_layers:]
    bufs = [None] * len(params)
    x, y = data if data is not None else (rng.standard_normal((batch, sizes[0])).astype(np.float32),
                                          rng.integers(0, sizes[-1], batch))
    rows = np.arange(batch)

    def step():
        acts = [x]
        for k, (w, b) in enumerate(zip(weights, biases)):
            z = acts[-1] @ w.T
            z += b
            if k < n_layers - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        logits = acts[-1]
        logits -= logits.max(1, keepdims=True)
        np.exp(logits, out=logits)
        total = logits.sum(1, keepdims=True)
        loss = np.log(total[:, 0]).mean() - np.log(logits[rows, y]).mean()
        logits /= total                                  # softmax; dL/dz = (p - onehot) / batch
        logits[rows, y] -= 1
        logits /= batch
        grad = logits
        grads = [None] * len(params)
        for k in range(n_layers - 1, -1, -1):
            grads[k] = grad.T @ acts[k]
            grads[n_layers + k] = grad.sum(0)
            if k:
                grad = grad @ weights[k]
                grad *= acts[k] > 0
        for i, (p, g) in enumerate(zip(params, grads)):
            if momentum:                                 # torch's SGD: the first buffer is the gradient
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] *= momentum
                    bufs[i] += g
                np.multiply(bufs[i], lr, out=g)          # g is this step's own array: reuse it
            else:
                g *= lr
            p -= g
        return loss
    return step


FLOORS = {"a": lambda: numpy_mlp_step([10, 20, 2], 32, 0.1, 0.0),
          "b": lambda: numpy_mlp_step([784, 256, 256, 10], 128, 0.01, 0.9)}

WORKLOADS = {
    "a": ("(a) SimpleNN 10-20-2, b32, SGD", workload_a),
    "b": ("(b) MLP 784-256-256-10, b128, SGD+mom", workload_b),
    "c": ("(c) LeNet-5 28x28, b64, Adam", workload_c),
    "d": ("(d) char-LSTM T=64, b32, Adam", workload_d),
    "e": ("(e) tiny GPT 2x128, T=64, b16, AdamW", workload_e),
}


# ---------------------------------------------------------------- timing
def set_threads(n):
    deepdive.set_num_threads(n)      # NumPy's OpenBLAS (also what the NumPy floor uses)
    torch.set_num_threads(n)


def rate(step, seconds, cpu=None):
    """Steps per wall-clock second over a window of at least ``seconds`` (and at least 3 steps);
    ``cpu`` (a list), if given, gets the CPU milliseconds per step of this process (all its threads)."""
    step()                                          # warm-up: buffers, first-call costs
    done, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or done < 3:
        step()
        done += 1
    if cpu is not None:
        cpu.append((time.process_time() - cpu_start) * 1e3 / done)
    return done / (time.perf_counter() - start)


def busy_neighbour():
    """Another process that keeps one core busy until it is ended."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def load_average():
    return os.getloadavg()


def blas_kernel():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    info = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in info) or "?"


def import_ms(module):
    """Best of 3 fresh interpreters, after one that writes the bytecode cache: (ms for ``import numpy``,
    ms for ``import module`` after it).

    NOTE: with PYTHONDONTWRITEBYTECODE=1 (set on some machines) every import compiles every source
    file again, which triples deepdive's figure; a pip-installed package has its .pyc files, so the
    cache goes to a temporary PYTHONPYCACHEPREFIX here.
    """
    code = (f"import time; t = time.perf_counter(); import numpy; t1 = time.perf_counter(); import {module}; "
            f"print(t1 - t, time.perf_counter() - t1)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), PYTHONPYCACHEPREFIX=_PYCACHE)
    runs = [[float(v) * 1e3 for v in subprocess.check_output([sys.executable, "-c", code], env=env).split()]
            for _ in range(4)][1:]
    return min(r[0] for r in runs), min(r[1] for r in runs)


_PYCACHE = os.path.join(tempfile.gettempdir(), "deepdive_bench_pycache")


PROFILE_STEPS = {"a": 2000, "b": 200, "c": 50, "d": 20, "e": 20}    # about a second each: one slow step won't rule


def profile_deepdive(keys, steps_of, top=12):
    set_threads(1)
    for key in keys:
        step, n_steps = steps_of[key][0], PROFILE_STEPS[key]
        step()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n_steps):
            step()
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\n== cProfile of deepdive {WORKLOADS[key][0]}, {n_steps} steps, 1 thread: "
              f"{stats.total_tt / n_steps * 1e3:.2f} ms/step (profiled), top {top} by own time")
        stats.sort_stats("tottime").print_stats(top)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 0.3 s")
    parser.add_argument("--only", default="abcde", help="workloads to run, e.g. 'a,b' or 'de'")
    parser.add_argument("--busy-neighbour", action="store_true", help="keep one core busy with another process")
    parser.add_argument("--profile", action="store_true", help="cProfile each deepdive workload after timing")
    parser.add_argument("--threads", default="1,2", help="thread counts to measure, e.g. '1' or '1,2' (default)")
    parser.add_argument("--memory", action="store_true", help="also the peak training memory of each workload")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="do not unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for this run")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 2, 0.3
    keys = [k for k in "abcde" if k in args.only]
    thread_counts = tuple(sorted({int(t) for t in args.threads.split(",")})) or THREADS

    load_start = load_average()
    unset = os.environ.get("DEEPDIVE_BENCH_UNSET_OPENBLAS")
    print(f"deepdive {deepdive.__version__}, torch {torch.__version__}, NumPy {np.__version__}; "
          f"{os.cpu_count()} CPUs; BLAS: {blas_kernel()}" + (f" (unset for this run: {unset})" if unset else ""))
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}; "
          f"{args.rounds} rounds x {args.seconds} s per measurement; threads {thread_counts}"
          + ("; BUSY NEIGHBOUR: one core kept busy" if args.busy_neighbour else ""))

    steps_of = {}
    for key in keys:
        dd_step, th_step = WORKLOADS[key][1]()
        dd_loss, th_loss = dd_step().item(), th_step().item()
        assert abs(dd_loss - th_loss) <= 1e-4 * max(1.0, abs(th_loss)), (key, dd_loss, th_loss)  # same problem
        steps_of[key] = (dd_step, th_step, FLOORS[key]() if key in FLOORS else None)

    neighbour = busy_neighbour() if args.busy_neighbour else None
    rates, cpu_ms = {}, {}           # (key, threads, who) -> [steps/s per round], [CPU ms/step per round]
    try:
        for r in range(args.rounds):
            for threads in thread_counts:
                set_threads(threads)
                for key in keys:
                    for who, step in zip(("deepdive", "torch", "numpy"), steps_of[key]):
                        if step is not None:
                            cpu = cpu_ms.setdefault((key, threads, who), [])
                            rates.setdefault((key, threads, who), []).append(rate(step, args.seconds, cpu))
            print(f"  round {r + 1}/{args.rounds} done, load {load_average()[0]:.2f}", flush=True)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    load_end = load_average()

    med = statistics.median
    print(f"\nsteps/s (median of {args.rounds} rounds); ratio = deepdive/torch, median [min..max over rounds]")
    scales = 1 in thread_counts and 2 in thread_counts
    header = f"{'workload':40s}" + "".join(f" | {t} thread{'s' if t > 1 else ' '}: dd / torch = ratio [min..max]"
                                            for t in thread_counts) + \
        f" | NumPy floor ({' / '.join(map(str, thread_counts))} thr)" + (" | dd 2thr/1thr" if scales else "")
    print(header)
    print("-" * len(header))
    for key in keys:
        cells = []
        for t in thread_counts:
            dd, th = rates[(key, t, "deepdive")], rates[(key, t, "torch")]
            ratios = [a / b for a, b in zip(dd, th)]
            cells.append(f"{med(dd):8.1f} / {med(th):8.1f} = {med(ratios):5.2f}x [{min(ratios):.2f}..{max(ratios):.2f}]")
        floor = " / ".join(f"{med(rates[(key, t, 'numpy')]):.0f}" for t in thread_counts) if key in FLOORS else "—"
        scaling = f" | {med(rates[(key, 2, 'deepdive')]) / med(rates[(key, 1, 'deepdive')]):.2f}x" if scales else ""
        print(f"{WORKLOADS[key][0]:40s} | " + " | ".join(f"{c:44s}" for c in cells) + f" | {floor:23s}" + scaling)

    # NOTE: on a loaded machine wall-clock rates swing with the neighbours; the CPU time per step at one
    # thread moves much less (it counts only this process's own work), so it is shown beside them.
    few = thread_counts[0]
    print(f"\nCPU ms per step at {few} thread(s) (median over rounds; steadier than steps/s under load):")
    for key in keys:
        cells = [f"{who} {med(cpu_ms[(key, few, who)]):.3f}" for who in ("deepdive", "torch", "numpy")
                 if (key, few, who) in cpu_ms]
        ratio = med(cpu_ms[(key, few, "torch")]) / med(cpu_ms[(key, few, "deepdive")])
        print(f"  {WORKLOADS[key][0]:40s} " + ", ".join(cells) + f"  -> torch/deepdive {ratio:.2f}x")
    (np_ms, dd_ms), (_, th_ms) = import_ms("deepdive"), import_ms("torch")
    print(f"\nimport time (fresh interpreter, bytecode cached, best of 3): numpy {np_ms:.0f} ms, then "
          f"deepdive {dd_ms:.0f} ms / torch {th_ms:.0f} ms")
    quiet = max(load_start[0], load_end[0]) <= 0.5 and not args.busy_neighbour
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} -> "
          + ("QUIET: these figures may go in the README" if quiet else
             "NOT QUIET (load > 0.5 or busy neighbour): do not publish these figures"))
    if args.memory:
        peak_memory(keys)
    if args.profile:
        profile_deepdive(keys, steps_of)


if _MEMORY_CHILD:
    memory_child(*sys.argv[2:4])
elif __name__ == "__main__":
    main()
