"""DataLoader: batches from a dataset, shuffled by a seedable generator, optionally in worker processes.

    for x, y in DataLoader(dataset, batch_size=32, shuffle=True):
        ...

With ``num_workers > 0`` batches are loaded by that many worker processes (the
dataset is copied into each), up to ``prefetch_factor`` batches per worker
ahead, and handed out in sampler order. Each worker reseeds deepdive's default
generator with ``base_seed + worker_id`` so random augmentation differs per
worker, as in PyTorch.
"""

import numpy as np

from ...random import get_generator, default_generator
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import SequentialSampler, RandomSampler, BatchSampler


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info = None


def get_worker_info():
    """Inside a worker process: its ``WorkerInfo`` (id, num_workers, seed, dataset); None in the main process."""
    return _worker_info


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__``/``__len__``) or an ``IterableDataset``
        batch_size (int or None, default 1): samples per batch; None disables batching
        shuffle (bool): reshuffle every epoch (map-style only)
        sampler / batch_sampler: custom index order / batches (exclusive with shuffle / batch_size)
        num_workers (int): worker processes (0 loads in the main process)
        collate_fn: list of samples -> batch (default: PyTorch's ``default_collate``)
        drop_last (bool): drop the last incomplete batch
        generator: the ``deepdive.Generator`` used for shuffling
        worker_init_fn, prefetch_factor, persistent_workers, timeout: as in PyTorch
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                             "let num_workers > 0 to enable multiprocessing.")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler / batch_sampler option")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")

        if sampler is None and not self._is_iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None or (self._is_iterable and self.batch_size is not None)

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def __iter__(self):
        # PyTorch draws one int64 base seed from loader.generator per iterator (even without workers),
        # before the sampler draws: keeping that draw keeps the default stream in step with PyTorch's.
        base_seed = int(get_generator(self.generator).random_bits((), np.int64))
        if self.num_workers == 0:
            return self._single_process()
        return _MultiProcessIter(self, base_seed)

    # ----------------------------------------------------------- main process
    def _single_process(self):
        if self._is_iterable:
            yield from _iterate_stream(self.dataset, self.batch_size, self.drop_last, self.collate_fn)
            return
        if self.batch_sampler is not None:
            for indices in self.batch_sampler:
                yield self.collate_fn([self.dataset[i] for i in indices])
        else:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])


def _iterate_stream(dataset, batch_size, drop_last, collate_fn):
    if batch_size is None:
        for sample in dataset:
            yield collate_fn(sample)
        return
    batch = []
    for sample in dataset:
        batch.append(sample)
        if len(batch) == batch_size:
            yield collate_fn(batch)
            batch = []
    if batch and not drop_last:
        yield collate_fn(batch)


# ------------------------------------------------------------- worker side
# NOTE: how often a blocked side looks at the other: the main process checks that its workers are alive,
# a worker checks that its parent is. A result that is ready is taken at once; only waiting polls.
_STATUS_CHECK_SECONDS = 0.2


class _WorkerError:
    """An exception raised in a worker, carried to the main process and raised there as PyTorch does:
    the same exception type, with the worker's traceback in its message."""

    def __init__(self, exc, worker_id):
        import traceback
        self.exc_type = type(exc)
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                        f"Original {traceback.format_exc()}")

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:          # an exception type that takes other arguments
            error = None
        if not isinstance(error, BaseException):
            error = RuntimeError(self.message)
        raise error


def _die_with_parent():
    """Ask Linux to kill this worker if the main process dies (even by SIGKILL, where no cleanup runs)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # 1 = PR_SET_PDEATHSIG
    except Exception:
        pass                        # elsewhere the loop below notices a new parent instead


def _worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation, worker_id, num_workers, seed,
                 worker_init_fn, is_iterable, batch_size, drop_last, parent_pid):
    global _worker_info
    import os
    import queue
    _die_with_parent()
    default_generator.manual_seed(seed)
    import random
    random.seed(seed)
    # NumPy's global generator gets PyTorch's _generate_state(base_seed, worker_id), which is SeedSequence's hash
    base_seed = seed - worker_id
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]).generate_state(4))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    try:
        try:
            if worker_init_fn is not None:
                worker_init_fn(worker_id)
        except Exception as e:
            result_queue.put((_INIT_FAILED, None, _WorkerError(e, worker_id)))
            return
        if is_iterable:
            try:
                for batch in _iterate_stream(dataset, batch_size, drop_last, collate_fn):
                    if os.getppid() != parent_pid:
                        return
                    result_queue.put((worker_id, batch, None))
            except Exception as e:
                result_queue.put((worker_id, None, _WorkerError(e, worker_id)))
                return
            result_queue.put((worker_id, _StreamEnd, None))
            return
        while True:
            try:
                task = index_queue.get(timeout=_STATUS_CHECK_SECONDS)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return                  # the main process is gone: no orphan keeps running
                continue
            if task is None:
                return
            task_id, indices = task
            try:
                batch = collate_fn([dataset[i] for i in indices]) if auto_collation else collate_fn(dataset[indices])
                result_queue.put((task_id, batch, None))
            except Exception as e:      # send the error to the main process, which re-raises it in turn
                result_queue.put((task_id, None, _WorkerError(e, worker_id)))
    except KeyboardInterrupt:
        pass


class _StreamEnd:
    pass


_INIT_FAILED = "worker_init_fn failed"      # in place of a task id: raised at once, as in PyTorch


class _MultiProcessIter:
    def __init__(self, loader, base_seed):
        import multiprocessing          # only loaders with workers pay for it
        import os
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context(context or ("fork" if "fork" in methods else "spawn"))
        self.loader = loader
        self.timeout = loader.timeout or None
        self.result_queue = context.Queue()
        self.index_queues = []
        self.workers = []
        for wid in range(loader.num_workers):
            iq = context.Queue()
            w = context.Process(target=_worker_loop, daemon=True, args=(
                loader.dataset, iq, self.result_queue, loader.collate_fn, loader._auto_collation, wid,
                loader.num_workers, base_seed + wid, loader.worker_init_fn, loader._is_iterable, loader.batch_size,
                loader.drop_last, os.getpid()))
            w.start()
            self.index_queues.append(iq)
            self.workers.append(w)
        self.is_iterable = loader._is_iterable
        self.live_streams = loader.num_workers
        if not self.is_iterable:
            # batches of indices (auto-collation) or single indices (batch_size=None)
            self.batches = iter(loader.batch_sampler) if loader.batch_sampler is not None else iter(loader.sampler)
            self.sent = self.received = 0
            self.reorder = {}
            for _ in range(loader.prefetch_factor * loader.num_workers):
                if not self._dispatch():
                    break

    def _dispatch(self):
        try:
            indices = next(self.batches)
        except StopIteration:
            return False
        self.index_queues[self.sent % len(self.index_queues)].put((self.sent, indices))
        self.sent += 1
        return True

    def __iter__(self):
        return self

    def _dead_workers(self):
        # A worker ends on its own only after an IterableDataset's stream (exit code 0), or after sending
        # the error of its worker_init_fn; any other exit (killed by a signal, the out-of-memory killer,
        # os._exit) means its batches will never come.
        if self.is_iterable:
            return [w for w in self.workers if w.exitcode is not None and w.exitcode != 0]
        return [w for w in self.workers if w.exitcode is not None]

    def _get(self):
        import queue
        import time
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            wait = _STATUS_CHECK_SECONDS if deadline is None else \
                max(0.0, min(_STATUS_CHECK_SECONDS, deadline - time.monotonic()))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = self._dead_workers()
            if dead:
                try:                        # what a worker sent before it died is still delivered
                    return self.result_queue.get(timeout=_STATUS_CHECK_SECONDS)
                except queue.Empty:
                    pass
                pids = ", ".join(str(w.pid) for w in dead)
                codes = ", ".join(_describe_exit(w.exitcode) for w in dead)
                self._shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly ({codes}). If it was "
                                   "killed for memory, use fewer workers or smaller batches.")
            if deadline is not None and time.monotonic() >= deadline:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds") from None

    def __next__(self):
        if self.is_iterable:
            while self.live_streams:
                _, batch, error = self._get()
                if error is not None:
                    self._shutdown()
                    error.reraise()
                if batch is _StreamEnd:
                    self.live_streams -= 1
                    continue
                return batch
            self._shutdown()
            raise StopIteration
        if self.received == self.sent:
            self._shutdown()
            raise StopIteration
        while self.received not in self.reorder:
            task_id, batch, error = self._get()
            if task_id == _INIT_FAILED:        # (a copy of the marker: it came through a pipe)
                self._shutdown()
                error.reraise()
            self.reorder[task_id] = (batch, error)
        # NOTE: an error is raised in its turn, so every good batch before it is delivered first.
        batch, error = self.reorder.pop(self.received)
        if error is not None:
            self._shutdown()
            error.reraise()
        self.received += 1
        self._dispatch()
        return batch

    def _shutdown(self):
        for iq in self.index_queues:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.join(timeout=1)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1)
        self.workers = []

    def __del__(self):
        if self.workers:
            self._shutdown()


def _describe_exit(code):
    import signal
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
