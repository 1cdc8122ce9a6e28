"""Data-parallel training on MPI: steps/s at 1 and 2 ranks against 2 independent processes, and all-reduce
time against raw mpi4py.

    python benchmarks/bench_distributed.py [--seconds 1] [--rounds 3] [--ranks 2] [--max-mb 64] [--bucket-view]
                                           [--only train|allreduce]

(a) DDP training, weak scaling (each rank a fixed batch of 128, so 2 ranks process twice the samples per
    step): the 784-256-256-10 MLP (CrossEntropyLoss, SGD momentum 0.9) and LeNet-5 on 1x28x28 inputs.
    One thread per rank (OMP/OPENBLAS_NUM_THREADS=1). In one launch of 2 ranks, round by round: "1 rank"
    (rank 0 alone, the others asleep), "2 independent" (both train, no communication: the ceiling that two
    processes sharing this machine's cores, caches and memory bandwidth can reach) and "2 ranks" (DDP).
    Speed-up = samples/s over the 1-rank figure; efficiency = speed-up / ranks; the goal is >= 1.8x at
    2 ranks on the MLP. Also the 20th percentile of single steps' times and the CPU time per step: on a
    machine shared with other work a rank is often descheduled, and at 2 ranks that stalls both (they meet
    every step), so those two say what the engine costs where wall-clock throughput cannot.
(b) deepdive.distributed.all_reduce (SUM, float32, in place) on 1 KB .. 64 MB against mpi4py's own
    comm.Allreduce(IN_PLACE) on the same buffers (the physical limit of this engine): best time per call
    (and the median) of many alternating calls, and the ratio. deepdive's call checks that every rank passes
    the same shape and dtype (on 2 ranks: one 8-byte header exchange that carries tensors up to 64 KB, which
    are then summed locally); the "unchecked" column turns it off (DEEPDIVE_DISTRIBUTED_CHECKS=0).

Every mode re-launches this file under mpiexec; rank 0 prints one JSON line that the parent reads.
A loaded machine (see the load average printed first) slows both ranks: treat the figures as indicative.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def lenet(nn):
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def rank_train(workload, seconds, rounds, bucket_view, batch=128):
    """Three phases, interleaved round by round in one launch of 2 ranks (so that the other work on a shared
    machine slows them alike): "1 rank" (rank 0 trains, DDP over a group of one; the other ranks sleep),
    "2 independent" (every rank trains its own DDP-over-one-rank replica: no communication, the physical
    ceiling of two processes sharing this machine's memory and caches) and "2 ranks" (DDP over all ranks)."""
    from mpi4py import MPI
    import deepdive as torch
    import deepdive.distributed as dist
    import deepdive.nn as nn
    from deepdive.distributed.process_group import ProcessGroup
    from deepdive.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("gloo")
    comm, rank, world = MPI.COMM_WORLD, dist.get_rank(), dist.get_world_size()
    alone = ProcessGroup(MPI.COMM_SELF, [rank], "gloo")
    shape = (batch, 784) if workload == "mlp" else (batch, 1, 28, 28)
    rng = np.random.default_rng(rank)
    x, y = torch.tensor(rng.standard_normal(shape).astype(np.float32)), torch.tensor(rng.integers(0, 10, batch))
    loss_fn = nn.CrossEntropyLoss()

    def trainer(group):
        torch.manual_seed(0)
        model = DDP(mlp(nn) if workload == "mlp" else lenet(nn), process_group=group,
                    gradient_as_bucket_view=bucket_view)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        return step
    steps = {"1 rank": trainer(alone), "2 independent": trainer(alone), "2 ranks": trainer(None)}
    for step in steps.values():
        for _ in range(3):
            step()
    # every rank runs the same number of steps: rank 0 decides it from a timed probe
    start = time.perf_counter()
    for _ in range(5):
        steps["1 rank"]()
    probe = [max(5, int(seconds / ((time.perf_counter() - start) / 5)))]
    dist.broadcast_object_list(probe, src=0)
    n = probe[0]
    rates = {name: [] for name in steps}
    step_times = {name: [] for name in steps}
    cpu_times = {name: [] for name in steps}      # this rank's CPU seconds per step, per round
    clock = time.perf_counter
    for _ in range(rounds):
        for name, step in steps.items():
            comm.Barrier()
            if name == "1 rank" and rank != 0:
                # NOTE: sleep, not MPI's spinning wait: the lone rank must have the machine to itself
                request = comm.Ibarrier()
                while not request.Test():
                    time.sleep(0.002)
                continue
            mine, cpu = step_times[name], time.thread_time()
            start = last = clock()
            for _ in range(n):
                step()
                now = clock()
                mine.append(now - last)
                last = now
            cpu_times[name].append((time.thread_time() - cpu) / n)
            if name == "2 ranks":
                comm.Barrier()      # the slower rank's time (they wait for each other every step anyway)
            elapsed = clock() - start
            if name == "1 rank":
                comm.Ibarrier().Wait()
            # samples per second of all ranks together
            rate = n * batch / elapsed if name != "2 ranks" else n * batch * world / elapsed
            if name == "2 independent":
                rate = comm.allreduce(rate)
            rates[name].append(rate)
    # NOTE: a quantile of the single steps' times as well: on a machine shared with other work many steps are
    # slowed by a rank being descheduled (and at 2 ranks that stalls both); the fast steps are what the engine
    # does when it is not. (Rank 0's steps; "2 independent" gathers both ranks'.)
    # and the CPU time per step (the median over rounds and ranks): time a rank spends descheduled is not in
    # it, time it spends working or spinning in a wait is
    quantiles, cpu = {}, {}
    for name, ts in step_times.items():
        if name == "2 independent":
            ts = sum(comm.allgather(ts), [])
        quantiles[name] = float(np.quantile(ts, 0.2)) if ts else None
        cpu[name] = float(np.median(sum(comm.allgather(cpu_times[name]), [])))
    if rank == 0:
        print(json.dumps({"samples_per_s": rates, "step_p20": quantiles, "cpu_per_step": cpu, "ranks": world,
                          "batch": batch, "steps": n}))


def rank_allreduce(max_mb, seconds):
    from mpi4py import MPI
    import deepdive as torch
    import deepdive.distributed as dist
    from deepdive.distributed import collectives
    dist.init_process_group("mpi")
    comm, rank = MPI.COMM_WORLD, dist.get_rank()
    rows, size = [], 1024
    while size <= max_mb * 2**20:
        t = torch.ones(size // 4)
        raw = t.numpy()                     # the same memory: both calls reduce the same buffer
        repeats = max(3, min(2000, int(0.06 * seconds * 2**30 / size)))
        timings = {"deepdive": [], "unchecked": [], "mpi4py": []}

        def unchecked():
            collectives.CHECK_ARGUMENTS = False
            dist.all_reduce(t)
            collectives.CHECK_ARGUMENTS = True
        calls = (("deepdive", lambda: dist.all_reduce(t)), ("unchecked", unchecked),
                 ("mpi4py", lambda: comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM)))
        # NOTE: the two calls alternate, so that the other engineers' load on this machine slows both alike
        for i in range(3 * repeats):
            name, call = calls[i % 3]
            comm.Barrier()                  # both start together: a call's time is not the ranks' skew
            start = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - start)
            if i % 64 == 63:
                raw[...] = 1.0              # keep the values finite
        # NOTE: the best (minimum) time of many calls: on a machine shared with other work a call is often
        # descheduled, and the minimum is what the engine does when it is not (as "best of" elsewhere here)
        rows.append({"bytes": size, **{k: float(np.min(v)) for k, v in timings.items()},
                     **{k + "_median": float(np.median(v)) for k, v in timings.items()}})
        size *= 4
    if rank == 0:
        print(json.dumps(rows))


def launch(ranks, *args):
    from deepdive.distributed._mpi import mpiexec
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run([mpiexec(), "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--rank", *args],
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"ranks failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def human(n):
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=1.0, help="per phase and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--max-mb", type=int, default=64)
    p.add_argument("--bucket-view", action="store_true", help="DDP(gradient_as_bucket_view=True)")
    p.add_argument("--only", choices=["train", "allreduce"])
    p.add_argument("--rank", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank is not None:
        if args.rank[0] == "train":
            rank_train(args.rank[1], args.seconds, args.rounds, args.bucket_view)
        else:
            rank_allreduce(args.max_mb, args.seconds)
        return
    print(f"load average: {os.getloadavg()}, cores: {os.cpu_count()}; one thread per rank")
    if args.only != "allreduce":
        print(f"\nDDP training, batch 128 per rank, samples/s of all ranks: best of {args.rounds} interleaved rounds "
              f"of {args.seconds} s (median in brackets)" + (", gradient_as_bucket_view=True" if args.bucket_view
                                                            else ""))
        print(f"{'workload':8} {'phase':>13} {'steps/s':>8} {'samples/s':>16} {'speed-up':>8} {'efficiency':>10} "
              f"{'p20 step ms':>11} {'p20 speed-up':>12} {'CPU ms/step':>11} {'CPU speed-up':>12}")
        for workload in ("mlp", "lenet"):
            r = launch(args.ranks, "train", workload, "--seconds", str(args.seconds), "--rounds", str(args.rounds),
                       *(["--bucket-view"] if args.bucket_view else []))
            rates = r["samples_per_s"]
            base, p20, cpu = max(rates["1 rank"]), r["step_p20"], r["cpu_per_step"]
            for phase, ranks in (("1 rank", 1), ("2 independent", args.ranks), ("2 ranks", args.ranks)):
                best, median = max(rates[phase]), float(np.median(rates[phase]))
                name = phase.replace("2", str(args.ranks))
                print(f"{workload:8} {name:>13} {best / r['batch'] / ranks:8.1f} {best:9.0f} ({median:5.0f}) "
                      f"{best / base:7.2f}x {best / base / ranks:10.2f} {p20[phase] * 1e3:11.2f} "
                      f"{ranks * p20['1 rank'] / p20[phase]:11.2f}x {cpu[phase] * 1e3:11.2f} "
                      f"{ranks * cpu['1 rank'] / cpu[phase]:11.2f}x")
            ceiling = max(rates["2 independent"])
            print(f"{'':8} {'':>13} {args.ranks} ranks reach {max(rates['2 ranks']) / ceiling:.2f} of the "
                  f"{args.ranks} independent processes' throughput")
    if args.only == "train":
        return
    rows = launch(args.ranks, "allreduce", "--max-mb", str(args.max_mb), "--seconds", str(args.seconds))
    print(f"\nall_reduce on {args.ranks} ranks, float32 SUM in place: best time per call (median in brackets)")
    print("(unchecked: DEEPDIVE_DISTRIBUTED_CHECKS=0, without the shape/dtype agreement check)")
    print(f"{'size':>7} {'deepdive us':>16} {'unchecked us':>16} {'mpi4py us':>16} {'GB/s':>6} {'ratio':>6} "
          f"{'unchecked':>9}")
    for r in rows:
        cells = [f"{r[k] * 1e6:.1f} ({r[k + '_median'] * 1e6:.0f})" for k in ("deepdive", "unchecked", "mpi4py")]
        print(f"{human(r['bytes']):>7} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} "
              f"{r['bytes'] / r['deepdive'] / 1e9:6.2f} {r['deepdive'] / r['mpi4py']:6.2f} "
              f"{r['unchecked'] / r['mpi4py']:9.2f}")


if __name__ == "__main__":
    main()
