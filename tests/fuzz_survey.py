"""Run the differential fuzzer's survey in chunks, one seed per chunk, streaming each new failure class.

    PYTHONPATH=src python tests/fuzz_survey.py --seed 3 --budget 5000 --out /tmp/fuzz3.jsonl

The CI test (test_fuzz.py) runs one derandomized stream; long local runs are slow, so
this runs independent seeded streams (in parallel processes if wanted) and writes one JSON
line per failure class the first time it is met: the class, the message and the program
as PyTorch lines, so classes can be worked on while the run goes on.
"""
import argparse
import json
import pickle
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))

from hypothesis import HealthCheck, Phase, given, seed, settings   # noqa: E402

import deepdive   # noqa: E402
from fuzz_programs import FuzzMismatch, format_program, programs, run_program   # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import torch
    seen, count, start = set(), [0], time.time()
    out = open(args.out, "a")

    @seed(args.seed)
    @settings(max_examples=args.budget, phases=[Phase.generate], deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs())
    def run(program):
        count[0] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                run_program(program, torch, deepdive)
            except FuzzMismatch as e:
                name = type(e).__name__
                if name not in seen:
                    seen.add(name)
                    out.write(json.dumps({"cls": name, "msg": str(e)[:2000], "n": count[0],
                                          "program": format_program(program)}) + "\n")
                    out.flush()
                    with open(args.out + ".pkl", "ab") as f:
                        pickle.dump((name, program), f)
        if count[0] % 500 == 0:
            out.write(json.dumps({"progress": count[0], "classes": len(seen), "s": round(time.time() - start)}) + "\n")
            out.flush()

    run()
    out.write(json.dumps({"done": count[0], "classes": len(seen), "s": round(time.time() - start)}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
