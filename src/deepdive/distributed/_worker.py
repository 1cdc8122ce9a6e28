"""One rank of an MPI world started by ``deepdive-run`` or ``spawn`` (run as ``python -m``, by mpiexec).

    python -m deepdive.distributed._worker script  [-m] <script or module> args...
    python -m deepdive.distributed._worker spawn   <payload file>
"""
import os
import pickle
import runpy
import sys
import traceback
import types


def _torchrun_environment(comm):
    """torchrun's variables, from MPI's placement of the ranks (local = same machine, shared memory)."""
    from mpi4py import MPI
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    rank, size, local_rank, local_size = comm.Get_rank(), comm.Get_size(), local.Get_rank(), local.Get_size()
    local.Free()
    env = {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local_rank, "LOCAL_WORLD_SIZE": local_size,
           "GROUP_RANK": rank // local_size, "GROUP_WORLD_SIZE": max(1, size // local_size),
           "ROLE_RANK": rank, "ROLE_WORLD_SIZE": size, "ROLE_NAME": "default",
           "TORCHELASTIC_RESTART_COUNT": 0, "TORCHELASTIC_MAX_RESTARTS": 0}
    for key, value in env.items():
        os.environ[key] = str(value)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")
    os.environ.setdefault("TORCHELASTIC_RUN_ID", "none")


def _load_main(main_path, main_name):
    """Import the parent's main module as ``__mp_main__`` (so its ``if __name__ == "__main__":`` block does
    not run again), and alias it as ``__main__`` so pickled references to its functions resolve: what
    multiprocessing's spawn start method does."""
    if main_name is not None and main_name != "__main__":
        content = runpy.run_module(main_name, run_name="__mp_main__", alter_sys=True)
    elif main_path is not None:
        content = runpy.run_path(main_path, run_name="__mp_main__")
    else:
        return
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(content)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def _run_script(args):
    module = args[0] == "-m"
    if module:
        args = args[1:]
    sys.argv = list(args)
    if module:
        runpy.run_module(args[0], run_name="__main__", alter_sys=True)
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")


def _run_spawned(payload_path, rank):
    with open(payload_path, "rb") as f:
        header, body = pickle.load(f)
    sys.path[:] = header["sys_path"]
    sys.argv = header["argv"]
    _load_main(header["main_path"], header["main_name"])
    fn, args = pickle.loads(body)
    fn(rank, *args)


def _user_traceback():
    """The traceback from the user's code on (this module's and runpy's frames left out)."""
    etype, value, tb = sys.exc_info()
    while tb is not None and (tb.tb_frame.f_code.co_filename in (__file__, "<frozen runpy>")
                              or tb.tb_frame.f_code.co_filename.endswith("runpy.py")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(etype, value, tb))


def _fail(comm, rank, text):
    """Report this rank's failure to the launcher, then end the whole world (no rank left waiting)."""
    sys.stderr.write(f"[rank {rank}] {text}")
    sys.stderr.flush()
    error_dir = os.environ.get("DEEPDIVE_ERROR_DIR")
    if error_dir and os.path.isdir(error_dir):
        with open(os.path.join(error_dir, f"error_rank{rank}.txt"), "w") as f:
            f.write(text)
    sys.stdout.flush()
    comm.Abort(1)


def main(argv):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    try:
        if argv[0] == "script":
            _torchrun_environment(comm)
            _run_script(argv[1:])
        elif argv[0] == "spawn":
            _run_spawned(argv[1], rank)
        else:
            raise SystemExit(f"deepdive.distributed._worker: unknown mode {argv[0]!r}")
    except SystemExit as e:
        if e.code not in (None, 0):
            _fail(comm, rank, f"exited with {e.code!r}\n")
    except BaseException:
        _fail(comm, rank, _user_traceback())


if __name__ == "__main__":
    main(sys.argv[1:])
