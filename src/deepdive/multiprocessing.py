"""``deepdive.multiprocessing`` (``torch.multiprocessing``): Python's ``multiprocessing`` with PyTorch's extras.

Everything in the standard module is re-exported (``Process``, ``Queue``,
``Pool``, ``set_start_method`` ...). A tensor sent to another process travels
as a pickled copy of its values (``Tensor.__reduce_ex__``): deepdive has no
shared-memory tensors, so ``share_memory_()`` is a no-op and the sharing
strategy is only recorded for scripts that set and read it.
"""
import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

__all__ = list(_mp.__all__) + ["get_sharing_strategy", "set_sharing_strategy", "get_all_sharing_strategies",
                               "spawn", "ProcessException", "ProcessRaisedException", "ProcessExitedException"]

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = ["file_descriptor"]


def get_all_sharing_strategies():
    return set(_STRATEGIES)


def get_sharing_strategy():
    return _strategy[0]


def set_sharing_strategy(new_strategy):
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: {new_strategy!r} is not one of {sorted(_STRATEGIES)}")
    _strategy[0] = new_strategy


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``fn(i, *args)`` in ``nprocs`` new processes (``i`` = process index), as ``torch.multiprocessing.spawn``.

    With the default ``start_method="spawn"`` and MPI installed (``deepdive[distributed]``), the processes
    are the ranks of ONE MPI world started by ``mpiexec`` (``i`` is the MPI rank), so ``fn`` can call
    ``init_process_group("gloo", rank=i, world_size=nprocs)``. As with PyTorch's spawn, each process imports
    the script's main module as ``__mp_main__`` (its ``if __name__ == "__main__":`` block runs once, in the
    parent), and ``fn`` and ``args`` travel pickled (a module-level function; no Queues or Pipes, which
    cannot reach a process started by mpiexec). A process that raises ends all of them, and the parent
    raises ``ProcessRaisedException`` with that process's traceback.

    With ``start_method="fork"``/``"forkserver"``, or without MPI, they are plain ``multiprocessing``
    processes (any arguments, but no MPI world). With ``join`` it waits and raises if any process failed;
    otherwise it returns a context whose ``join()`` does that.
    """
    from .distributed import _mpi
    if start_method == "spawn" and _mpi.is_available():
        from .distributed.spawn import spawn_mpi
        return spawn_mpi(fn, args, nprocs, join)
    ctx = _mp.get_context(start_method)
    processes = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in processes:
        p.start()
    if not join:
        return processes
    for p in processes:
        p.join()
    failed = [(i, p.exitcode) for i, p in enumerate(processes) if p.exitcode != 0]
    if failed:
        i, code = failed[0]
        raise ProcessExitedException(f"process {i} terminated with exit code {code}", i, processes[i].pid, code)
    return None


from .distributed.launch import ProcessException, ProcessExitedException, ProcessRaisedException  # noqa: E402,F401
