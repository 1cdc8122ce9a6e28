"""Collectives on Tensors, as torch.distributed's: each one is the MPI call of the same meaning.

They act in place on the tensors' arrays (PyTorch's contract), with ``async_op=True`` starting MPI's
non-blocking variant and returning a ``Work`` (``wait()``, ``is_completed()``). Before a collective every
rank checks that all ranks called the same collective on the same shapes and dtypes; a mismatch raises on
every rank with each rank's shape in the message, where MPI itself would hang, truncate or read garbage.
On a 2-rank group the check is one exchange of an 8-byte header (process_group._Pair) that also carries an
all-reduce's tensor up to 64 KB, which is then reduced locally: a checked small all-reduce is one message
round, as MPI's own. On other groups it is one 2-number all-reduce before the collective: a small-message
latency (a few microseconds; ``benchmarks/bench_distributed.py`` measures both). ``DEEPDIVE_DISTRIBUTED_CHECKS=0``
turns the check off (DistributedDataParallel's gradient all-reduces never pay it: it checks the parameters'
shapes once, at construction).
"""
import os
import zlib

import numpy as np

from . import _mpi
from .process_group import _group


# Check that every rank passes the same shapes and dtypes to each collective (see the module's docstring).
CHECK_ARGUMENTS = os.environ.get("DEEPDIVE_DISTRIBUTED_CHECKS", "1") != "0"


class ReduceOp:
    """The reductions of ``all_reduce``/``reduce``/``reduce_scatter`` (``ReduceOp.SUM`` ...).

    ``AVG`` is ``SUM`` then a division by the group's size (floating tensors only).
    """
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    RedOpType = str


_OPS = {}


def _mpi_op(op):
    table = _OPS
    if not table:
        MPI = _mpi.mpi()
        table.update({"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX,
                      "band": MPI.BAND, "bor": MPI.BOR, "bxor": MPI.BXOR})
    if op not in table:
        raise ValueError(f"unknown reduce op {op!r}; use deepdive.distributed.ReduceOp.SUM/AVG/PRODUCT/MIN/MAX")
    return table[op]


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` blocks until it is done, ``is_completed()`` polls.

    ``finish`` runs once when the requests are complete (an AVG's division, a copy into a list of tensors).
    """

    def __init__(self, requests, finish=None, result=None):
        self._requests = [r for r in requests if r is not None]
        self._finish = finish
        self._done = False
        self._result = result

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()

    def wait(self, timeout=None):
        if not self._done:
            test = _mpi.mpi().Request.Testall
            while not test(self._requests):
                os.sched_yield()          # NOTE: as DDP's wait: let a rank sharing this core run
            self._complete()
        return True

    def is_completed(self):
        if not self._done and _mpi.mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def result(self):
        self.wait()
        return self._result


def _data(tensor, op, what="tensor"):
    if tensor.__class__ is not Tensor and not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(tensor).__name__}")
    return tensor._data


def _buffer(tensor, op, what="tensor"):
    """A C-contiguous array MPI can read and write for ``tensor``, and how to copy it back if it is a copy."""
    data = _data(tensor, op, what)
    if data.flags.c_contiguous and data.flags.writeable:
        return data, None
    buf = _contiguous(data)

    def write_back():
        tensor._data[...] = buf
    return buf, write_back


def _bump(*tensors):
    for t in tensors:
        t._version_counter[0] += 1


def _meta(array):
    """The shape and dtype ranks must agree on, e.g. ``(2, 3) float32``."""
    return f"{array.shape} {_DTYPE_NAMES.get(array.dtype.str) or array.dtype.name}"


_DTYPE_NAMES = {"<f4": "float32", "<f8": "float64", "<i8": "int64", "<i4": "int32", "|b1": "bool", "<f2": "float16"}


def _contiguous(array):
    """``array`` itself when C-contiguous, else a C-contiguous copy (0-d stays 0-d, unlike ascontiguousarray)."""
    return array if array.flags.c_contiguous else array.copy(order="C")


def _problem(check, *args):
    """The message of the ValueError ``check(*args)`` raises on this rank, or None."""
    try:
        check(*args)
    except (ValueError, TypeError) as e:
        return e
    return None


_PROBE = np.empty(2, np.int64)        # reused: allocating it was a fifth of the check's time


def _check_same(group, op, meta, problem=None):
    """Raise on every rank unless every rank of ``group`` calls ``op`` with the same ``meta`` string.

    ``problem`` is an error this rank found in its own arguments (a wrong list on the root of a gather):
    it is raised on every rank, so that no rank goes on into an MPI call the others will not make.

    NOTE: a hash of (op, meta) reduced with MAX over (h, -h) gives max and min in one small all-reduce;
    only when they differ are the full descriptions gathered, for the message.
    """
    if not CHECK_ARGUMENTS:
        if problem is not None:
            raise problem
        return
    if problem is not None:
        meta = f"an invalid argument ({problem})"
    h = zlib.crc32(f"{op}|{meta}".encode()) + 1
    if group._pair is not None:
        agree = group._pair.exchange(h) == h
    else:
        probe = _PROBE
        probe[0], probe[1] = h, -h
        MPI = _mpi.mpi()
        group.comm.Allreduce(MPI.IN_PLACE, probe, MPI.MAX)
        agree = probe[0] == -probe[1]
    if agree and problem is not None:
        raise problem                     # every rank has the same problem
    if agree:
        return
    _mismatch(group, op, meta)


def _mismatch(group, op, meta):
    """Raise, on every rank of ``group`` (each calls this once it has seen the disagreement), the error
    naming each rank's call."""
    seen = group.comm.allgather(f"{op} with {meta}")
    detail = ", ".join(f"rank {group.ranks[i]}: {s}" for i, s in enumerate(seen))
    raise RuntimeError(f"{op}: the ranks called it with mismatched arguments ({detail}); every rank must pass "
                       "tensors of the same shape and dtype to the same collective")


def _run(comm_call, blocking_call, async_op, finish=None, op="collective"):
    """Run a collective blocking (returns None) or non-blocking (returns a Work)."""
    MPI = _mpi.mpi()
    try:
        if async_op:
            return Work([comm_call()], finish)
        blocking_call()
    except MPI.Exception as e:
        raise RuntimeError(f"{op}: MPI error: {e}") from None
    if finish is not None:
        finish()
    return None


def _root(group, rank, what, group_rank=None):
    return group_rank if group_rank is not None else group.group_rank(rank, what)


def _avg_finish(op_name, group, arrays, write_back=None, tensors=()):
    def finish():
        if op_name == ReduceOp.AVG:
            for a in arrays:
                a /= group.size()
        if write_back is not None:
            write_back()
        _bump(*tensors)
    return finish


def _check_avg(op, array, name):
    if op == ReduceOp.AVG and array.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: ReduceOp.AVG needs a floating tensor, got {array.dtype}; use SUM and divide")


# The element-wise NumPy form of each reduction, for the dtypes MPI reduces the same way (a 2-rank group reduces
# a small all-reduce locally: see process_group._Pair). NOTE: each is commutative, so both ranks compute
# bitwise the same a0 op a1 = a1 op a0 (floating-point addition and multiplication commute exactly).
_INTEGERS, _REALS = "bBhHiIlLqQ", "bBhHiIlLqQfd"
_LOCAL = {**{("sum", c): np.add for c in _REALS + "FD"}, **{("avg", c): np.add for c in "fdFD"},
          **{("product", c): np.multiply for c in _REALS + "FD"}, **{("min", c): np.minimum for c in _REALS},
          **{("max", c): np.maximum for c in _REALS}, **{("band", c): np.bitwise_and for c in _INTEGERS},
          **{("bor", c): np.bitwise_or for c in _INTEGERS}, **{("bxor", c): np.bitwise_xor for c in _INTEGERS}}
_OP_CODES = {"sum": 1, "avg": 2, "product": 3, "min": 4, "max": 5, "band": 6, "bor": 7, "bxor": 8}


def _pair_header(op, buf):
    """all_reduce's header for the 2-rank exchange: (op, dtype, shape), as a positive int64 that never equals
    _check_same's (a CRC-32 + 1, below 2**33). Python's hash of a tuple of ints is the same in every process."""
    code = _OP_CODES.get(op) or zlib.crc32(repr(op).encode())
    return (hash((code, buf.dtype.num, buf.shape)) & (2**62 - 1)) | 2**62


def _all_reduce_pair(pair, g, tensor, buf, write_back, op, async_op):
    """all_reduce on a 2-rank group, checked: one header exchange that also carries a small tensor.
    Returns a Work, None, or NotImplemented when MPI's all-reduce must follow (the header agreed)."""
    header = _pair_header(op, buf)
    local = _LOCAL.get((op, buf.dtype.char))
    if local is None or buf.nbytes > pair.PAYLOAD:
        if pair.exchange(header) != header:
            _mismatch(g, f"all_reduce({op})", _meta(buf))
        return NotImplemented
    mine, theirs = pair.views(buf.dtype, buf.shape)
    mine[...] = buf                       # NOTE: not np.copyto, whose Python-level dispatch costs more here
    if pair.exchange(header, buf.nbytes) != header:
        _mismatch(g, f"all_reduce({op})", _meta(buf))
    local(buf, theirs, buf)
    if op == ReduceOp.AVG:
        buf /= 2
    if write_back is not None:
        write_back()
    tensor._version_counter[0] += 1
    return Work([]) if async_op else None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """``tensor = op(tensor of rank 0, ..., tensor of rank n-1)``, on every rank."""
    g = _group(group, "all_reduce")
    buf, write_back = _buffer(tensor, "all_reduce")
    _check_avg(op, buf, "all_reduce")
    if CHECK_ARGUMENTS:
        if g._pair is not None:
            done = _all_reduce_pair(g._pair, g, tensor, buf, write_back, op, async_op)
            if done is not NotImplemented:
                return done
        else:
            _check_same(g, f"all_reduce({op})", _meta(buf))
    MPI, mop = _mpi.mpi(), _mpi_op(op)
    if not async_op and write_back is None:
        # NOTE: the common case without _run's closures: the cost of a small all-reduce is mostly Python's
        try:
            g.comm.Allreduce(MPI.IN_PLACE, buf, mop)
        except MPI.Exception as e:
            raise RuntimeError(f"all_reduce: MPI error: {e}") from None
        if op == ReduceOp.AVG:
            buf /= g.size()
        tensor._version_counter[0] += 1
        return None
    return _run(lambda: g.comm.Iallreduce(MPI.IN_PLACE, buf, mop), lambda: g.comm.Allreduce(MPI.IN_PLACE, buf, mop),
                async_op, _avg_finish(op, g, [buf], write_back, [tensor]), "all_reduce")


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """``tensor = tensor of rank src``, on every rank (``src`` is a global rank, as in PyTorch)."""
    g = _group(group, "broadcast")
    root = _root(g, 0 if src is None else src, "broadcast: src", group_src)
    buf, write_back = _buffer(tensor, "broadcast")
    _check_same(g, f"broadcast(src={root})", _meta(buf))
    return _run(lambda: g.comm.Ibcast(buf, root), lambda: g.comm.Bcast(buf, root), async_op,
                _avg_finish(None, g, [], write_back, [tensor]), "broadcast")


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """On rank ``dst``: ``tensor = op(tensors of all ranks)``; the other ranks' tensors are left as they are."""
    g = _group(group, "reduce")
    root = _root(g, 0 if dst is None else dst, "reduce: dst", group_dst)
    buf, write_back = _buffer(tensor, "reduce")
    _check_avg(op, buf, "reduce")
    _check_same(g, f"reduce({op}, dst={root})", _meta(buf))
    MPI, mop = _mpi.mpi(), _mpi_op(op)
    if g.rank() == root:
        return _run(lambda: g.comm.Ireduce(MPI.IN_PLACE, buf, mop, root),
                    lambda: g.comm.Reduce(MPI.IN_PLACE, buf, mop, root), async_op,
                    _avg_finish(op, g, [buf], write_back, [tensor]), "reduce")
    return _run(lambda: g.comm.Ireduce(buf, None, mop, root), lambda: g.comm.Reduce(buf, None, mop, root),
                async_op, None, "reduce")


def _check_list(tensors, n, like, op, what):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != n:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{op}: {what} must be a list of {n} tensors (one per rank), got {got}")
    for i, t in enumerate(tensors):
        a = _data(t, op, f"{what}[{i}]")
        if like is not None and (a.shape != like.shape or a.dtype != like.dtype):
            raise ValueError(f"{op}: {what}[{i}] is {_meta(a)} but the input is {_meta(like)}")


def _copy_into(tensors, stacked):
    def finish():
        for t, piece in zip(tensors, stacked):
            t._data[...] = piece
        _bump(*tensors)
    return finish


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i] = tensor of rank i``, on every rank."""
    g = _group(group, "all_gather")
    buf = _contiguous(_data(tensor, "all_gather"))
    _check_same(g, "all_gather", _meta(buf), _problem(_check_list, tensor_list, g.size(), buf, "all_gather",
                                                      "tensor_list"))
    out = np.empty((g.size(),) + buf.shape, buf.dtype)
    return _run(lambda: g.comm.Iallgather(buf, out), lambda: g.comm.Allgather(buf, out), async_op,
                _copy_into(tensor_list, out), "all_gather")


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` = the ranks' inputs concatenated along dim 0 (or stacked: shape ``(world, *input)``)."""
    g = _group(group, "all_gather_into_tensor")
    buf = _contiguous(_data(input_tensor, "all_gather_into_tensor", "input_tensor"))
    out, write_back = _buffer(output_tensor, "all_gather_into_tensor", "output_tensor")
    problem = None
    if out.size != g.size() * buf.size or out.dtype != buf.dtype:
        problem = ValueError(f"all_gather_into_tensor: output_tensor is {_meta(out)} but must hold {g.size()} x "
                             f"input_tensor {_meta(buf)}")
    _check_same(g, "all_gather_into_tensor", _meta(buf), problem)
    return _run(lambda: g.comm.Iallgather(buf, out), lambda: g.comm.Allgather(buf, out), async_op,
                _avg_finish(None, g, [], write_back, [output_tensor]), "all_gather_into_tensor")


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """On rank ``dst``: ``gather_list[i] = tensor of rank i``."""
    g = _group(group, "gather")
    root = _root(g, 0 if dst is None else dst, "gather: dst", group_dst)
    buf = _contiguous(_data(tensor, "gather"))
    problem = (ValueError("gather: gather_list must be given on the destination rank only") if gather_list
               else None) if g.rank() != root else _problem(_check_list, gather_list, g.size(), buf, "gather",
                                                           "gather_list")
    _check_same(g, f"gather(dst={root})", _meta(buf), problem)
    if g.rank() != root:
        return _run(lambda: g.comm.Igather(buf, None, root), lambda: g.comm.Gather(buf, None, root), async_op,
                    None, "gather")
    out = np.empty((g.size(),) + buf.shape, buf.dtype)
    return _run(lambda: g.comm.Igather(buf, out, root), lambda: g.comm.Gather(buf, out, root), async_op,
                _copy_into(gather_list, out), "gather")


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """``tensor = scatter_list[my rank]`` of rank ``src``."""
    g = _group(group, "scatter")
    root = _root(g, 0 if src is None else src, "scatter: src", group_src)
    buf, write_back = _buffer(tensor, "scatter")
    problem = (_problem(_check_list, scatter_list, g.size(), buf, "scatter", "scatter_list") if g.rank() == root
               else ValueError("scatter: scatter_list must be given on the source rank only") if scatter_list
               else None)
    _check_same(g, f"scatter(src={root})", _meta(buf), problem)
    send = np.ascontiguousarray(np.stack([t._data for t in scatter_list])) if g.rank() == root else None
    return _run(lambda: g.comm.Iscatter(send, buf, root), lambda: g.comm.Scatter(send, buf, root), async_op,
                _avg_finish(None, g, [], write_back, [tensor]), "scatter")


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output = op over ranks of input_list[my rank]``."""
    g = _group(group, "reduce_scatter")
    out, write_back = _buffer(output, "reduce_scatter", "output")
    _check_avg(op, out, "reduce_scatter")
    _check_same(g, f"reduce_scatter({op})", _meta(out), _problem(_check_list, input_list, g.size(), out,
                                                                 "reduce_scatter", "input_list"))
    send = np.ascontiguousarray(np.stack([t._data for t in input_list]))
    mop = _mpi_op(op)
    return _run(lambda: g.comm.Ireduce_scatter_block(send, out, mop),
                lambda: g.comm.Reduce_scatter_block(send, out, mop), async_op,
                _avg_finish(op, g, [out], write_back, [output]), "reduce_scatter")


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` = rank i's block (of world equal blocks along dim 0) of ``op`` over the ranks' ``input``."""
    g = _group(group, "reduce_scatter_tensor")
    out, write_back = _buffer(output, "reduce_scatter_tensor", "output")
    send = _contiguous(_data(input, "reduce_scatter_tensor", "input"))
    _check_avg(op, out, "reduce_scatter_tensor")
    problem = None
    if send.size != g.size() * out.size or send.dtype != out.dtype:
        problem = ValueError(f"reduce_scatter_tensor: input is {_meta(send)} but must hold {g.size()} x output "
                             f"{_meta(out)}")
    _check_same(g, f"reduce_scatter_tensor({op})", _meta(send), problem)
    mop = _mpi_op(op)
    return _run(lambda: g.comm.Ireduce_scatter_block(send, out, mop),
                lambda: g.comm.Reduce_scatter_block(send, out, mop), async_op,
                _avg_finish(op, g, [out], write_back, [output]), "reduce_scatter_tensor")


def _alltoallv(g, send, send_counts, recv, recv_counts, async_op, finish, op):
    def displs(counts):
        return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
    sendspec = [send, (list(send_counts), displs(send_counts))]
    recvspec = [recv, (list(recv_counts), displs(recv_counts))]
    return _run(lambda: g.comm.Ialltoallv(sendspec, recvspec), lambda: g.comm.Alltoallv(sendspec, recvspec),
                async_op, finish, op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """``output_tensor_list[i]`` of rank j = ``input_tensor_list[j]`` of rank i."""
    g = _group(group, "all_to_all")
    problem = (_problem(_check_list, input_tensor_list, g.size(), None, "all_to_all", "input_tensor_list")
               or _problem(_check_list, output_tensor_list, g.size(), None, "all_to_all", "output_tensor_list"))
    dtype = None if problem else input_tensor_list[0]._data.dtype
    _check_same(g, "all_to_all", str(dtype), problem)
    send = np.concatenate([np.ravel(t._data).astype(dtype, copy=False) for t in input_tensor_list])
    recv = np.empty(sum(t._data.size for t in output_tensor_list), dtype)
    bounds = np.cumsum([0] + [t._data.size for t in output_tensor_list])

    def finish():
        for t, a, b in zip(output_tensor_list, bounds[:-1], bounds[1:]):
            t._data[...] = recv[a:b].reshape(t._data.shape)
        _bump(*output_tensor_list)
    return _alltoallv(g, send, [t._data.size for t in input_tensor_list], recv,
                      [t._data.size for t in output_tensor_list], async_op, finish, "all_to_all")


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """``all_to_all`` on the dim-0 splits of one tensor (equal splits unless the sizes are given)."""
    g = _group(group, "all_to_all_single")
    send = _contiguous(_data(input, "all_to_all_single", "input"))
    out, write_back = _buffer(output, "all_to_all_single", "output")
    _check_same(g, "all_to_all_single", str(send.dtype))
    row_in = send[0].size if send.ndim and send.shape[0] else 1
    row_out = out[0].size if out.ndim and out.shape[0] else 1
    n = g.size()
    in_splits = input_split_sizes or [send.shape[0] // n] * n
    out_splits = output_split_sizes or [out.shape[0] // n] * n
    return _alltoallv(g, send, [s * row_in for s in in_splits], out, [s * row_out for s in out_splits], async_op,
                      _avg_finish(None, g, [], write_back, [output]), "all_to_all_single")


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` has reached the barrier."""
    g = _group(group, "barrier")
    return _run(lambda: g.comm.Ibarrier(), lambda: g.comm.Barrier(), async_op, None, "barrier")


# --------------------------------------------------------------------------- point to point

def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Start sending ``tensor`` to rank ``dst``; returns a Work."""
    g = _group(group, "isend")
    buf = _contiguous(_data(tensor, "isend"))
    return _run(lambda: g.comm.Isend(buf, _root(g, dst, "isend: dst", group_dst), tag), None, True, None, "isend")


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    isend(tensor, dst, group, tag, group_dst).wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Start receiving into ``tensor`` from rank ``src`` (any rank when ``None``); returns a Work."""
    MPI = _mpi.mpi()
    g = _group(group, "irecv")
    buf, write_back = _buffer(tensor, "irecv")
    source = MPI.ANY_SOURCE if src is None and group_src is None else _root(g, src, "irecv: src", group_src)
    return _run(lambda: g.comm.Irecv(buf, source, tag), None, True,
                _avg_finish(None, g, [], write_back, [tensor]), "irecv")


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank when ``None``); returns the sender's rank."""
    MPI = _mpi.mpi()
    g = _group(group, "recv")
    buf, write_back = _buffer(tensor, "recv")
    source = MPI.ANY_SOURCE if src is None and group_src is None else _root(g, src, "recv: src", group_src)
    status = MPI.Status()
    try:
        g.comm.Recv(buf, source, tag, status)
    except MPI.Exception as e:
        raise RuntimeError(f"recv: receiving into a tensor of {_meta(buf)} failed (the sender's tensor must have "
                           f"as many elements): {e}") from None
    if write_back is not None:
        write_back()
    _bump(tensor)
    return g.ranks[status.Get_source()]


# --------------------------------------------------------------------------- Python objects (pickled)

def all_gather_object(object_list, obj, group=None):
    """``object_list[i] = obj of rank i`` (objects travel pickled: keep them small)."""
    g = _group(group, "all_gather_object")
    if len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list must have {g.size()} entries, got {len(object_list)}")
    object_list[:] = g.comm.allgather(obj)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """``object_list[:] = object_list of rank src``."""
    g = _group(group, "broadcast_object_list")
    root = _root(g, 0 if src is None else src, "broadcast_object_list: src", group_src)
    got = g.comm.bcast(list(object_list) if g.rank() == root else None, root)
    if len(got) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {g.ranks[root]} sent {len(got)} objects but this rank's "
                         f"list has {len(object_list)}")
    object_list[:] = got


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    g = _group(group, "gather_object")
    root = _root(g, 0 if dst is None else dst, "gather_object: dst", group_dst)
    got = g.comm.gather(obj, root)
    if g.rank() == root:
        object_gather_list[:] = got


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    g = _group(group, "scatter_object_list")
    root = _root(g, 0 if src is None else src, "scatter_object_list: src", group_src)
    scatter_object_output_list[0] = g.comm.scatter(list(scatter_object_input_list) if g.rank() == root else None,
                                                   root)


from ..tensor import Tensor  # noqa: E402  (after the functions: deepdive imports this package)
