"""Before/after of issue 14's fast paths, in one process, interleaved round by round.

    python benchmarks/bench_wins.py [--rounds 5] [--seconds 2] [--threads 1]

Each fast path is switched off (the reference NumPy formula) and on in turn, for the run_all.py
workload it serves, so both see the same machine load; prints the median steps/s of each and the
speed-up's median [min..max] over rounds.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run_all  # noqa: E402  (the workloads and the timing loop)

import deepdive  # noqa: E402
from deepdive.ops import activation  # noqa: E402


def _gelu_blocks(on):
    activation._blockwise = _BLOCKWISE if on else (lambda fn, x, block=None: fn(x))


_BLOCKWISE = activation._blockwise

# name -> (workload key, switch(on: bool))
WINS = {
    "GELU forward in cache-sized blocks": ("e", _gelu_blocks),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    deepdive.set_num_threads(args.threads)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {args.threads} thread(s), {args.rounds} rounds")
    for name, (key, switch) in WINS.items():
        step = run_all.WORKLOADS[key][1]()[0]
        rates = {False: [], True: []}
        for _ in range(args.rounds):
            for on in (False, True):
                switch(on)
                rates[on].append(run_all.rate(step, args.seconds))
        switch(True)
        gains = [b / a for a, b in zip(rates[False], rates[True])]
        print(f"{name} [{run_all.WORKLOADS[key][0]}]: off {statistics.median(rates[False]):.2f}, "
              f"on {statistics.median(rates[True]):.2f} steps/s -> {statistics.median(gains):.2f}x "
              f"[{min(gains):.2f}..{max(gains):.2f}]")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
