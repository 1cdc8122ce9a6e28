"""``deepdive-run`` (``python -m deepdive.distributed.run``): torchrun's command line, starting the ranks
as one MPI world.

    deepdive-run --nproc-per-node 2 train.py --epochs 3           # one machine, 2 ranks
    deepdive-run --nnodes 2 --nproc-per-node 4 --hostfile hosts train.py   # 2 machines, from one of them

Each rank gets torchrun's environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``GROUP_RANK``, ``MASTER_ADDR``, ``MASTER_PORT`` ...). Unlike torchrun, one launcher starts every machine
(MPI's way): several nodes need ``--hostfile`` (a file naming the machines, one per line), and flags of
torchrun's rendezvous (``--rdzv-*``, ``--node-rank``, ``--max-restarts`` ...) are accepted and ignored.
As torchrun does, ``OMP_NUM_THREADS=1`` is set unless given, so the ranks do not fight over cores.
"""
import argparse
import os
import sys

from .launch import MPIWorld, mpiexec_command, worker_command


def _nproc(value):
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nproc-per-node must be an integer, 'auto' or 'cpu', got {value!r}")
    if n < 1:
        raise argparse.ArgumentTypeError(f"--nproc-per-node must be >= 1, got {n}")
    return n


def _nnodes(value):
    # torchrun accepts a range "MIN:MAX" for elastic jobs; MPI's world is fixed, so the maximum is used
    return int(str(value).split(":")[-1])


def parser():
    p = argparse.ArgumentParser(prog="deepdive-run", allow_abbrev=False,
                                description="Start a training script on N ranks of one MPI world, with "
                                            "torchrun's flags and environment variables.")
    p.add_argument("--nnodes", type=_nnodes, default=1, help="number of machines (default 1)")
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc_per_node", type=_nproc, default=1,
                   help="ranks per machine: an integer, 'auto' or 'cpu' (default 1)")
    p.add_argument("--hostfile", "--host-file", dest="hostfile", default=None,
                   help="MPI host file naming the machines (needed with --nnodes > 1)")
    p.add_argument("--standalone", action="store_true", help="single machine (the default here)")
    p.add_argument("--master-addr", "--master_addr", dest="master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", dest="master_port", default="29500")
    p.add_argument("-m", "--module", action="store_true", help="run the script as a module, like python -m")
    p.add_argument("--no-python", "--no_python", dest="no_python", action="store_true",
                   help="not supported: the ranks must run Python (deepdive)")
    for ignored in ("--node-rank", "--node_rank", "--rdzv-backend", "--rdzv_backend", "--rdzv-endpoint",
                    "--rdzv_endpoint", "--rdzv-id", "--rdzv_id", "--rdzv-conf", "--rdzv_conf",
                    "--max-restarts", "--max_restarts", "--monitor-interval", "--monitor_interval",
                    "--start-method", "--start_method", "--role", "--log-dir", "--log_dir", "--redirects",
                    "-r", "--tee", "-t", "--local-addr", "--local_addr", "--run-path", "--run_path"):
        p.add_argument(ignored, dest="ignored_" + ignored.lstrip("-").replace("-", "_"), default=None,
                       help=argparse.SUPPRESS)
    p.add_argument("training_script", help="the script (or module with -m) every rank runs")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def main(argv=None):
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.no_python:
        raise SystemExit("deepdive-run: --no-python is not supported (every rank runs a Python script)")
    if args.nnodes > 1 and args.hostfile is None:
        raise SystemExit("deepdive-run: --nnodes > 1 needs --hostfile FILE (the machines, one per line): MPI "
                         "starts every node from this one launcher, so run it once, not on each node")
    world_size = args.nnodes * args.nproc_per_node
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MASTER_ADDR"], env["MASTER_PORT"] = str(args.master_addr), str(args.master_port)
    script = (["-m"] if args.module else []) + [args.training_script, *args.training_script_args]
    command = mpiexec_command(world_size, args.hostfile, args.nproc_per_node if args.hostfile else None)
    failure = MPIWorld(command + worker_command("script", *script), env).wait()
    if failure is None:
        return 0
    if failure.traceback is not None:
        sys.stderr.write("\n" + "=" * 60 + f"\ndeepdive-run: {args.training_script} FAILED\nRoot cause (first "
                         f"observed failure): rank {failure.rank} (of {world_size})\n" + failure.traceback
                         + "=" * 60 + "\n")
    else:
        sys.stderr.write(f"deepdive-run: {args.training_script} FAILED: mpiexec exited with code "
                         f"{failure.returncode}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
