"""The engine underneath deepdive.distributed: MPI, reached through mpi4py (both optional).

``pip install -e ".[distributed]"`` installs mpi4py and an MPI implementation (the ``mpich`` wheel, whose
``mpiexec`` lands in the virtual environment's ``bin``). Nothing here is imported until a process group, a
launcher or ``DistributedDataParallel`` is used, so the core keeps NumPy as its only dependency.
"""
import os
import shutil
import sys

from .._optional import missing_extra


_MPI = []


def mpi():
    """``mpi4py.MPI`` (initialising MPI on first use), or the ImportError naming the extra."""
    if _MPI:
        return _MPI[0]
    try:
        from mpi4py import MPI
    except ImportError:
        raise missing_extra("deepdive.distributed", "distributed", "mpi4py") from None
    _MPI.append(MPI)
    return MPI


def is_available():
    """True when mpi4py can be imported (without initialising MPI)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def mpiexec():
    """The path of ``mpiexec``: the one beside this Python first (the ``mpich`` wheel's), then PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(beside):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        raise missing_extra("launching ranks", "distributed", "mpich") from None
    return found


def under_mpiexec():
    """True when this process was started by an MPI launcher (so ``COMM_WORLD`` has the other ranks)."""
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_RANK",
                                          "HYDI_CONTROL_FD", "PMI_FD"))
