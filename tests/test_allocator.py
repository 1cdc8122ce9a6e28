"""The allocator tuning applied at import (glibc only), and its opt-out."""
import subprocess
import sys

import pytest

import deepdive._allocator as allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning is Linux-only")
def test_tuned_at_import_and_opt_out():
    code = "import deepdive, deepdive._allocator as a; print(a.TUNED)"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "DEEPDIVE_MALLOC_TUNING": "0"}).stdout.strip()
    assert off == "False"
    assert on == str(allocator.TUNED)
