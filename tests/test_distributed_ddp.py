"""DistributedDataParallel on 2 MPI ranks equals single-process training on the concatenated batches
(tests/distributed_scripts/ddp_suite.py runs the checks on the ranks; each is reported here)."""
import json
import os

import pytest

from mpi_ranks import SCRIPTS, mpiexec, require_mpi

CHECKS = ["mlp_sgd_matches_single_process", "mlp_adam_matches_single_process", "cnn_sgd_matches_single_process",
          "small_buckets_match_single_process", "gradient_as_bucket_view_matches_single_process",
          "a_parameter_used_twice_matches_single_process", "a_group_of_one_rank_leaves_the_local_gradients",
          "buckets_in_shared_memory_on_one_machine",
          "no_sync_accumulation_equals_one_big_step",
          "find_unused_parameters", "unused_parameters_without_the_flag_raise", "module_and_state_dict",
          "buffers_broadcast_from_rank_0", "different_models_raise_naming_ranks"]


@pytest.fixture(scope="module", params=[(2, "1"), (3, "1"), (2, "0")],
                ids=["2ranks", "3ranks", "2ranks-mpi-allreduce"])
def outcomes(request, tmp_path_factory):
    """On 2 ranks, 3 (the shared-memory reduction's general sum, chunks of unequal sizes) and 2 with the
    buckets reduced by MPI's all-reduce (DEEPDIVE_DDP_SHARED_MEMORY=0: what ranks on several machines do)."""
    require_mpi()
    nprocs, shared_memory = request.param
    path = tmp_path_factory.mktemp("ddp") / "results.json"
    rc, out, err = mpiexec(os.path.join(SCRIPTS, "ddp_suite.py"), nprocs, [path],
                           DEEPDIVE_DDP_SHARED_MEMORY=shared_memory)
    assert rc == 0, f"the ranks failed (rc={rc})\n{out}\n{err}"
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("name", CHECKS)
def test_ddp(outcomes, name):
    assert name in outcomes, f"check {name} did not run"
    assert outcomes[name] is None, outcomes[name]


def test_every_check_is_reported(outcomes):
    assert set(outcomes) == set(CHECKS)


def test_ddp_needs_a_process_group_with_pytorchs_message():
    import deepdive
    from deepdive.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(deepdive.nn.Linear(2, 2))
