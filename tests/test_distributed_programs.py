"""PyTorch's DDP tutorial programs, only their imports swapped, on MPI: mp.spawn with init_process_group("gloo")
and a torchrun-style trainer started by deepdive-run that saves a snapshot on rank 0 and resumes from it.
Also: a failing rank ends every rank (no hang) and its traceback is reported."""
import os
import sys

import pytest

from mpi_ranks import SCRIPTS, launcher, require_mpi, run
from program_swap import swap_imports


def swapped(name, tmp_path):
    with open(os.path.join(SCRIPTS, name)) as f:
        code = swap_imports(f.read())
    assert "import torch" not in code.replace("import deepdive as torch", "")
    path = tmp_path / name
    path.write_text(code)
    return path


def test_spawn_tutorial_runs_unchanged(tmp_path):
    require_mpi()
    rc, out, err = run([sys.executable, str(swapped("tutorial_spawn_ddp.py", tmp_path)), "2"], cwd=tmp_path)
    assert rc == 0, out + err
    assert out.count("main block runs once") == 1          # the ranks import the script as __mp_main__
    for rank in (0, 1):
        assert f"Finished running basic DDP example on rank {rank}." in out
        assert f"Finished running DDP checkpoint example on rank {rank}." in out
    sums = {line.split()[-1] for line in out.splitlines() if "parameter sum" in line}
    assert len(sums) == 1, out                              # the replicas agree after a step


def test_torchrun_trainer_saves_a_snapshot_and_resumes(tmp_path):
    require_mpi()
    script = swapped("torchrun_trainer.py", tmp_path)
    rc, out, err = launcher(["--standalone", "--nproc_per_node=2", script, "2", "1"], cwd=tmp_path)
    assert rc == 0, out + err
    for rank in (0, 1):
        assert f"[GPU{rank}] Epoch 1 | Batchsize: 32 | Steps: 32" in out    # 2048 samples / 2 ranks / 32
    assert out.count("Training snapshot saved") == 2                        # epochs 0 and 1, on rank 0 only
    import deepdive
    snapshot = deepdive.load(str(tmp_path / "snapshot.pt"))
    assert snapshot["EPOCHS_RUN"] == 1 and set(snapshot["MODEL_STATE"]) == {"weight", "bias"}
    rc, out, err = launcher(["--nproc-per-node", "2", script, "3", "1"], cwd=tmp_path)
    assert rc == 0, out + err
    assert out.count("Resuming training from snapshot at Epoch 1") == 2
    assert "[GPU0] Epoch 0 " not in out and "[GPU1] Epoch 2 | Batchsize: 32 | Steps: 32" in out


FAILING = """
import sys
import deepdive as torch
import deepdive.distributed as dist
dist.init_process_group("gloo")
if dist.get_rank() == 1:
    raise ValueError("rank 1 cannot go on")
dist.all_reduce(torch.zeros(3))        # rank 0 waits here for rank 1, which never comes
print("rank 0 got past the collective")
"""


def test_a_failing_rank_ends_all_ranks_and_the_launcher_prints_its_traceback(tmp_path):
    require_mpi()
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    rc, out, err = launcher(["--nproc-per-node", "2", script], timeout=30)
    assert rc != 0
    assert "got past" not in out
    assert "Root cause (first observed failure): rank 1 (of 2)" in err
    assert 'raise ValueError("rank 1 cannot go on")' in err and "ValueError: rank 1 cannot go on" in err


SPAWN_FAILING = """
import deepdive as torch
import deepdive.distributed as dist
import deepdive.multiprocessing as mp

def work(rank, world_size):
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    if rank == 0:
        raise KeyError("no key on rank 0")
    dist.barrier()

if __name__ == "__main__":
    try:
        mp.spawn(work, args=(2,), nprocs=2)
    except mp.ProcessRaisedException as e:
        print("CAUGHT", e.error_index, str(e))
"""


def test_spawn_raises_the_failing_process_traceback(tmp_path):
    require_mpi()
    script = tmp_path / "spawn_failing.py"
    script.write_text(SPAWN_FAILING)
    rc, out, err = run([sys.executable, str(script)], timeout=30)
    assert rc == 0, out + err
    assert "CAUGHT 0" in out and "Process 0 terminated with the following error" in out
    assert "KeyError: 'no key on rank 0'" in out


def test_launcher_flags():
    from deepdive.distributed.run import parser
    args = parser().parse_args(["--nnodes", "1", "--nproc_per_node=4", "--standalone", "--rdzv-backend", "c10d",
                                "train.py", "--lr", "0.1"])
    assert (args.nnodes, args.nproc_per_node, args.training_script, args.training_script_args) == \
        (1, 4, "train.py", ["--lr", "0.1"])
    args = parser().parse_args(["--nnodes=1:2", "--nproc-per-node", "2", "-m", "pkg.train"])
    assert (args.nnodes, args.module, args.training_script) == (2, True, "pkg.train")
    from deepdive.distributed.run import main
    with pytest.raises(SystemExit, match="--hostfile"):
        main(["--nnodes", "2", "--nproc-per-node", "2", "train.py"])


def test_under_plain_mpiexec_an_uncaught_exception_ends_every_rank(tmp_path):
    """Without the launcher too (``mpiexec -n 2 python script.py``): init_process_group makes an uncaught
    exception abort the world, so rank 0 does not wait forever in its all_reduce."""
    require_mpi()
    from mpi_ranks import mpiexec
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    rc, out, err = mpiexec(str(script), 2, timeout=30)
    assert rc != 0 and "got past" not in out
    assert "ValueError: rank 1 cannot go on" in err and "aborting every rank" in err


ENV_SCRIPT = """
import os, sys
import deepdive.distributed as dist
keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
        "OMP_NUM_THREADS"]
dist.init_process_group("gloo")
print("ENV", dist.get_rank(), " ".join(os.environ[k] for k in keys), dist.is_torchelastic_launched(), sys.argv[1:])
"""


def test_launcher_sets_torchruns_environment_and_runs_modules(tmp_path):
    require_mpi()
    (tmp_path / "envcheck.py").write_text(ENV_SCRIPT)
    rc, out, err = launcher(["--nproc-per-node", "2", "--master-port", "29123", "-m", "envcheck", "--flag", "x"],
                            cwd=tmp_path, OMP_NUM_THREADS=None)
    assert rc == 0, out + err
    lines = sorted(line for line in out.splitlines() if line.startswith("ENV"))
    assert lines == [f"ENV {r} {r} {r} 2 2 0 127.0.0.1 29123 1 True ['--flag', 'x']" for r in (0, 1)], out
