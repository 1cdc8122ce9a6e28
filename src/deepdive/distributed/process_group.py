"""Process groups (torch.distributed's): who takes part in a collective, over which MPI communicator.

``init_process_group`` turns the MPI world this process was started in (by ``mpiexec``, ``deepdive-run``
or ``deepdive.multiprocessing.spawn``) into the default group. PyTorch's CPU backend is ``"gloo"``; here
every backend name a CPU program asks for (``"gloo"``, ``"mpi"``, ``"cpu:gloo"``) runs on MPI, so PyTorch
scripts run unchanged. ``env://`` variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) are honoured as checks: MPI has already placed the ranks, so a ``RANK`` or ``world_size``
that disagrees with MPI's view is a launch mistake and raises, naming both.
"""
import datetime
import os

import numpy as np

from . import _mpi

# NOTE: "nccl" is accepted too and means MPI on CPU, as the tensors are on the CPU anyway; PyTorch's CPU
# build would fail there, but a script that picks "nccl" if cuda else "gloo" never gets that far.
_BACKENDS = {"mpi": "mpi", "gloo": "gloo", "cpu:gloo": "gloo", "nccl": "nccl", "cuda:nccl": "nccl"}
default_pg_timeout = datetime.timedelta(minutes=30)


class Backend(str):
    """The backend names (``Backend.GLOO == "gloo"``); each runs on MPI in deepdive."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name):
        if name.lower() not in _BACKENDS:
            raise ValueError(f"Invalid backend: '{name}'; deepdive.distributed knows {sorted(_BACKENDS)} "
                             "(all of them run on MPI)")
        return str.__new__(cls, _BACKENDS[name.lower()])


class ProcessGroup:
    """A set of ranks and the MPI communicator they talk over.

    ``ranks`` are global ranks (of the default group), in group-rank order. A process outside the group
    holds a ProcessGroup with ``comm=None``; collectives on it raise, ``get_rank`` gives -1 (PyTorch's
    convention for non-members).
    """

    def __init__(self, comm, ranks, backend):
        self.comm = comm
        self.ranks = list(ranks)
        self.backend = backend
        self._pair = None     # a _Pair when the group has 2 ranks (made by init_process_group and new_group)

    def rank(self):
        return -1 if self.comm is None else self.comm.Get_rank()

    def size(self):
        return len(self.ranks)

    def group_rank(self, global_rank, what="rank"):
        if global_rank not in self.ranks:
            raise ValueError(f"{what} {global_rank} is not part of the group (its global ranks are {self.ranks})")
        return self.ranks.index(global_rank)

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class _Pair:
    """The two ranks of a 2-rank group, exchanging ``[8-byte header | payload]`` messages in one ``Sendrecv``.

    The checked collectives of a 2-rank group start with this exchange instead of a separate agreement
    all-reduce: each rank sends a header naming its call (collective, op, shape, dtype) and, for a small
    all-reduce, its data too, and receives the other rank's. Equal headers: the data already arrived and is
    reduced locally (one message round, as cheap as MPI's own all-reduce); different headers: both ranks
    see it and raise. A message never overflows the receive buffer, as every rank receives into room for
    the largest payload, whatever the other sends.

    NOTE: on a private duplicate of the group's communicator, so that no user message (``isend``/``recv``
    with any tag) can match these.
    """
    PAYLOAD = 64 * 1024      # bytes; from about here up MPI's all-reduce is faster than a copy + exchange

    def __init__(self, comm):
        MPI = _mpi.mpi()
        self.comm = comm.Dup()
        self.peer = 1 - comm.Get_rank()
        self.send = np.zeros(8 + self.PAYLOAD, np.uint8)
        self.recv = np.zeros(8 + self.PAYLOAD, np.uint8)
        self._send_header = self.send[:8].view(np.int64)
        self._recv_header = self.recv[:8].view(np.int64)
        self._recv_spec = [self.recv, MPI.BYTE]
        self._byte = MPI.BYTE
        self._views = {}

    def views(self, dtype, shape):
        """The payload parts of the send and receive buffers as arrays of ``dtype`` and ``shape``."""
        key = (dtype, shape)
        views = self._views.get(key)
        if views is None:
            if len(self._views) > 256:
                self._views.clear()
            n = dtype.itemsize * int(np.prod(shape))
            views = self._views[key] = (self.send[8:8 + n].view(dtype).reshape(shape),
                                        self.recv[8:8 + n].view(dtype).reshape(shape))
        return views

    def exchange(self, header, nbytes=0):
        """Send ``header`` and the first ``nbytes`` of payload (already in the send buffer) to the other rank;
        returns the other rank's header (its payload is then in the receive buffer)."""
        self._send_header[0] = header
        self.comm.Sendrecv([self.send, 8 + nbytes, self._byte], self.peer, 0, self._recv_spec, self.peer, 0)
        return int(self._recv_header[0])

    def free(self):
        self.comm.Free()


class _World:
    default = None     # the default ProcessGroup once init_process_group ran


_world = _World()
GroupMember = type("GroupMember", (), {"WORLD": None, "NON_GROUP_MEMBER": -100})


def is_available():
    """True when the MPI engine (mpi4py) is installed: ``pip install -e ".[distributed]"``."""
    return _mpi.is_available()


def is_mpi_available():
    return _mpi.is_available()


def is_gloo_available():
    """"gloo" runs on MPI in deepdive, so it is available exactly when MPI is."""
    return _mpi.is_available()


def is_nccl_available():
    return False


def is_initialized():
    return _world.default is not None


def is_torchelastic_launched():
    """True in a rank started by ``deepdive-run`` (torchrun's test: its run id is in the environment)."""
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _env_int(name):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"init_process_group: environment variable {name}={value!r} is not an integer") from None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Make the MPI world this process runs in the default process group.

    Args:
        backend: "gloo", "mpi" (or "nccl"); all run on MPI. ``None`` means "gloo", as PyTorch's CPU default.
        init_method: "env://" (default), "tcp://..." or "file://...": MPI has placed the ranks already, so the
            address is only recorded; ``rank``/``world_size``/``RANK``/``WORLD_SIZE`` are checked against MPI.
        world_size, rank: when given (or in the environment), they must equal MPI's size and rank.
        timeout: accepted; MPI collectives have none, a failing rank aborts the whole world instead.
    """
    if _world.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    backend = Backend(backend if backend is not None else "gloo")
    MPI = _mpi.mpi()
    comm = MPI.COMM_WORLD
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    env_rank, env_size = _env_int("RANK"), _env_int("WORLD_SIZE")
    for what, given in (("world_size", world_size), ("WORLD_SIZE", env_size)):
        if given is not None and given != -1 and given != mpi_size:
            hint = (" (this process was not started by mpiexec: launch it with `deepdive-run --nproc-per-node "
                    f"{given} script.py` or `mpiexec -n {given} python script.py`)") if mpi_size == 1 else ""
            raise RuntimeError(f"init_process_group: {what}={given} but the MPI world has {mpi_size} "
                               f"process(es){hint}")
    for what, given in (("rank", rank), ("RANK", env_rank)):
        if given is not None and given != -1 and given != mpi_rank:
            raise RuntimeError(f"init_process_group: {what}={given} but MPI placed this process at rank "
                               f"{mpi_rank} of {mpi_size}")
    if store is not None and init_method is not None:
        raise ValueError("Cannot specify both init_method and store.")
    env_local = _env_int("LOCAL_RANK")
    if env_local is not None:
        local = comm.Split_type(MPI.COMM_TYPE_SHARED)
        local_rank = local.Get_rank()
        local.Free()
        if env_local != local_rank:
            raise RuntimeError(f"init_process_group: LOCAL_RANK={env_local} but MPI placed this process at local "
                               f"rank {local_rank} of its machine")
    if mpi_size > 1:
        _abort_on_uncaught_exceptions(comm)
    _world.default = ProcessGroup(comm, range(mpi_size), str(backend))
    if mpi_size == 2:
        _world.default._pair = _Pair(comm)
    GroupMember.WORLD = _world.default
    os.environ.setdefault("RANK", str(mpi_rank))
    os.environ.setdefault("WORLD_SIZE", str(mpi_size))


def _abort_on_uncaught_exceptions(comm):
    """An exception that ends one rank ends them all (``MPI_Abort``), instead of leaving the others waiting
    forever in their next collective. (``deepdive-run`` and ``spawn`` do this too, and report the traceback.)"""
    import sys
    previous = sys.excepthook
    if getattr(previous, "_deepdive_aborts", False):
        return

    def hook(etype, value, tb):
        previous(etype, value, tb)
        sys.stderr.write(f"[rank {comm.Get_rank()}] uncaught {etype.__name__}: aborting every rank (MPI_Abort)\n")
        sys.stderr.flush()
        comm.Abort(1)
    hook._deepdive_aborts = True
    sys.excepthook = hook


def destroy_process_group(group=None):
    """Forget ``group`` (default: all groups). MPI itself is finalised when the process exits."""
    if group is None or group is _world.default:
        _world.default = None
        GroupMember.WORLD = None
    elif group.comm is not None:
        if group._pair is not None:
            group._pair.free()
            group._pair = None
        group.comm.Free()
        group.comm = None


def _group(group, op="this collective"):
    """The ProcessGroup a call acts on (``None`` = the default), raising PyTorch's error when uninitialised."""
    if _world.default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    group = _world.default if group is None or group is GroupMember.WORLD else group
    if group.comm is None:
        raise RuntimeError(f"{op}: this process (rank {_world.default.rank()}) is not a member of {group}")
    return group


def get_rank(group=None):
    """This process's rank in ``group`` (-1 when it is not a member)."""
    if _world.default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return (_world.default if group is None else group).rank()


def get_world_size(group=None):
    if _world.default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return (_world.default if group is None else group).size()


def get_backend(group=None):
    return _group(group).backend


def get_process_group_ranks(group):
    return list(_group(group).ranks)


def get_global_rank(group, group_rank):
    return _group(group).ranks[group_rank]


def get_group_rank(group, global_rank):
    return _group(group).group_rank(global_rank)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the given global ``ranks`` (all ranks when ``None``; in the given order when
    ``sort_ranks=False``).

    As in PyTorch every rank of the default group must call it, members or not (MPI's ``Comm.Split`` is
    collective over the world).
    """
    world = _group(None, "new_group")
    ranks = list(range(world.size())) if ranks is None else list(dict.fromkeys(ranks))
    if sort_ranks:
        ranks.sort()
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r} is out of range for a world of {world.size()} processes")
    MPI = _mpi.mpi()
    me = world.rank()
    comm = world.comm.Split(0 if me in ranks else MPI.UNDEFINED, ranks.index(me) if me in ranks else 0)
    if comm == MPI.COMM_NULL:
        comm = None
    group = ProcessGroup(comm, ranks, str(Backend(backend)) if backend else world.backend)
    if comm is not None and len(ranks) == 2:
        group._pair = _Pair(comm)
    return group
