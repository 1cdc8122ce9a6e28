"""deepdive's generator draws PyTorch's CPU random streams bit for bit.

Every comparison here is exact (``np.array_equal`` and the same dtype), not a
tolerance: the same seed and the same calls must give the same numbers.
"""
import numpy as np
import pytest

import deepdive
from deepdive._mt19937 import MT19937
from parity import require_torch

SEEDS = [0, 1, 42, 123456789012, 2 ** 64 - 1]
SIZES = [0, 1, 15, 16, 17, 1000, 100_000]


def same(dd_tensor, torch_tensor, what=""):
    a, b = dd_tensor._data if hasattr(dd_tensor, "_data") else np.asarray(dd_tensor), torch_tensor.numpy()
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch's {b.dtype}"
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    diff = np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b))
    assert diff.size == 0, f"{what}: {diff.size} of {a.size} differ, first at {diff[:5]}: {a.ravel()[diff[:5]]} " \
                           f"vs torch {b.ravel()[diff[:5]]}"


def both(seed):
    torch = require_torch()
    torch.manual_seed(seed)
    deepdive.manual_seed(seed)
    return torch


# ----------------------------------------------------------------- the twister itself (no torch needed)
def reference_mt19937(seed, n):
    """The textbook MT19937, one word at a time (Matsumoto & Nishimura's mt19937ar.c)."""
    mt = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
    out, index = [], 624
    for _ in range(n):
        if index == 624:
            for i in range(624):
                y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            index = 0
        y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        out.append(y ^ (y >> 18))
    return out


@pytest.mark.parametrize("seed", [5489, 0, 2 ** 32 - 1])
def test_twister_equals_the_reference_in_any_batch_split(seed):
    expected = reference_mt19937(seed, 3000)
    mt = MT19937(seed)
    got = np.concatenate([mt.random_raw(k) for k in (1, 622, 1, 0, 1300, 76)])
    assert got.tolist() == expected[:2000]
    assert mt.random_raw(1000).tolist() == expected[2000:]


def test_twister_known_value():
    # The C++ standard's check: the 10000th output of std::mt19937 (seed 5489) is 4123659995.
    assert int(MT19937(5489).random_raw(10000)[-1]) == 4123659995


def test_default_seed_and_initial_seed():
    g = deepdive.Generator()
    assert g.initial_seed() == 67280421310721
    assert deepdive.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    with pytest.raises(RuntimeError, match="manual_seed"):
        g.manual_seed(2 ** 64)
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 64


# ----------------------------------------------------------------- seeding and state vs torch
@pytest.mark.parametrize("seed", SEEDS + [-5])
def test_state_after_manual_seed_is_torchs(seed):
    torch = both(seed)
    assert np.array_equal(deepdive.get_rng_state()._data, torch.get_rng_state().numpy())
    assert deepdive.initial_seed() == torch.initial_seed()


def test_state_round_trip_and_interchange():
    torch = both(7)
    deepdive.randn(3), torch.randn(3)                 # leaves a cached Box-Muller value in both
    state_dd, state_t = deepdive.get_rng_state(), torch.get_rng_state()
    assert np.array_equal(state_dd._data, state_t.numpy())
    expected = torch.randn(5)
    same(deepdive.randn(5), expected, "continues")
    deepdive.set_rng_state(state_dd)                   # round trip
    same(deepdive.randn(5), expected, "after set_rng_state")
    deepdive.set_rng_state(deepdive.tensor(state_t.numpy()))   # torch's state continues torch's stream
    same(deepdive.randn(5), expected, "torch's state in deepdive")
    torch.set_rng_state(torch.from_numpy(state_dd._data.copy()))   # and the other way
    same(deepdive.set_rng_state(state_dd) or deepdive.rand(700), torch.rand(700), "deepdive's state in torch")


def test_set_state_rejects_garbage():
    with pytest.raises(RuntimeError, match="5056"):
        deepdive.set_rng_state(deepdive.zeros(10, dtype=deepdive.uint8))


def test_generator_objects_are_independent_streams():
    torch = both(0)
    g, tg = deepdive.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    same(deepdive.rand(4, generator=g), torch.rand(4, generator=tg), "generator=")
    same(deepdive.rand(4), torch.rand(4), "default untouched by generator=")
    same(deepdive.randn(20, generator=g), torch.randn(20, generator=tg))
    assert np.array_equal(g.get_state()._data, tg.get_state().numpy())


# ----------------------------------------------------------------- creation functions
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rand_randn_streams(seed, n, dtype):
    torch = both(seed)
    for fn in ("rand", "randn", "rand", "randn"):       # interleaved, and the normal cache carried across
        same(getattr(deepdive, fn)(n, dtype=getattr(deepdive, dtype)),
             getattr(torch, fn)(n, dtype=getattr(torch, dtype)), f"{fn}({n}, {dtype})")
        same(deepdive.randn(3, dtype=getattr(deepdive, dtype)), torch.randn(3, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_shapes_and_like_variants(seed):
    torch = both(seed)
    same(deepdive.randn(2, 3, 5), torch.randn(2, 3, 5))
    same(deepdive.rand((4, 4)), torch.rand((4, 4)))
    same(deepdive.randn_like(deepdive.zeros(3, 7)), torch.randn_like(torch.zeros(3, 7)))
    same(deepdive.rand_like(deepdive.zeros(17, dtype=deepdive.float64)),
         torch.rand_like(torch.zeros(17, dtype=torch.float64)))
    same(deepdive.randint_like(deepdive.zeros(9), 5, 50), torch.randint_like(torch.zeros(9), 5, 50))
    same(deepdive.randn(()), torch.randn(()))


RANDINT_ARGS = [(10, (1000,)), (-3, 7, (17,)), (0, 2 ** 40, (100,)), (2 ** 31, (50,)), (-2 ** 62, 2 ** 62, (33,))]


def _randint_cases():
    # int32 only where the range fits it; float32 only up to 2^24, where PyTorch itself warns that
    # float32 randint is unsupported (its draws differ beyond)
    for args in RANDINT_ARGS:
        bound = max(abs(a) for a in args[:-1])
        for dtype in (None, "int32", "float32"):
            if (dtype == "int32" and bound > 2 ** 31) or (dtype == "float32" and bound > 2 ** 24):
                continue
            yield args, dtype


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("args,dtype", list(_randint_cases()))
def test_randint(seed, args, dtype):
    torch = both(seed)
    kw_dd = {} if dtype is None else {"dtype": getattr(deepdive, dtype)}
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    same(deepdive.randint(*args, **kw_dd), torch.randint(*args, **kw_t), f"randint{args}")


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("n", [0, 1, 2, 15, 16, 17, 1000, 60_000])
def test_randperm(seed, n):
    torch = both(seed)
    same(deepdive.randperm(n), torch.randperm(n), f"randperm({n})")
    same(deepdive.randperm(n, dtype=deepdive.int32), torch.randperm(n, dtype=torch.int32))


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="randperm"):
        deepdive.randperm(-1)
    with pytest.raises(RuntimeError, match="from=5 >= to=3"):
        deepdive.randint(5, 3, (2,))
    with pytest.raises(RuntimeError, match="normal expects std"):
        deepdive.normal(0.0, -1.0, size=(2,))
    with pytest.raises(RuntimeError, match="uniform_"):
        deepdive.empty(3).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="bernoulli_"):
        deepdive.empty(3).bernoulli_(1.5)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_normal_overloads(seed):
    torch = both(seed)
    same(deepdive.normal(2.0, 3.0, size=(5,)), torch.normal(2.0, 3.0, size=(5,)), "normal(float, float, size)")
    same(deepdive.normal(2.0, 3.0, size=(40,)), torch.normal(2.0, 3.0, size=(40,)))
    mean, std = np.linspace(-1, 1, 20, dtype=np.float32), np.linspace(0.1, 2, 20, dtype=np.float32)
    same(deepdive.normal(deepdive.tensor(mean), deepdive.tensor(std)), torch.normal(torch.tensor(mean),
                                                                                     torch.tensor(std)), "T, T")
    same(deepdive.normal(deepdive.tensor(mean), 0.5), torch.normal(torch.tensor(mean), 0.5), "T, float")
    same(deepdive.normal(0.5, deepdive.tensor(std)), torch.normal(0.5, torch.tensor(std)), "float, T")
    same(deepdive.normal(deepdive.tensor(mean[:5].astype(np.float64)), 2.0),
         torch.normal(torch.tensor(mean[:5].astype(np.float64)), 2.0), "float64 small")


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000])
def test_bernoulli(seed, n):
    torch = both(seed)
    p = np.linspace(0, 1, n, dtype=np.float32)
    same(deepdive.bernoulli(deepdive.tensor(p)), torch.bernoulli(torch.tensor(p)), "float32 probs")
    same(deepdive.bernoulli(deepdive.tensor(p.astype(np.float64))),
         torch.bernoulli(torch.tensor(p, dtype=torch.float64)), "float64 probs")
    same(deepdive.bernoulli(deepdive.zeros(n), 0.3), torch.bernoulli(torch.zeros(n), 0.3), "scalar p")


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("num_samples", [1, 3, 7])
def test_multinomial(seed, replacement, num_samples):
    torch = both(seed)
    weights = np.abs(np.sin(np.arange(1, 25, dtype=np.float32))).reshape(3, 8)
    same(deepdive.multinomial(deepdive.tensor(weights), num_samples, replacement),
         torch.multinomial(torch.tensor(weights), num_samples, replacement), "2-D")
    same(deepdive.multinomial(deepdive.tensor(weights[0]), num_samples, replacement),
         torch.multinomial(torch.tensor(weights[0]), num_samples, replacement), "1-D")
    same(deepdive.multinomial(deepdive.tensor(weights.astype(np.float64)), num_samples, replacement),
         torch.multinomial(torch.tensor(weights, dtype=torch.float64), num_samples, replacement), "float64")


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_poisson(seed):
    torch = both(seed)
    rates = np.array([0, 0.1, 1, 3.5, 9.99, 10, 12.5, 100, 1e4] * 5, dtype=np.float32)
    same(deepdive.poisson(deepdive.tensor(rates)), torch.poisson(torch.tensor(rates)))
    same(deepdive.rand(3), torch.rand(3), "stream after poisson")


# ----------------------------------------------------------------- in-place fills
INPLACE = [("uniform_", (), {}), ("uniform_", (-2.5, 0.7), {}), ("normal_", (), {}), ("normal_", (1.5, 0.25), {}),
           ("normal_", (0.3, 1.7), {}),
           ("exponential_", (), {}), ("exponential_", (3.0,), {}), ("geometric_", (0.2,), {}),
           ("cauchy_", (0.5, 2.0), {}), ("log_normal_", (), {}), ("log_normal_", (0.1, 0.5), {}),
           ("bernoulli_", (0.25,), {}), ("random_", (), {}), ("random_", (100,), {}), ("random_", (-5, 5), {})]


@pytest.mark.parametrize("name,args,kwargs", INPLACE, ids=[f"{n}{a}" for n, a, _ in INPLACE])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inplace_fills(name, args, kwargs, n, dtype):
    torch = both(n)
    a = getattr(deepdive.empty(n, dtype=getattr(deepdive, dtype)), name)(*args, **kwargs)
    b = getattr(torch.empty(n, dtype=getattr(torch, dtype)), name)(*args, **kwargs)
    same(a, b, f"{name}{args} on {n} {dtype}")
    same(deepdive.randn(5), torch.randn(5), "stream after")


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool"])
def test_random_on_integer_dtypes(dtype):
    torch = both(11)
    same(deepdive.empty(300, dtype=getattr(deepdive, dtype)).random_(),
         torch.empty(300, dtype=getattr(torch, dtype)).random_(), dtype)
    if dtype != "bool":
        same(deepdive.empty(300, dtype=getattr(deepdive, dtype)).random_(2, 100),
             torch.empty(300, dtype=getattr(torch, dtype)).random_(2, 100), dtype)


def test_bernoulli_with_tensor_p_and_generator():
    torch = both(3)
    p = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    same(deepdive.empty(4, 6).bernoulli_(deepdive.tensor(p)), torch.empty(4, 6).bernoulli_(torch.tensor(p)))
    g, tg = deepdive.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    same(deepdive.empty(20).uniform_(generator=g), torch.empty(20).uniform_(generator=tg))


@pytest.mark.parametrize("name,args", [("uniform_", ()), ("normal_", ()), ("normal_", (2.0, 0.5)), ("random_", (9,))])
def test_fills_of_strided_views_follow_memory_order(name, args):
    torch = both(5)
    base_dd, base_t = deepdive.zeros(20, 30), torch.zeros(20, 30)
    getattr(base_dd.t(), name)(*args)
    getattr(base_t.t(), name)(*args)
    same(base_dd, base_t, "transposed view")
    getattr(base_dd[:, ::2], name)(*args)
    getattr(base_t[:, ::2], name)(*args)
    same(base_dd, base_t, "strided slice")


def test_inplace_fill_of_a_leaf_that_requires_grad_is_refused_like_torch():
    w = deepdive.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        w.uniform_()
    with deepdive.no_grad():
        w.uniform_()


# ----------------------------------------------------------------- the single-rounding helpers
def test_fma32_avoids_double_rounding():
    from deepdive._fma import fma32
    # a*b + c = 1 + 2^-23 + 2^-24 - 2^-70: just below a float32 halfway point. Rounding through
    # float64 first lands exactly on the halfway point and then ties to even (1 + 2^-22): wrong.
    a = np.float32(2.0 ** -12 * (1 + 2.0 ** -23))
    b = np.float32(2.0 ** -12 * (1 - 2.0 ** -23))
    c = np.float32(1 + 2.0 ** -23)
    naive = np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    assert naive == np.float32(1 + 2.0 ** -22)
    assert fma32(np.array([a]), b, c)[0] == c


def test_fma64_is_correctly_rounded():
    from fractions import Fraction
    from deepdive._fma import fma64
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(2000) * 10.0 ** rng.integers(-5, 5, 2000) for _ in range(3))
    got = fma64(a, b, c)
    exact = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)]   # Fraction rounds once
    assert np.array_equal(got, np.array(exact))


def test_fork_rng_restores_the_default_stream_and_generator_device():
    torch = both(6)
    with deepdive.random.fork_rng():
        deepdive.randn(50)
    with torch.random.fork_rng():
        torch.randn(50)
    same(deepdive.randn(4), torch.randn(4), "after fork_rng")
    assert str(deepdive.Generator().device) == "cpu" and repr(deepdive.Generator().device) == "device(type='cpu')"
