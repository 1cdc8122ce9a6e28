"""The differential fuzzer: random small programs over deepdive's public API, against PyTorch.

    pytest tests/test_fuzz.py                               # the CI budget (seeded, about a minute)
    DEEPDIVE_FUZZ_BUDGET=40000 pytest tests/test_fuzz.py    # a longer local run

Each distinct failure class (op x kind of mismatch) is reported by hypothesis on
its own, with the shrunk program; the note under it is that program written as
PyTorch lines. The generator and the comparisons live in ``fuzz_programs.py``.
"""
import os
import warnings

from hypothesis import HealthCheck, given, note, settings

import deepdive
from fuzz_programs import format_program, programs, run_program
from parity import require_torch

CI_BUDGET = 400
BUDGET = int(os.environ.get("DEEPDIVE_FUZZ_BUDGET", CI_BUDGET))


@settings(max_examples=BUDGET, derandomize=True, deadline=None, database=None, print_blob=False,
          suppress_health_check=list(HealthCheck))
@given(program=programs())
def _fuzz(program):
    torch = require_torch()
    note(format_program(program))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_program(program, torch, deepdive)


def test_fuzz_programs_match_pytorch():
    require_torch()
    _fuzz()
