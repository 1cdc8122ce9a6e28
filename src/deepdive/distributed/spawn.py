"""``spawn`` as one MPI world: the parent re-launches ``fn`` under ``mpiexec -n nprocs``.

MPI's ranks must be started by its launcher (MPICH's singleton processes cannot join into one world
without it), so the parent pickles ``(fn, args)`` and where its main module is into a file, and runs
``mpiexec -n nprocs python -m deepdive.distributed._worker spawn FILE``. Each rank imports the main module
as ``__mp_main__`` (as multiprocessing's spawn does) and calls ``fn(rank, *args)``.
"""
import os
import pickle
import sys
import tempfile

from .launch import MPIWorld, ProcessExitedException, ProcessRaisedException, mpiexec_command, worker_command


class MPISpawnContext:
    """What ``spawn(..., join=False)`` returns: ``join()`` waits for the ranks, raising if one failed."""

    def __init__(self, world, payload, nprocs):
        self.world, self._payload, self.nprocs = world, payload, nprocs
        self.processes = [world.process]

    def pids(self):
        return [self.world.process.pid]

    def join(self, timeout=None):
        try:
            failure = self.world.wait(timeout)
        finally:
            if os.path.exists(self._payload):
                os.unlink(self._payload)
        if failure is None:
            return True
        if failure.traceback is not None:
            raise ProcessRaisedException(f"\n\n-- Process {failure.rank} terminated with the following error:\n"
                                         f"{failure.traceback}", failure.rank)
        raise ProcessExitedException(f"process 0 terminated with exit code {failure.returncode} (mpiexec)", 0,
                                     exit_code=failure.returncode)


def _main_module():
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    path = getattr(main, "__file__", None)
    return (os.path.abspath(path) if path else None), name


def spawn_mpi(fn, args, nprocs, join):
    main_path, main_name = _main_module()
    header = {"sys_path": list(sys.path), "argv": list(sys.argv), "main_path": main_path, "main_name": main_name}
    try:
        body = pickle.dumps((fn, tuple(args)))
    except Exception as e:
        raise TypeError(f"spawn: fn and args travel pickled to the MPI ranks, and this failed: {e} (pass a "
                        "module-level function and picklable args, or start_method='fork')") from None
    fd, payload = tempfile.mkstemp(prefix="deepdive-spawn-", suffix=".pkl")
    with os.fdopen(fd, "wb") as f:
        pickle.dump((header, body), f)
    world = MPIWorld(mpiexec_command(nprocs) + worker_command("spawn", payload))
    context = MPISpawnContext(world, payload, nprocs)
    if not join:
        return context
    context.join()
    return None
