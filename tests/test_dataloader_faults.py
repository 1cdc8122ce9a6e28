"""A DataLoader with workers never hangs and never leaves a process behind: a worker that dies, an
IterableDataset or a worker_init_fn that raises, a sample that raises, a main process that is killed.
Each case ends within seconds with PyTorch's kind of error, and every good batch before a failing one is
delivered first, in order."""
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from deepdive.utils.data import DataLoader, Dataset, IterableDataset

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker processes via fork (Linux)")


@pytest.fixture(autouse=True)
def _never_hang():
    """A hang is the bug these tests look for: fail it after 30 s instead of stalling the suite."""
    def hung(signum, frame):
        raise TimeoutError("the DataLoader hung (30 s)")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
    for child in multiprocessing.active_children():
        child.kill()


def _no_workers_left(timeout=5.0):
    end = time.monotonic() + timeout
    while multiprocessing.active_children() and time.monotonic() < end:
        time.sleep(0.05)
    return not multiprocessing.active_children()


class Dies(Dataset):
    """Sample ``at`` kills its own worker (as the out-of-memory killer would)."""

    def __init__(self, at, n=40):
        self.at, self.n = at, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.float32(i)


def test_a_killed_worker_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly.*SIGKILL"):
        for _ in DataLoader(Dies(at=9), batch_size=2, num_workers=2):
            pass
    assert time.monotonic() - start < 10
    assert _no_workers_left()


def test_with_a_timeout_the_message_names_the_dead_worker():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dies(at=0), batch_size=1, num_workers=1, timeout=3))
    assert _no_workers_left()


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(30)
        return i


def test_a_timeout_on_live_but_slow_workers_says_timed_out():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 5
    assert _no_workers_left()


class RaisingStream(IterableDataset):
    def __iter__(self):
        yield from range(3)
        raise ValueError("the stream broke")


def test_an_iterable_dataset_that_raises_in_a_worker():
    got = []
    with pytest.raises(ValueError, match="(?s)Caught ValueError in DataLoader worker process 0.*the stream broke"):
        for batch in DataLoader(RaisingStream(), batch_size=None, num_workers=1):
            got.append(int(batch))
    assert got == [0, 1, 2]
    assert _no_workers_left()


def _bad_init(worker_id):
    raise OSError(f"worker {worker_id} cannot open its shard")


@pytest.mark.parametrize("dataset", [Dies(at=-1), RaisingStream()], ids=["map-style", "iterable"])
def test_a_worker_init_fn_that_raises(dataset):
    with pytest.raises(OSError, match="(?s)Caught OSError in DataLoader worker process .*cannot open its shard"):
        list(DataLoader(dataset, batch_size=None, num_workers=2, worker_init_fn=_bad_init))
    assert _no_workers_left()


class RaisesAt(Dataset):
    def __init__(self, at):
        self.at = at

    def __len__(self):
        return 40

    def __getitem__(self, i):
        if i == self.at:
            raise KeyError(f"sample {i} is missing")
        if i % 3 == 0:
            time.sleep(0.01)           # workers finish out of order
        return np.float32(i)


def test_good_batches_before_a_raising_sample_are_all_delivered():
    for run in range(5):
        got = []
        with pytest.raises(KeyError, match="sample 13 is missing"):
            for batch in DataLoader(RaisesAt(13), batch_size=1, num_workers=3):
                got.append(int(batch[0]))
        assert got == list(range(13)), f"run {run}"
    assert _no_workers_left()


_ORPHAN_SCRIPT = """
import sys, time
sys.path.insert(0, {src!r})
import numpy as np
from deepdive.utils.data import DataLoader, Dataset
import multiprocessing

class Slow(Dataset):
    def __len__(self):
        return 1000
    def __getitem__(self, i):
        time.sleep(0.5)
        return np.float32(i)

it = iter(DataLoader(Slow(), batch_size=1, num_workers=2))
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
next(it)
time.sleep(60)
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                   # a zombie is gone but for its exit status
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_do_not_outlive_a_killed_main_process():
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    main = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT.format(src=src)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in main.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        main.send_signal(signal.SIGKILL)
        main.wait(timeout=10)
        end = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < end:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), "a worker survived its main process"
    finally:
        main.kill()
        main.stdout.close()
