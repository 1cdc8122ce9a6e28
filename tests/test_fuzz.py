"""The differential fuzzer: random small programs over deepdive's public API, against PyTorch.

    pytest tests/test_fuzz.py                               # the CI budget (seeded, about a minute)
    DEEPDIVE_FUZZ_BUDGET=40000 pytest tests/test_fuzz.py    # a longer local run

Two phases. The survey runs ``BUDGET`` seeded programs and keeps the first
program of each distinct failure class (op x kind of mismatch: value, dtype,
shape, requires_grad, grad, only one side raising, a raw NumPy error). Then,
per class, hypothesis searches again for that class alone and shrinks it, and
the test fails listing every class with its minimized reproducer written as
PyTorch lines. The generator and the comparisons live in ``fuzz_programs.py``.
"""
import os
import warnings

from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

import deepdive
from fuzz_programs import FuzzMismatch, format_program, programs, run_program
from parity import require_torch

CI_BUDGET = 400
BUDGET = int(os.environ.get("DEEPDIVE_FUZZ_BUDGET", CI_BUDGET))
SHRINK_BUDGET = 300          # programs tried per failure class when minimizing it

_QUIET = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _failure(program, torch):
    """The FuzzMismatch a program raises, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            run_program(program, torch, deepdive)
        except FuzzMismatch as e:
            return e
    return None


def survey(budget, torch):
    """Run ``budget`` seeded programs; the first (exception, program) of each failure class, and the count run."""
    found, count = {}, [0]

    @settings(max_examples=budget, phases=[Phase.generate], **_QUIET)
    @given(program=programs())
    def run(program):
        count[0] += 1
        e = _failure(program, torch)
        if e is not None:
            found.setdefault(type(e), (e, program))

    run()
    return found, count[0]


def minimize(cls, program, torch):
    """A shrunk program of failure class ``cls`` (the survey's own if the search finds none)."""
    try:
        return find(programs(), lambda p: isinstance(_failure(p, torch), cls),
                    settings=settings(max_examples=SHRINK_BUDGET, **_QUIET))
    except NoSuchExample:
        return program


def test_fuzz_programs_match_pytorch():
    torch = require_torch()
    found, count = survey(BUDGET, torch)
    print(f"fuzz: {count} programs, {len(found)} failure classes")
    if found:
        reports = [f"[{cls.__name__}] {e}\n{format_program(minimize(cls, program, torch))}"
                   for cls, (e, program) in sorted(found.items(), key=lambda kv: kv[0].__name__)]
        raise AssertionError(f"{len(found)} failure classes in {count} programs:\n\n" + "\n\n".join(reports))
