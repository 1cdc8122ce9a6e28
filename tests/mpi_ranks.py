"""Run a script on N MPI ranks from pytest: each run in its own process group, killed at a hard timeout.

Without MPI (``pip install -e ".[distributed]"``) the tests that need it skip, and fail under
DEEPDIVE_REQUIRE_TORCH=1 (CI installs ``.[test]``, which has MPI).
"""
import os
import signal
import subprocess
import sys

import pytest

REQUIRE = os.environ.get("DEEPDIVE_REQUIRE_TORCH") == "1"
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_scripts")
TIMEOUT = 60          # seconds for one run of ranks: far above the few seconds one takes, never a hang


def require_mpi():
    try:
        import mpi4py  # noqa: F401
        from deepdive.distributed._mpi import mpiexec
        mpiexec()
    except ImportError:
        if REQUIRE:
            pytest.fail("MPI is required (DEEPDIVE_REQUIRE_TORCH=1) but mpi4py/mpich are not installed: "
                        "pip install -e '.[test]'")
        pytest.skip("MPI is not installed: pip install -e \".[distributed]\"")


def environment(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["OMP_NUM_THREADS"] = "1"
    for key, value in extra.items():
        if value is None:                      # None: remove the variable
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def run(command, cwd=None, timeout=TIMEOUT, **env):
    """Run ``command``; returns (returncode, stdout, stderr). A run past ``timeout`` is killed and fails."""
    proc = subprocess.Popen(command, cwd=cwd, env=environment(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{command} did not finish in {timeout} s (killed)\nstdout:\n{out}\nstderr:\n{err}")
    return proc.returncode, out, err


def mpiexec(script, nprocs=2, args=(), **kw):
    """``mpiexec -n nprocs python script args``."""
    from deepdive.distributed._mpi import mpiexec as path
    return run([path(), "-n", str(nprocs), sys.executable, script, *map(str, args)], **kw)


def launcher(args, **kw):
    """``python -m deepdive.distributed.run args`` (what the ``deepdive-run`` console script runs)."""
    return run([sys.executable, "-m", "deepdive.distributed.run", *map(str, args)], **kw)
