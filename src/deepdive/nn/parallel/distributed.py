"""DistributedDataParallel: every rank trains a replica; gradients are averaged over ranks during backward.

Each rank runs the module on its own part of the batch. When backward computes a parameter's gradient
(its post-accumulate-grad hook), it is copied, divided by the world size, into its slice of a bucket's flat
buffer; when every parameter of a bucket is ready, a non-blocking MPI all-reduce (SUM) of the buffer is
started, while backward goes on with the layers below. When backward ends (a callback queued on the engine,
as PyTorch's reducer does), the all-reduces are waited for and each gradient becomes the mean over ranks:

    grad_p = sum_r (grad_p(rank r) / world_size)

which, for a loss that is a mean over equal per-rank batches, is the gradient of the mean loss over the
concatenated batch: one optimizer step on every rank then keeps the replicas identical.
"""
import contextlib

import numpy as np

from ..module import Module


# NOTE: PyTorch's defaults: the first bucket is small (1 MB) so that the first all-reduce starts early in
# backward; the others are capped at bucket_cap_mb (25 MB).
_DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25

_UNUSED_MESSAGE = ("Expected to have finished reduction in the prior iteration before starting a new one. This "
                   "error indicates that your module has parameters that were not used in producing loss. You can "
                   "enable unused parameter detection by passing the keyword argument `find_unused_parameters=True` "
                   "to `torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function "
                   "outputs participate in calculating loss. Parameter indices which did not receive grad for rank "
                   "{rank}: {indices}")


_SHARED_VIEW_MESSAGE = ("DistributedDataParallel(gradient_as_bucket_view=True): parameter {index} received its "
                        "gradient in two parts in one backward (a parameter used twice) while its .grad was a view "
                        "of the bucket that is being reduced. Set the gradients to None before backward "
                        "(optimizer.zero_grad()) or pass gradient_as_bucket_view=False")


class _Bucket:
    """Parameters whose gradients travel in one all-reduce: their flat buffer and what is in flight.

    ``views[k]`` is parameter k's slice of the buffer, in its shape: a gradient is copied (already divided
    by the world size) into its view when it is ready, and the all-reduce sums the buffer in place.
    """

    def __init__(self, indices, params):
        self.indices = indices                    # indices into DDP's list of parameters
        self.params = params
        self.position = {index: k for k, index in enumerate(indices)}
        self.set_buffer(np.zeros(sum(p._data.size for p in params), params[0]._data.dtype))
        self.reset()

    def set_buffer(self, buffer):
        offsets = np.concatenate([[0], np.cumsum([p._data.size for p in self.params])]).astype(int)
        self.buffer = buffer
        self.views = [buffer[a:b].reshape(p._data.shape) for p, a, b in zip(self.params, offsets[:-1], offsets[1:])]

    def reset(self):
        self.pending = set(self.indices)          # parameters whose gradient has not arrived yet
        self.request = None
        self.stage = 0                            # shared memory: 1, 2 = first, second barrier started; 3 = done
        self.dirty = False                        # a gradient grew after its all-reduce had started

    # NOTE: ``shared`` (set once, never reset): a parameter of this bucket got its gradient in two parts in one
    # backward (a weight used twice). Its gradient is then copied again when the second part arrives, which
    # needs ``.grad`` to be a tensor of its own: this bucket's gradients are never views of the buffer.
    shared = False

    def fill(self, k, world):
        """Parameter k's gradient divided by ``world`` into its view (zeros without a gradient).

        NOTE: PyTorch's reducer divides while it copies (``mul_out(bucket_view, grad, 1 / world)``), which
        saves a pass over the buffer after the all-reduce, and its rounding is the one reproduced here; a
        gradient that already is the view (``gradient_as_bucket_view``) is divided in place, as there.
        """
        grad, view = self.params[k].grad, self.views[k]
        if grad is None:
            view[...] = 0
        elif grad._data is view:
            view /= world
        else:
            np.multiply(grad._data, 1.0 / world, out=view)


def _buckets(params, first_bytes, cap_bytes):
    """Parameters in reverse order (roughly the order backward produces their gradients), split by dtype and
    by size: a bucket closes once it holds ``cap`` bytes."""
    buckets, open_ = [], {}
    for i in reversed(range(len(params))):
        p = params[i]
        entry = open_.setdefault(p._data.dtype, [[], 0])
        entry[0].append(i)
        entry[1] += p._data.nbytes
        if entry[1] >= (first_bytes if not buckets else cap_bytes):
            buckets.append(_Bucket(entry[0], [params[j] for j in entry[0]]))
            del open_[p._data.dtype]
    for indices, _ in open_.values():
        buckets.append(_Bucket(indices, [params[j] for j in indices]))
    return buckets


def _wait(request):
    """``request.Wait()``, yielding the CPU between polls.

    NOTE: MPICH waits by spinning. When ranks share cores with other work (more processes than cores, as
    on a laptop or a shared CI machine), a spinning rank takes the core the rank it waits for needs;
    sched_yield hands it over, and costs nothing measurable when every rank has a core of its own.
    """
    import os
    while not request.Test():
        os.sched_yield()
    return True


class _SharedMemory:
    """Buckets in memory every rank of a one-machine group can read (an MPI shared-memory window), reduced
    there by NumPy instead of by MPI's all-reduce.

    Each rank owns one chunk of every bucket (rank r: elements [n r / W, n (r + 1) / W)). Once every rank has
    filled its bucket (a barrier), rank r sums its chunk over the ranks' buckets, in rank order, and writes
    the sum into every rank's bucket; a second barrier, and each bucket holds the sum. Each rank reads its
    chunk of W buffers and writes it W times (2n words per rank in all), with no copies into or out of MPI's
    own buffers: for 2 ranks and 1 MB, about a third of MPI's all-reduce time on one machine.

    NOTE: ``create`` returns None (and DDP uses MPI's all-reduce) when the ranks are on several machines or
    ``DEEPDIVE_DDP_SHARED_MEMORY=0``; every rank reaches the same answer, as each sees the same group.
    """

    @staticmethod
    def create(group, buckets):
        import os
        from ...distributed._mpi import mpi
        if group.size() == 1 or os.environ.get("DEEPDIVE_DDP_SHARED_MEMORY", "1") == "0":
            return None
        MPI = mpi()
        node = group.comm.Split_type(MPI.COMM_TYPE_SHARED)
        one_machine = node.Get_size() == group.size()
        node.Free()
        if not one_machine:
            return None
        return _SharedMemory(group, buckets, MPI)

    def __init__(self, group, buckets, MPI):
        rank, world = group.rank(), group.size()
        offsets = np.cumsum([0] + [-(-b.buffer.nbytes // 64) * 64 for b in buckets])   # 64-byte aligned
        self.window = MPI.Win.Allocate_shared(int(offsets[-1]), 1, comm=group.comm)
        self.window.Lock_all(MPI.MODE_NOCHECK)       # a passive epoch for Win.Sync (the memory barrier)
        memory = [np.frombuffer(self.window.Shared_query(r)[0], np.uint8) for r in range(world)]
        for b, start in zip(buckets, offsets[:-1]):
            n, dtype = b.buffer.size, b.buffer.dtype
            b.peers = [m[start:start + b.buffer.nbytes].view(dtype) for m in memory]
            b.peers[rank][...] = 0
            b.set_buffer(b.peers[rank])
            b.chunk = slice(n * rank // world, n * (rank + 1) // world)
            b.scratch = np.empty(b.chunk.stop - b.chunk.start, dtype) if world > 2 else None
            # NOTE: a communicator per bucket: non-blocking barriers match in the order each rank starts them,
            # and a bucket's second barrier starts when a test finds its first done, at a time that differs
            # between ranks; on one shared communicator it could match another bucket's first barrier
            b.comm = group.comm.Dup()

    def start(self, bucket):
        """The bucket is filled: start the first barrier."""
        self.window.Sync()
        bucket.request = bucket.comm.Ibarrier()
        bucket.stage = 1

    def advance(self, bucket, block=False):
        """Move the bucket on when its barrier has completed (or wait for it with ``block``); True when done."""
        if bucket.stage == 1 and (block and _wait(bucket.request) or bucket.request.Test()):
            self.window.Sync()
            c, peers = bucket.chunk, bucket.peers
            mine = bucket.buffer[c]
            if len(peers) == 2:
                np.add(peers[0][c], peers[1][c], out=mine)
            else:
                total = bucket.scratch
                np.add(peers[0][c], peers[1][c], out=total)
                for other in peers[2:]:
                    total += other[c]
                mine[...] = total
            for other in peers:
                if other is not bucket.buffer:
                    other[c] = mine
            self.window.Sync()
            bucket.request = bucket.comm.Ibarrier()
            bucket.stage = 2
        if bucket.stage == 2 and (block and _wait(bucket.request) or bucket.request.Test()):
            self.window.Sync()
            bucket.stage = 3
        return bucket.stage == 3


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, ...)``: data-parallel training over the ranks of a process group.

    At construction rank 0's parameters and buffers are broadcast to every rank (and their shapes checked to
    agree). In each training step ``ddp(x)`` runs ``module(x)`` and the following ``loss.backward()`` leaves
    in every parameter's ``.grad`` the mean of the ranks' gradients.

    Args:
        module: the module to replicate; registered as ``self.module`` (state-dict keys get the ``module.``
            prefix, as in PyTorch).
        device_ids, output_device, dim: accepted for compatibility (CPU tensors only).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm statistics) before each forward. Default True.
        init_sync: broadcast rank 0's parameters and buffers at construction. Default True.
        process_group: the group to average over (default: the default group).
        bucket_cap_mb: a bucket's size in MB (default 25; the first is 1 MB).
        find_unused_parameters: allow parameters that get no gradient in a step (their gradient is the mean
            over the ranks that used them, zeros elsewhere; unused everywhere: ``.grad`` stays as it was).
            Without it such a parameter raises PyTorch's error.
        gradient_as_bucket_view: after each synchronised backward every ``.grad`` is a view into its bucket's
            buffer (PyTorch's option): no copy out of the buckets, and a backward that accumulates into an
            existing ``.grad`` (``zero_grad(set_to_none=False)``) needs no copy in either. As in PyTorch the
            next synchronised backward overwrites that memory: keep a copy of a ``.grad`` you want to keep.
        The other arguments of PyTorch's signature (static_graph, mixed_precision ...) are accepted and change
        nothing here.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False, bucket_cap_mb_list=None, batched_grad_copy=False,
                 forward_sync_buffers=None):
        super().__init__()
        from ...distributed.process_group import _group
        group = _group(process_group, "DistributedDataParallel")
        self.module = module
        self.process_group = group
        self.broadcast_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((_DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._verify_shapes()
        if init_sync:
            self._sync_module_states()
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self._buckets = _buckets(self._params, min(_DEFAULT_FIRST_BUCKET_BYTES, self.bucket_bytes_cap),
                                 self.bucket_bytes_cap)
        self._bucket_of = {i: b for b in self._buckets for i in b.indices}
        self._shared_memory = _SharedMemory.create(group, self._buckets)
        self._syncing = False        # a forward with gradient sync ran; its backward has not ended yet
        self._queued = False
        self._in_flight = []         # the buckets launched in this backward
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                              for i, p in enumerate(self._params)]

    # ------------------------------------------------------------------ construction
    def _verify_shapes(self):
        """Every rank must hold the same parameters: compare the (name, shape, dtype) lists with rank 0's."""
        mine = [(n, tuple(p.shape), str(p._data.dtype)) for n, p in self.module.named_parameters()]
        everyone = self.process_group.comm.allgather(mine)
        for r, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next(((a, b) for a, b in zip(everyone[0], theirs) if a != b), (len(everyone[0]), len(theirs)))
                raise RuntimeError(f"DistributedDataParallel: rank {self.process_group.ranks[r]}'s module differs from "
                                   f"rank {self.process_group.ranks[0]}'s: {diff[1]} vs {diff[0]} (every rank must "
                                   "build the same model)")

    def _broadcast_arrays(self, arrays):
        """Rank 0's values into ``arrays`` (in place), one MPI broadcast per dtype."""
        by_dtype = {}
        for a in arrays:
            by_dtype.setdefault(a.dtype, []).append(a)
        for group in by_dtype.values():
            flat = np.concatenate([a.reshape(-1) for a in group])
            self.process_group.comm.Bcast(flat, 0)
            offset = 0
            for a in group:
                a[...] = flat[offset:offset + a.size].reshape(a.shape)
                offset += a.size

    def _sync_module_states(self):
        self._broadcast_arrays([p._data for p in self.module.parameters()] +
                               [b._data for b in self.module.buffers()])

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        from ...autograd.grad_mode import is_grad_enabled
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = [b._data for b in self.module.buffers()]
            if buffers:
                self._broadcast_arrays(buffers)
        self._syncing = is_grad_enabled() and self.require_backward_grad_sync
        if self._syncing:
            for b in self._buckets:
                b.reset()
            self._queued = False
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Forwards (and their backwards) inside keep their gradients local: accumulate several micro-batches,
        then the first backward outside averages the accumulated ``.grad``."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ------------------------------------------------------------------ backward: buckets
    def _make_hook(self, index):
        def hook(param):
            if self._syncing:
                self._grad_ready(index)
        return hook

    def _grad_ready(self, index):
        from ...autograd.engine import queue_callback
        if not self._queued:
            queue_callback(self._finish_reduction)
            self._queued = True
        bucket = self._bucket_of[index]
        world = self.process_group.size()
        if index not in bucket.pending:         # a parameter used twice got more gradient after the first
            bucket.shared = True
            k = bucket.position[index]
            if bucket.params[k].grad._data is bucket.views[k]:
                raise RuntimeError(_SHARED_VIEW_MESSAGE.format(index=index))
            if bucket.request is not None:      # its bucket's all-reduce has started: redo it at the end
                bucket.dirty = True
            elif world > 1:
                bucket.fill(k, world)           # .grad holds both parts: copy it again
            return
        bucket.pending.discard(index)
        if world == 1:
            return                              # the mean over one rank is the gradient itself
        bucket.fill(bucket.position[index], world)
        if self._in_flight:
            # NOTE: MPICH advances non-blocking collectives only inside MPI calls: a test per gradient lets
            # the buckets in flight progress while backward computes the next layers
            if self._shared_memory is not None:
                for b in self._in_flight:
                    self._shared_memory.advance(b)
            else:
                self._mpi.Request.Testall([b.request for b in self._in_flight])
        if not bucket.pending:
            self._launch(bucket)

    def _launch(self, bucket):
        if self._shared_memory is not None:
            self._shared_memory.start(bucket)
        else:
            MPI = self._mpi
            bucket.request = self.process_group.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, MPI.SUM)
        self._in_flight.append(bucket)

    @property
    def _mpi(self):
        from ...distributed._mpi import mpi
        return mpi()

    def _finish_reduction(self):
        """End of backward: wait for every bucket, reduce those that never launched, write the means back."""
        MPI = self._mpi
        self._syncing = False
        self._in_flight = []
        comm, world = self.process_group.comm, self.process_group.size()
        for bucket in self._buckets:
            if bucket.request is not None:
                if self._shared_memory is not None:
                    self._shared_memory.advance(bucket, block=True)
                else:
                    _wait(bucket.request)
                if not bucket.dirty:
                    self._write_back(bucket, None)
                    continue
            if bucket.pending and not self.find_unused_parameters:
                raise RuntimeError(_UNUSED_MESSAGE.format(rank=self.process_group.rank(),
                                                          indices=sorted(bucket.pending)))
            if world == 1:
                continue                         # every .grad already is its mean; unused ones stay as they are
            # unused parameters (or a gradient that grew after launch): reduce now, with a used-mask
            used = np.array([0 if i in bucket.pending else 1 for i in bucket.indices], np.int64)
            for k in range(len(bucket.params)):
                if bucket.dirty or bucket.indices[k] in bucket.pending:
                    bucket.fill(k, world)
            comm.Allreduce(MPI.IN_PLACE, bucket.buffer, MPI.SUM)
            comm.Allreduce(MPI.IN_PLACE, used, MPI.SUM)
            self._write_back(bucket, used)

    def _write_back(self, bucket, used):
        from ...tensor import _wrap
        as_view = self.gradient_as_bucket_view
        for k, (p, view) in enumerate(zip(bucket.params, bucket.views)):
            if used is not None and used[k] == 0:
                continue                         # no rank computed a gradient for it: leave .grad as it is
            grad = p.grad
            if grad is not None and grad._data is view:
                continue                         # the all-reduce wrote it in place
            if as_view and not bucket.shared:
                p.grad = _wrap(view)
            elif grad is None:
                p.grad = _wrap(view.copy())
            else:
                np.copyto(grad._data, view)
