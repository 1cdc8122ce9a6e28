"""Every collective against its definition, run on each rank (by tests/test_distributed_collectives.py).

Rank r's input is value(r, shape, dtype), so each rank can compute what every collective must give from
the definition alone. Results (None = passed, else the traceback) are gathered and written by rank 0.
"""
import json
import sys
import traceback

import numpy as np

import deepdive as torch
import deepdive.distributed as dist

dist.init_process_group("gloo")
R, W = dist.get_rank(), dist.get_world_size()
results = {}
DTYPES = {"float32": (torch.float32, np.float32), "float64": (torch.float64, np.float64),
          "int64": (torch.int64, np.int64)}
# large: 256 Ki elements (1-2 MB); mid: 16 Ki (64 KB in float32: the most a 2-rank all-reduce sends with its header)
SHAPES = {"0d": (), "small": (3, 4), "mid": (1 << 14,), "large": (1 << 18,)}


def value(rank, shape, np_dtype):
    n = int(np.prod(shape))
    return ((np.arange(n) % 7) + 3 * rank + 1).reshape(shape).astype(np_dtype)


def tensor(rank, shape, np_dtype):
    return torch.tensor(value(rank, shape, np_dtype))


def equal(actual, expected, np_dtype):
    a = actual.numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    assert a.dtype == np.dtype(np_dtype), f"dtype {a.dtype} != {np.dtype(np_dtype)}"
    assert a.shape == np.shape(expected), f"shape {a.shape} != {np.shape(expected)}"
    np.testing.assert_allclose(a, expected, rtol=1e-6 if a.dtype == np.float32 else 1e-12)


def check(name):
    def run(fn):
        try:
            fn()
            results[name] = None
        except Exception:
            results[name] = f"rank {R}: " + traceback.format_exc()
    return run


REDUCE = {"SUM": lambda xs: np.sum(xs, 0), "PRODUCT": lambda xs: np.prod(xs, 0), "MIN": lambda xs: np.min(xs, 0),
          "MAX": lambda xs: np.max(xs, 0), "AVG": lambda xs: np.mean(xs, 0)}

for dname, (tdt, ndt) in DTYPES.items():
    for sname, shape in SHAPES.items():
        case = f"[{dname}-{sname}]"
        everyone = np.stack([value(r, shape, ndt) for r in range(W)])

        for opname, definition in REDUCE.items():
            if opname == "AVG" and dname == "int64":
                continue
            op = getattr(dist.ReduceOp, opname)
            expected = definition(everyone).astype(ndt)

            @check(f"all_reduce_{opname}{case}")
            def _():
                t = tensor(R, shape, ndt)
                assert dist.all_reduce(t, op=op) is None
                equal(t, expected, ndt)

            @check(f"all_reduce_async_{opname}{case}")
            def _():
                t = tensor(R, shape, ndt)
                work = dist.all_reduce(t, op=op, async_op=True)
                assert work.wait() is True and work.is_completed()
                equal(t, expected, ndt)

        @check(f"broadcast{case}")
        def _():
            t = tensor(R, shape, ndt)
            dist.broadcast(t, src=W - 1)
            equal(t, value(W - 1, shape, ndt), ndt)
            t = tensor(R, shape, ndt)
            dist.broadcast(t, src=0, async_op=True).wait()
            equal(t, value(0, shape, ndt), ndt)

        @check(f"reduce{case}")
        def _():
            t = tensor(R, shape, ndt)
            dist.reduce(t, dst=1, op=dist.ReduceOp.SUM)
            equal(t, everyone.sum(0).astype(ndt) if R == 1 else value(R, shape, ndt), ndt)

        @check(f"all_gather{case}")
        def _():
            out = [torch.zeros(shape, dtype=tdt) for _ in range(W)]
            dist.all_gather(out, tensor(R, shape, ndt))
            for r in range(W):
                equal(out[r], value(r, shape, ndt), ndt)
            out = [torch.zeros(shape, dtype=tdt) for _ in range(W)]
            dist.all_gather(out, tensor(R, shape, ndt), async_op=True).wait()
            equal(out[W - 1], value(W - 1, shape, ndt), ndt)

        if sname == "large":
            continue

        @check(f"all_gather_into_tensor{case}")
        def _():
            stacked = torch.zeros((W,) + shape, dtype=tdt)
            dist.all_gather_into_tensor(stacked, tensor(R, shape, ndt))
            equal(stacked, everyone, ndt)
            if shape:
                cat = torch.zeros((W * shape[0],) + shape[1:], dtype=tdt)
                dist.all_gather_into_tensor(cat, tensor(R, shape, ndt), async_op=True).wait()
                equal(cat, np.concatenate(list(everyone)), ndt)

        @check(f"gather{case}")
        def _():
            out = [torch.zeros(shape, dtype=tdt) for _ in range(W)] if R == 0 else None
            dist.gather(tensor(R, shape, ndt), out, dst=0)
            if R == 0:
                for r in range(W):
                    equal(out[r], value(r, shape, ndt), ndt)

        @check(f"scatter{case}")
        def _():
            src = W - 1
            pieces = [tensor(10 + r, shape, ndt) for r in range(W)] if R == src else None
            t = torch.zeros(shape, dtype=tdt)
            dist.scatter(t, pieces, src=src)
            equal(t, value(10 + R, shape, ndt), ndt)

        @check(f"reduce_scatter{case}")
        def _():
            # rank r's input_list[i] = value(r + 5 * i); output on rank i = sum_r value(r + 5 * i)
            inputs = [tensor(R + 5 * i, shape, ndt) for i in range(W)]
            t = torch.zeros(shape, dtype=tdt)
            dist.reduce_scatter(t, inputs, op=dist.ReduceOp.SUM)
            equal(t, sum(value(r + 5 * R, shape, ndt) for r in range(W)), ndt)

        @check(f"reduce_scatter_tensor{case}")
        def _():
            big = torch.tensor(np.stack([value(R + 5 * i, shape, ndt) for i in range(W)]))
            t = torch.zeros(shape, dtype=tdt)
            dist.reduce_scatter_tensor(t, big, op=dist.ReduceOp.MAX, async_op=True).wait()
            equal(t, np.max([value(r + 5 * R, shape, ndt) for r in range(W)], 0), ndt)

        @check(f"all_to_all{case}")
        def _():
            # rank r sends value(100 r + j) to rank j; rank j's output[i] = value(100 i + j)
            inputs = [tensor(100 * R + j, shape, ndt) for j in range(W)]
            outputs = [torch.zeros(shape, dtype=tdt) for _ in range(W)]
            dist.all_to_all(outputs, inputs)
            for i in range(W):
                equal(outputs[i], value(100 * i + R, shape, ndt), ndt)

        @check(f"send_recv{case}")
        def _():
            nxt, prev = (R + 1) % W, (R - 1) % W
            t = torch.zeros(shape, dtype=tdt)
            if R % 2 == 0:
                dist.send(tensor(R, shape, ndt), dst=nxt)
                assert dist.recv(t, src=prev) == prev
            else:
                assert dist.recv(t) == prev          # from any rank: returns the sender
                dist.send(tensor(R, shape, ndt), dst=nxt)
            equal(t, value(prev, shape, ndt), ndt)

        @check(f"isend_irecv{case}")
        def _():
            nxt, prev = (R + 1) % W, (R - 1) % W
            t = torch.zeros(shape, dtype=tdt)
            works = [dist.isend(tensor(R, shape, ndt), dst=nxt), dist.irecv(t, src=prev)]
            for w in works:
                w.wait()
                assert w.is_completed()
            equal(t, value(prev, shape, ndt), ndt)


@check("all_to_all_single")
def _():
    inp = torch.tensor(np.arange(W * 2, dtype=np.float32) + 100 * R)      # 2 rows per destination
    out = torch.zeros(W * 2)
    dist.all_to_all_single(out, inp)
    expected = np.concatenate([np.arange(2 * R, 2 * R + 2, dtype=np.float32) + 100 * i for i in range(W)])
    equal(out, expected, np.float32)


@check("in_place_non_contiguous")
def _():
    base = torch.tensor(value(R, (3, 4), np.float32))
    view = base.t()                       # a transposed view: not C-contiguous
    dist.all_reduce(view)
    expected = np.sum([value(r, (3, 4), np.float32) for r in range(W)], 0)
    equal(view, expected.T, np.float32)
    equal(base, expected, np.float32)     # in place: the base tensor sees it, as in PyTorch


@check("barrier")
def _():
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()


@check("objects")
def _():
    got = [None] * W
    dist.all_gather_object(got, {"rank": R, "name": f"r{R}"})
    assert got == [{"rank": r, "name": f"r{r}"} for r in range(W)], got
    objs = ["from rank 1", 12, {"lr": 0.1}] if R == 1 else [None, None, None]
    dist.broadcast_object_list(objs, src=1)
    assert objs == ["from rank 1", 12, {"lr": 0.1}], objs


@check("groups")
def _():
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert dist.get_world_size() == W and dist.get_rank() == R
    ends = dist.new_group([0, W - 1])
    if R in (0, W - 1):
        assert dist.get_rank(ends) == (0 if R == 0 else 1) and dist.get_world_size(ends) == 2
        t = torch.tensor([float(R)])
        dist.all_reduce(t, group=ends)
        equal(t, np.array([float(W - 1)], np.float32), np.float32)
        t = torch.tensor([float(R)])
        dist.broadcast(t, src=W - 1, group=ends)          # src is a global rank
        equal(t, np.array([float(W - 1)], np.float32), np.float32)
    else:
        assert dist.get_rank(ends) == -1
    dist.destroy_process_group(ends)


@check("mismatched_shapes")
def _():
    try:
        dist.all_reduce(torch.zeros(2, R + 1))
    except RuntimeError as e:
        message = str(e)
        for r in range(W):
            assert f"rank {r}: all_reduce(sum) with (2, {r + 1}) float32" in message, message
    else:
        raise AssertionError("all_reduce on mismatched shapes did not raise")


@check("mismatched_dtypes")
def _():
    try:
        dist.broadcast(torch.zeros(3, dtype=torch.float64 if R else torch.float32), src=0)
    except RuntimeError as e:
        assert "float64" in str(e) and "float32" in str(e) and "rank 1" in str(e), str(e)
    else:
        raise AssertionError("broadcast on mismatched dtypes did not raise")


@check("mismatch_across_the_payload_size")
def _():
    # on 2 ranks rank 0's tensor would travel with the check's header and rank 1's not: both still raise
    n = 4 if R == 0 else 1 << 15
    try:
        dist.all_reduce(torch.zeros(n))
    except RuntimeError as e:
        assert "rank 0: all_reduce(sum) with (4,) float32" in str(e), str(e)
        assert "rank 1: all_reduce(sum) with (32768,) float32" in str(e), str(e)
    else:
        raise AssertionError("all_reduce on mismatched sizes did not raise")


@check("mismatched_collectives")
def _():
    for size in (3, 1 << 15):
        try:
            if R == 0:
                dist.all_reduce(torch.zeros(size))
            else:
                dist.broadcast(torch.zeros(size), src=0)
        except RuntimeError as e:
            assert f"rank 0: all_reduce(sum) with ({size},) float32" in str(e), str(e)
            assert f"rank 1: broadcast(src=0) with ({size},) float32" in str(e), str(e)
        else:
            raise AssertionError("all_reduce against broadcast did not raise")


@check("mismatched_ops")
def _():
    try:
        dist.all_reduce(torch.zeros(3), op=dist.ReduceOp.MAX if R == 1 else dist.ReduceOp.SUM)
    except RuntimeError as e:
        assert "rank 1: all_reduce(max) with (3,) float32" in str(e) and "all_reduce(sum)" in str(e), str(e)
    else:
        raise AssertionError("all_reduce with different ops did not raise")


@check("collectives_after_a_mismatch")
def _():
    # a mismatch leaves nothing behind: the next collectives match their definitions
    try:
        dist.all_reduce(torch.zeros(R + 1))
    except RuntimeError:
        pass
    for shape in ((5,), (1 << 15,)):
        t = tensor(R, shape, np.float32)
        dist.all_reduce(t)
        equal(t, np.sum([value(r, shape, np.float32) for r in range(W)], 0), np.float32)


@check("unchecked_all_reduce")
def _():
    from deepdive.distributed import collectives
    collectives.CHECK_ARGUMENTS = False          # DEEPDIVE_DISTRIBUTED_CHECKS=0: no agreement probe
    try:
        t = tensor(R, (5,), np.float64)
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        equal(t, np.mean([value(r, (5,), np.float64) for r in range(W)], 0), np.float64)
    finally:
        collectives.CHECK_ARGUMENTS = True


@check("avg_of_integers_raises")
def _():
    try:
        dist.all_reduce(torch.zeros(3, dtype=torch.int64), op=dist.ReduceOp.AVG)
    except RuntimeError as e:
        assert "AVG" in str(e) and "int64" in str(e)
    else:
        raise AssertionError("AVG on int64 did not raise")


everything = dist.get_world_size() and [None] * W
dist.all_gather_object(everything, results)
if R == 0:
    merged = {}
    for per_rank in everything:
        for name, outcome in per_rank.items():
            merged[name] = merged.get(name) or outcome
    with open(sys.argv[1], "w") as f:
        json.dump(merged, f)
dist.destroy_process_group()
