"""The vectorised fast paths behind rand/randn draw exactly what the slow, obviously-right ones do.

Companion to tests/test_random.py (which compares with PyTorch on small and
medium sizes): here the big-array code paths -- 64-bit words straight from
NumPy's twister, glibc's log redone in NumPy, block boundaries of the
Box-Muller loop -- are checked bit for bit, against ``math.log`` and the
raw 32-bit stream without torch, and against torch at sizes that cross the
blocks. Speed is measured in benchmarks/bench_random.py, never asserted here.
"""
import math
import sys

import numpy as np
import pytest

import deepdive
from deepdive import _libm_log
from deepdive import random as dd_random
from parity import require_torch
from test_random import same, both

ROWS = dd_random._ROWS_PER_CHUNK * 16          # elements per Box-Muller block


def math_log(x):
    return np.array([math.log(v) for v in np.asarray(x, dtype=np.float64).ravel().tolist()])


# ----------------------------------------------------------------- raw words
@pytest.mark.parametrize("seed", [0, 7, 2 ** 32 - 1])
def test_random64_is_two_words_high_first(seed):
    a, b = deepdive.Generator().manual_seed(seed), deepdive.Generator().manual_seed(seed)
    a.random32(5), b.random32(5)                              # start off a pair boundary
    words = a.random32(2 * 1001).astype(np.uint64)
    assert np.array_equal(b.random64(1001), words[0::2] << np.uint64(32) | words[1::2])
    assert np.array_equal(a.get_state()._data, b.get_state()._data)


@pytest.mark.parametrize("n", [1, 311, 312, 313, 1000, 100_003])
def test_float64_draws_leave_torchs_state(n):
    torch = both(n)
    same(deepdive.rand(n, dtype=deepdive.float64), torch.rand(n, dtype=torch.float64), f"rand({n})")
    assert np.array_equal(deepdive.get_rng_state()._data, torch.get_rng_state().numpy())
    same(deepdive.rand(3), torch.rand(3), "float32 after")


# ----------------------------------------------------------------- glibc's log in NumPy
needs_glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or _libm_log._load_tables() is False,
                                 reason="glibc's log table is only read from a Linux glibc libm")


@needs_glibc
def test_glibc_log_is_found_and_passes_its_self_check():
    _libm_log.log(np.linspace(0.5, 2.0, 1000))
    assert _libm_log._tables, "vectorised log disabled: the randn float64 fast path is not in use"


@pytest.mark.parametrize("what", ["unit", "near 1", "wide", "interval edges", "tiny and huge"])
def test_vectorised_log_equals_math_log(what):
    rng = np.random.default_rng(len(what))
    if what == "unit":            # the sampler's u1 = 1 - u: every exponent from 2^-1 down
        x = 1.0 - rng.random(300_000)
        x[:2000] = 2.0 ** -rng.integers(1, 54, 2000) * (1 + rng.random(2000))
    elif what == "near 1":        # glibc's separate polynomial for |x - 1| < 2^-4, and its two edges
        x = 1.0 + (rng.random(200_000) - 0.5) * 0.2
        x[:4] = [1.0 - 2.0 ** -4, np.nextafter(1.0 - 2.0 ** -4, 0), 1 + float.fromhex("0x1.09p-4"), 1.0]
    elif what == "wide":
        x = 2.0 ** rng.uniform(-1021, 1023, 200_000)
    elif what == "interval edges":   # each of the 128 table intervals, its ends and neighbours, over many k
        edges = (0x3FE6000000000000 + (np.arange(129, dtype=np.uint64) << np.uint64(45))).view(np.float64)
        x = np.concatenate([np.nextafter(edges, -1), edges, np.nextafter(edges, 2)])
        x = (x[:, None] * 2.0 ** np.arange(-60, 61)[None]).ravel()
    else:
        x = np.array([np.finfo(np.float64).tiny, np.finfo(np.float64).max, 5e-324, 1e-310, np.inf, 1.0, 2.0] * 20)
    got = _libm_log.log(x)
    expected = np.array([math.log(v) if v != np.inf else np.inf for v in x.tolist()])
    diff = np.flatnonzero(got != expected)
    assert diff.size == 0, f"{diff.size} differ, e.g. log({x[diff[:3]].tolist()}) = {got[diff[:3]]} vs {expected[diff[:3]]}"


@needs_glibc
def test_the_too_close_to_call_fallback_is_exercised_and_rare():
    x = 1.0 - np.random.default_rng(3).random(200_000)
    _libm_log.log(x[:100])
    y, redo = _libm_log._fast_log(x, _libm_log._tables)
    assert 0 < redo.mean() < 0.02                    # some elements do take math.log; few enough to be cheap
    assert np.array_equal(y[~redo], math_log(x[~redo]))      # and the rest are right without it


def test_log_keeps_shape_and_small_inputs():
    x = np.array([[0.25, 0.5], [1.0, 3.0]])
    assert np.array_equal(_libm_log.log(x), math_log(x).reshape(2, 2))
    assert _libm_log.log(np.array([])).shape == (0,)


# ----------------------------------------------------------------- randn / normal_ over the blocks
@pytest.fixture(params=["numpy", "numba"])
def engine(request, monkeypatch):
    """Run a test on the NumPy path (DEEPDIVE_NUMBA=0) and on the compiled fills (where numba imports)."""
    if request.param == "numpy":
        monkeypatch.setenv("DEEPDIVE_NUMBA", "0")
    else:
        pytest.importorskip("numba")
        monkeypatch.setenv("DEEPDIVE_NUMBA", "1")
        from deepdive import _numba_engine
        assert _numba_engine.normal_fill_f32() is not None and _numba_engine.normal_fill_f64() is not None
    return request.param


@pytest.mark.parametrize("n", [ROWS - 1, ROWS, ROWS + 15, ROWS + 16, ROWS + 17, 2 * ROWS + 5, 100_003])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_randn_across_block_boundaries(n, dtype, engine):
    torch = both(n)
    same(deepdive.randn(n, dtype=getattr(deepdive, dtype)), torch.randn(n, dtype=getattr(torch, dtype)),
         f"randn({n}, {dtype})")
    same(deepdive.randn(17, dtype=getattr(deepdive, dtype)), torch.randn(17, dtype=getattr(torch, dtype)), "after")


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.0, 2.0), (-3.0, 0.5), (0.25, 1.7), (1e3, 1e-3), (-0.0, 1.0),
                                      (0.0, 0.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_fill_scales_like_torch(mean, std, dtype, engine):
    torch = require_torch()
    for seed in (0, 99):
        torch.manual_seed(seed)
        deepdive.manual_seed(seed)
        same(deepdive.empty(70_001, dtype=getattr(deepdive, dtype)).normal_(mean, std),
             torch.empty(70_001, dtype=getattr(torch, dtype)).normal_(mean, std), f"normal_({mean}, {std}) {dtype}")


def test_randn_float64_with_u_zero_gives_plus_zero_like_torch():
    # u1 = 1 - 0 = 1 makes r = 0: r * cos(theta) can be -0.0, and + mean turns it into +0.0
    block = np.zeros((1, 16))
    block[0, 8:] = 0.75                               # theta = 3 pi / 2: cos < 0, sin < 0
    out = dd_random._normal_fill_16_float64(block, 0.0, 1.0)
    assert not np.signbit(out).any()


# ----------------------------------------------------------------- float32 Box-Muller: every possible input
def compiled_kernels():
    """``_numba_box_muller`` (the [fast] extra's kernels), or None where numba does not import."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return None
    from deepdive import _numba_box_muller
    return _numba_box_muller


@pytest.mark.parametrize("quarter", range(4))
def test_lean_float32_log_and_sincos_equal_the_reference_on_every_input(quarter):
    """The sampler feeds log only u1 = 1 - k 2^-24 and sincos only theta = 2 pi k 2^-24 (float32), k < 2^24:
    all 2^24 of each (a quarter per case) go through the step-by-step fma32 reference, NumPy's lean
    versions and numba's (the kernel's own inlined functions); the numba half skips only without numba."""
    from deepdive import _avx_mathfun as m
    f32 = np.float32
    compiled = compiled_kernels()
    for start in range(quarter << 22, (quarter + 1) << 22, 1 << 20):
        u = np.arange(start, start + (1 << 20), dtype=np.uint32).astype(np.float32) * f32(2.0 ** -24)
        u1, theta = f32(1) - u, f32(2 * np.pi) * u
        ref_log = m.log256_ps(u1)
        ref_sin, ref_cos = m.sincos256_ps(theta)
        lean_log = np.concatenate([m.log256_unit(u1[i:i + 32768]) for i in range(0, u.size, 32768)])
        assert np.array_equal(lean_log.view(np.uint32), ref_log.view(np.uint32))
        lean = [m.sincos256_unit(theta[i:i + 32768]) for i in range(0, u.size, 32768)]
        assert np.array_equal(np.concatenate([s for s, _ in lean]).view(np.uint32), ref_sin.view(np.uint32))
        assert np.array_equal(np.concatenate([c for _, c in lean]).view(np.uint32), ref_cos.view(np.uint32))
        if compiled is not None:
            log, sin, cos = np.empty_like(u), np.empty_like(u), np.empty_like(u)
            compiled.log_unit_f32(u1, log)
            compiled.sincos_unit_f32(theta, sin, cos)
            for name, got, ref in (("log", log, ref_log), ("sin", sin, ref_sin), ("cos", cos, ref_cos)):
                bad = np.flatnonzero(got.view(np.uint32) != ref.view(np.uint32))
                assert bad.size == 0, f"numba {name}: {bad.size} differ, k = {start + bad[:3]}"
    if compiled is None:
        pytest.skip("numba is not installed: only the NumPy half ran")


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.5, 2.0), (0.0, 0.02), (1e3, 1e-3)])
def test_compiled_float32_fill_equals_numpy_on_every_uniform(mean, std):
    """The whole numba fill (words -> normals, fused * std + mean) against NumPy's normal_fill_16, with every
    one of the 2^24 uniforms in both halves of a row (paired with a permutation of them in the other)."""
    compiled = pytest.importorskip("numba") and compiled_kernels()
    from deepdive._avx_mathfun import normal_fill_16
    k = np.arange(1 << 24, dtype=np.uint32)
    shuffled = k * np.uint32(0x9E3779B1) & np.uint32(2 ** 24 - 1)      # an odd multiplier: a bijection mod 2^24
    high = np.uint32(0xAB000000)                # set top bits: the kernel must drop them, as PyTorch's mask does
    for first, second in ((k, shuffled), (shuffled, k)):
        words = np.empty((1 << 21, 16), dtype=np.uint32)
        words[:, :8], words[:, 8:] = (first | high).reshape(-1, 8), second.reshape(-1, 8)
        uniforms = (words & np.uint32(2 ** 24 - 1)).astype(np.float32) * np.float32(2.0 ** -24)
        compiled.normal_fill_f32(words, np.float32(mean), np.float32(std))
        expected = np.concatenate([normal_fill_16(uniforms[i:i + 4096], mean, std)
                                   for i in range(0, len(uniforms), 4096)])
        bad = np.flatnonzero(words.reshape(-1) != expected.view(np.uint32).reshape(-1))
        assert bad.size == 0, f"{bad.size} differ, first at {bad[:3]}"


# ----------------------------------------------------------------- uniform_(a, b): the fused x * (b - a) + a
@pytest.mark.parametrize("a,b", [(-0.1, 0.1), (0.0, 0.3), (2.5, 7.0), (-1.0, 1.0), (1000.0, 1000.3), (1e-10, 1.0),
                                 (-3e-5, 1e5), (0.0, 1.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_fused_affine_over_blocks(a, b, dtype):
    torch = both(int(abs(a) * 10) + 3)
    n = 2 * dd_random._BLOCK + 7
    same(deepdive.empty(n, dtype=getattr(deepdive, dtype)).uniform_(a, b),
         torch.empty(n, dtype=getattr(torch, dtype)).uniform_(a, b), f"uniform_({a}, {b}) {dtype}")


def test_float64_exactness_condition_of_the_fused_uniform():
    fits = dd_random._sum_fits_float64
    assert fits(float(np.float32(0.2)), float(np.float32(-0.1)))        # uniform_(-b, b): always
    assert not fits(float(np.float32(0.3)), float(np.float32(1000.0)))  # low 12 binades above the span
    assert not fits(float(np.float32(1.0)), float(np.float32(1e-10)))   # low far below: its bits reach 2^-56
    assert not fits(0.0, 1.0) and not fits(float("inf"), 0.0)


@pytest.mark.parametrize("mean,std", [(0.0, 0.02), (-0.0, 0.3), (0.0, 0.0), (0.5, 0.02), (-0.0, 0.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_with_mean_zero_and_any_std(mean, std, dtype, engine):
    torch = both(21)
    same(deepdive.empty(ROWS + 9, dtype=getattr(deepdive, dtype)).normal_(mean, std),
         torch.empty(ROWS + 9, dtype=getattr(torch, dtype)).normal_(mean, std), f"normal_({mean}, {std}) {dtype}")


# ----------------------------------------------------------------- the optional numba engine (both fills)
def test_numba_engine_float64_fill_draws_the_numpy_paths_bits(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("DEEPDIVE_NUMBA", "1")
    from deepdive import _numba_engine
    kernel = _numba_engine.normal_fill_f64()
    assert kernel is not None, "numba is installed but its float64 fill failed the self-check"
    block = deepdive.Generator().manual_seed(5)._unit(20 * ROWS, np.float64).reshape(-1, 16)
    block[0, :8] = 0.0
    for mean, std in [(0.0, 1.0), (1.0, 3.0), (-0.0, 0.25), (0.0, 0.02), (-2.5, 1e-7)]:
        expected = dd_random._numpy_normal_fill_f64(block.copy(), mean, std)
        got = block.copy()
        kernel(got, mean, std)
        assert np.array_equal(got.view(np.uint64), expected.view(np.uint64)), (mean, std)


def test_numba_engine_float32_fill_is_in_use(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("DEEPDIVE_NUMBA", "1")
    from deepdive import _numba_engine
    assert _numba_engine.normal_fill_f32() is not None, "numba is installed but its float32 fill failed its check"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_engine_can_be_switched_off(monkeypatch, dtype):
    from deepdive import _numba_engine
    monkeypatch.setenv("DEEPDIVE_NUMBA", "0")
    assert _numba_engine.normal_fill_f32() is None and _numba_engine.normal_fill_f64() is None
    torch = both(8)
    dd_t, th_t = getattr(deepdive, dtype), getattr(torch, dtype)
    same(deepdive.randn(ROWS + 3, dtype=dd_t), torch.randn(ROWS + 3, dtype=th_t), "NumPy path")
    same(deepdive.empty(1000, dtype=dd_t).normal_(1.0, 3.0), torch.empty(1000, dtype=th_t).normal_(1.0, 3.0), "NumPy")


def test_import_does_not_import_numba_and_a_read_only_cache_still_compiles(tmp_path, monkeypatch):
    """numba loads at the first fill only; an unusable cache directory costs a compile, never the kernel."""
    import os
    import subprocess
    pytest.importorskip("numba")
    cache = tmp_path / "read-only"
    cache.mkdir()
    cache.chmod(0o500)                    # numba then finds no cache locator: compiled in memory instead
    code = ("import sys, deepdive; assert 'numba' not in sys.modules; deepdive.manual_seed(0); "
            "x = deepdive.randn(1000); from deepdive import _numba_engine as e; "
            "assert e.normal_fill_f32() is not None; print(x._data.tobytes().hex())")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(sys.path), DEEPDIVE_NUMBA="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    monkeypatch.setenv("DEEPDIVE_NUMBA", "0")
    deepdive.manual_seed(0)
    assert done.stdout.strip() == deepdive.randn(1000)._data.tobytes().hex()


def test_without_glibcs_table_log_falls_back_to_math_log(monkeypatch):
    monkeypatch.setattr(_libm_log, "_tables", False)          # as on a libm where the table is not found
    x = 1.0 - np.random.default_rng(4).random(5000)
    assert np.array_equal(_libm_log.log(x), math_log(x))
    torch = both(12)
    same(deepdive.randn(1000, dtype=deepdive.float64), torch.randn(1000, dtype=torch.float64), "slow log path")
