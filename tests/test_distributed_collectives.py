"""deepdive.distributed's collectives against their definitions, on 3 MPI ranks (tests/distributed_scripts/
collectives_suite.py runs every check on every rank; this file reports them one by one)."""
import json
import os
import sys

import pytest

import deepdive
import deepdive.distributed as dist
from mpi_ranks import SCRIPTS, mpiexec, require_mpi, run

NPROCS = (2, 3)        # 2: the checked collectives' one-message path (process_group._Pair); 3: the general one
COLLECTIVES = ["all_reduce_SUM", "all_reduce_PRODUCT", "all_reduce_MIN", "all_reduce_MAX", "all_reduce_AVG",
               "all_reduce_async_SUM", "all_reduce_async_AVG", "all_reduce_async_MAX", "broadcast", "reduce",
               "all_gather", "all_gather_into_tensor", "gather", "scatter", "reduce_scatter",
               "reduce_scatter_tensor", "all_to_all", "send_recv", "isend_irecv", "all_to_all_single",
               "in_place_non_contiguous", "barrier", "objects", "groups", "mismatched_shapes", "mismatched_dtypes",
               "avg_of_integers_raises", "unchecked_all_reduce", "mismatch_across_the_payload_size",
               "mismatched_collectives", "mismatched_ops", "collectives_after_a_mismatch"]


@pytest.fixture(scope="module", params=NPROCS, ids=lambda n: f"{n}ranks")
def outcomes(request, tmp_path_factory):
    require_mpi()
    path = tmp_path_factory.mktemp("collectives") / "results.json"
    rc, out, err = mpiexec(os.path.join(SCRIPTS, "collectives_suite.py"), request.param, [path])
    assert rc == 0, f"the ranks failed (rc={rc})\n{out}\n{err}"
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("name", COLLECTIVES)
def test_collective_matches_its_definition(outcomes, name):
    """float32/float64/int64, 0-d, small and 256K-element tensors, blocking and async, for each collective."""
    cases = {k: v for k, v in outcomes.items() if k == name or k.startswith(name + "[")}
    assert cases, f"no check named {name} ran"
    failed = {k: v for k, v in cases.items() if v is not None}
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())
    if name.startswith("all_reduce") and name != "all_reduce_AVG" and "async" not in name:
        assert {f"{name}[{d}-{s}]" for d in ("float32", "float64", "int64")
                for s in ("0d", "small", "large")} <= set(cases)


def test_every_check_is_reported(outcomes):
    reported = {k.split("[")[0] for k in outcomes}
    assert reported == set(COLLECTIVES) | {"all_reduce_async_PRODUCT", "all_reduce_async_MIN"}


def test_without_a_process_group_the_errors_are_pytorchs():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.all_reduce(deepdive.zeros(2))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("carrier-pigeon")
    assert dist.ReduceOp.SUM != dist.ReduceOp.AVG


def test_missing_mpi_says_which_extra_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "mpi4py", None)          # import mpi4py now raises ImportError
    from deepdive.distributed import _mpi
    monkeypatch.setattr(_mpi, "_MPI", [])                      # as in a process that never imported it
    assert _mpi.is_available() is False and dist.is_available() is False
    with pytest.raises(ImportError, match=r"install deepdive\[distributed\]"):
        dist.init_process_group("gloo")


def test_a_world_size_that_disagrees_with_mpi_raises():
    """A script started without a launcher but told WORLD_SIZE=2 is a launch mistake: say how to launch it.
    (In a subprocess: MPI is never initialised inside pytest's own process.)"""
    require_mpi()
    code = ("import deepdive.distributed as dist\n"
            "try:\n    dist.init_process_group('gloo')\n"
            "except RuntimeError as e:\n    print('RAISED', e)\n"
            "print('initialized', dist.is_initialized())\n")
    rc, out, err = run([sys.executable, "-c", code], WORLD_SIZE=2)
    assert rc == 0, err
    assert "RAISED init_process_group: WORLD_SIZE=2 but the MPI world has 1 process(es)" in out
    assert "deepdive-run --nproc-per-node 2" in out and "initialized False" in out
