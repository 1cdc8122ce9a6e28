"""Starting ranks: one MPI world via ``mpiexec``, for the ``deepdive-run`` launcher and for ``spawn``.

The ranks run ``python -m deepdive.distributed._worker``, which sets torchrun's environment variables from
MPI's view and runs the script (or the spawned function). A rank that raises writes its traceback to a file
in a directory the launcher made, then calls ``MPI_Abort``, which makes ``mpiexec`` end every rank (so
nothing waits forever in a collective); the launcher reads the file and reports that rank's traceback.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from . import _mpi


class ProcessException(Exception):
    """A spawned rank failed (torch.multiprocessing's exception types)."""

    def __init__(self, msg, error_index, pid=None):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned rank raised: the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A spawned rank exited with a non-zero code (or was killed) without a Python traceback."""

    def __init__(self, msg, error_index, error_pid=None, exit_code=None, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name


def mpiexec_command(nprocs, hostfile=None, procs_per_node=None):
    """``mpiexec -n N`` (+ MPICH's ``-f hostfile -ppn P`` for several machines)."""
    command = [_mpi.mpiexec(), "-n", str(nprocs)]
    if hostfile is not None:
        command += ["-f", str(hostfile)]
    if procs_per_node is not None:
        command += ["-ppn", str(procs_per_node)]
    return command


def worker_command(*worker_args):
    return [sys.executable, "-m", "deepdive.distributed._worker", *worker_args]


class RankFailure:
    """What a failed run left behind: the first failing rank and its traceback (None when none was written)."""

    def __init__(self, returncode, error_dir):
        self.returncode = returncode
        self.rank, self.traceback = None, None
        files = sorted((os.path.getmtime(os.path.join(error_dir, f)), f) for f in os.listdir(error_dir)
                       if f.startswith("error_rank"))
        if files:
            first = files[0][1]
            self.rank = int(first[len("error_rank"):-len(".txt")])
            with open(os.path.join(error_dir, first)) as f:
                self.traceback = f.read()


class MPIWorld:
    """A running ``mpiexec`` whose ranks report failures into ``error_dir``."""

    def __init__(self, command, env=None):
        self.error_dir = tempfile.mkdtemp(prefix="deepdive-ranks-")
        env = dict(os.environ if env is None else env)
        env["DEEPDIVE_ERROR_DIR"] = self.error_dir
        self.process = subprocess.Popen(command, env=env)

    def wait(self, timeout=None):
        """Wait for every rank; returns None on success, else a RankFailure."""
        try:
            returncode = self.process.wait(timeout)
        except KeyboardInterrupt:
            self.process.terminate()
            self.process.wait()
            raise
        try:
            return None if returncode == 0 else RankFailure(returncode, self.error_dir)
        finally:
            shutil.rmtree(self.error_dir, ignore_errors=True)
