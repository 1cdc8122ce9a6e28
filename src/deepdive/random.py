"""The one random source behind initialisation, dropout, shuffling and sampling.

It is PyTorch's CPU generator, bit for bit: the same 32-bit Mersenne Twister
(``_mt19937.py``: NumPy's C MT19937 loaded with PyTorch's state), seeded the
way ``torch.manual_seed`` seeds it, and the same transformation from its raw
32/64-bit outputs to each distribution and dtype
(``aten/src/ATen/core/TransformationHelper.h``, ``DistributionsHelper.h`` and
``native/cpu/DistributionTemplates.h``). So ``deepdive.manual_seed(0);
deepdive.randn(3)`` prints ``[1.5410, -0.2934, -2.1788]`` as PyTorch does, and
a model built after a seed starts from PyTorch's weights.

The rules every sampler here follows (PyTorch's):
  * float32 uniform: 24 random bits of one 32-bit draw, ``(u & (2^24-1)) * 2^-24``;
    float64 uniform: 53 bits of one 64-bit draw (two 32-bit draws, the first
    one the high word).
  * draws are made one element after another in memory order, so a tensor's
    elements take consecutive outputs of the twister.
  * normal: tensors of >= 16 contiguous elements are filled with Box-Muller
    in blocks of 16 (float32 through PyTorch's AVX2 polynomials, see
    ``_avx_mathfun.py``); smaller or strided ones draw one float64 Box-Muller
    pair per two elements and keep the second value for the next call.
  * where PyTorch's compiled kernel fuses ``a * b + c`` into one FMA, we round
    once too (``_fma.py``).

Where the numbers are not PyTorch's, and why:
  * ``randn``/``normal_`` on float32 tensors of >= 16 elements reproduce
    PyTorch's AVX2 kernel, which it uses on AVX2 and AVX512 CPUs alike; a CPU
    without AVX2 (or a non-x86 build) takes PyTorch's libm path instead, and
    its numbers differ from these in the last bits.
  * float64 samplers call glibc's log/exp/tan through ``math``, as PyTorch
    does (the Box-Muller log through ``_libm_log.py``, glibc's algorithm
    redone over arrays with the loaded libm's own table: the same bits); another
    libm (macOS, Windows) may round an ulp differently there.

Speed (benchmarks/bench_random.py): raw words come from NumPy's C twister in
bulk, and each transformation is a few dozen NumPy passes over cache-sized
blocks; the optional numba extra (``_numba_engine.py``) compiles both Box-Muller fills, float32 as
8-wide AVX2 code like PyTorch's, with the same bits.
  * ``orthogonal_`` draws PyTorch's numbers, but QR is LAPACK's in both and
    agrees to rounding only; float16/bfloat16 draws are not bit-exact (rand is);
    float32 ``randint`` beyond 2^24, which PyTorch warns is unsupported, differs.
"""
import contextlib
import math
import os

import numpy as np

from ._avx_mathfun import normal_fill_16
from . import _libm_log, _numba_engine
from ._fma import fma32, fma64
from ._mt19937 import MT19937

DEFAULT_SEED = 67280421310721            # PyTorch's default_rng_seed_val
_STATE_BYTES = 5056                      # sizeof(CPUGeneratorImplState)
_U64 = np.uint64
_ROWS_PER_CHUNK = 4096                   # Box-Muller rows of 16 per pass: 256 KB of float32, fits in L2


class Generator:
    """A seedable random source with PyTorch's CPU streams (``torch.Generator(device='cpu')``).

    Example::

        g = deepdive.Generator().manual_seed(42)
        deepdive.rand(3, generator=g)        # what torch.rand(3, generator=g) gives
    """

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: only the 'cpu' device is supported, got {device!r}")
        from .tensor import device as _device
        self.device = _device("cpu")
        self.manual_seed(DEFAULT_SEED)

    # ------------------------------------------------------------ seeding and state
    def manual_seed(self, seed):
        """Seed the twister with the low 32 bits of ``seed`` (remembered whole, as PyTorch does)."""
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise RuntimeError("Overflow when unpacking long long: manual_seed expects a seed in "
                               f"[-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff], got {seed}")
        self._seed = seed % 2 ** 64
        self._mt = MT19937(self._seed)
        self._next_double_normal = None   # the cached sin half of a float64 Box-Muller pair
        self._next_float_normal = None    # kept in the state for interchange; never set on CPU
        return self

    def seed(self):
        """Seed from the OS's entropy (a fresh 64-bit seed) and return it."""
        seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as PyTorch lays it out: a uint8 tensor of 5056 bytes (interchangeable with torch's)."""
        from .tensor import _wrap
        buf = np.zeros(_STATE_BYTES, dtype=np.uint8)
        head = np.array([self._seed], dtype="<u8").view(np.uint8)
        buf[0:8] = head
        buf[8:16] = np.array([self._mt.left, 1], dtype="<i4").view(np.uint8)     # left, seeded
        buf[16:24] = np.array([self._mt.next], dtype="<u8").view(np.uint8)
        buf[24:5016] = self._mt.state.astype("<u8").view(np.uint8)
        if self._next_double_normal is not None:
            buf[5024:5032] = np.array([self._next_double_normal], dtype="<f8").view(np.uint8)
            buf[5040:5044] = np.array([1], dtype="<i4").view(np.uint8)
        if self._next_float_normal is not None:
            buf[5048:5052] = np.array([self._next_float_normal], dtype="<f4").view(np.uint8)
            buf[5052] = 1
        return _wrap(buf)

    def set_state(self, new_state):
        """Restore a state from ``get_state()`` -- deepdive's or ``torch.get_rng_state()``'s."""
        raw = new_state._data if hasattr(new_state, "_data") else new_state
        raw = np.asarray(raw.numpy() if hasattr(raw, "numpy") else raw)
        if raw.dtype != np.uint8 or raw.size != _STATE_BYTES:
            raise RuntimeError(f"set_state: expected a uint8 (Byte) tensor of {_STATE_BYTES} elements, "
                               f"got {raw.size} elements of {raw.dtype}")
        buf = raw.reshape(-1).copy()
        left, seeded = buf[8:16].view("<i4")
        nxt = int(buf[16:24].view("<u8")[0])
        if not (seeded and 1 <= left <= 624 and nxt + left - 1 == 624 or nxt == 0 and left == 1):
            raise RuntimeError("set_state: invalid mt19937 state (corrupted or not from a CPU generator)")
        self._seed = int(buf[0:8].view("<u8")[0])
        self._mt = MT19937(0)
        self._mt.set_state(buf[24:5016].view("<u8").astype(np.uint32), int(left), nxt)
        self._next_double_normal = float(buf[5024:5032].view("<f8")[0]) if buf[5040:5044].view("<i4")[0] else None
        self._next_float_normal = float(buf[5048:5052].view("<f4")[0]) if buf[5052] else None
        return self

    # ------------------------------------------------------------ raw draws
    def random32(self, n):
        """``n`` raw 32-bit outputs (``generator->random()``), uint32."""
        return self._mt.random_raw(n)

    def random64(self, n):
        """``n`` raw 64-bit outputs (``generator->random64()``: high word drawn first), uint64."""
        return self._mt.random_raw64(n)

    def _unit(self, n, dtype):
        """``n`` uniforms in [0, 1) of ``dtype``: 24 bits (float32) or 53 bits (float64)."""
        if np.dtype(dtype) == np.float64:
            bits, scale = self.random64(n), 2.0 ** -53
            bits &= _U64(2 ** 53 - 1)
            out = bits.astype(np.float64)
        else:
            bits, scale = self.random32(n), np.float32(2.0 ** -24)
            bits &= np.uint32(2 ** 24 - 1)
            out = bits.astype(np.float32)
        out *= scale                      # in place: a power of two, exact
        return out

    # ------------------------------------------------------------ distributions (NumPy arrays out)
    def uniform(self, low, high, shape, dtype=np.float64):
        """U(low, high) as ``uniform_`` draws it: x * (high - low) + low in ``dtype``, rounded once."""
        dt = _sample_dtype(dtype)
        low, high = dt.type(low), dt.type(high)
        x = self._unit(_numel(shape), dt)
        span = high - low
        if span == 1 and low == 0:                 # x * 1 + 0 is x (x >= 0): skip two passes
            out = x
        elif math.frexp(float(span))[0] == 0.5:     # a power of two: x * span is exact, one rounding either way
            x *= span
            x += low
            out = x
        else:                                      # PyTorch's build fuses x * (high - low) + low
            out = _affine_fused(x, span, low)
        # PyTorch 2.13 returns `from` where the rounding reached `to` (its kernel's "clamp"); x's largest value
        # tells whether that can happen at all (the result grows with x), so most calls skip the pass
        x_max = dt.type(1) - dt.type(2.0 ** -(24 if dt == np.float32 else 53))
        if (fma64 if dt == np.float64 else fma32)(np.array([x_max], dt), span, low)[0] == high:
            out[out == high] = low
        return out.reshape(shape).astype(dtype, copy=False)

    def random(self, shape, dtype=np.float64):
        return self.uniform(0.0, 1.0, shape, dtype)

    def normal(self, mean, std, shape, dtype=np.float64, contiguous=True):
        """N(mean, std^2) as ``normal_`` draws it (block Box-Muller for >= 16 contiguous elements)."""
        n, dt = _numel(shape), _sample_dtype(dtype)
        compiled = _numba_engine.normal_fill_f32() if n >= 16 and contiguous and dt == np.float32 else None
        if compiled is not None:          # words -> uniforms -> normals in one compiled pass, in place
            mean32, std32 = np.float32(mean), np.float32(std)
            words = self.random32(n)
            compiled(words[:n // 16 * 16].reshape(-1, 16), mean32, std32)
            if n % 16:    # PyTorch redraws the last 16 values (overlapping the last full block)
                tail = self.random32(16).reshape(1, 16)
                compiled(tail, mean32, std32)
                words[n - 16:] = tail.reshape(-1)
            out = words.view(np.float32)
        elif n >= 16 and contiguous:
            data = self._unit(n, dt)
            if dt == np.float32:
                fill = lambda block: normal_fill_16(block, mean, std)
            else:
                fill = lambda block: _normal_fill_16_float64(block, float(mean), float(std))
            full = n // 16 * 16
            blocks = data[:full].reshape(-1, 16)
            for start in range(0, len(blocks), _ROWS_PER_CHUNK):     # cache-sized pieces: ~2x faster
                chunk = blocks[start:start + _ROWS_PER_CHUNK]
                filled = fill(chunk)
                if filled is not chunk:      # (the float64 fill writes over its block in place)
                    chunk[...] = filled
            if n % 16:    # PyTorch redraws the last 16 values (overlapping the last full block)
                data[n - 16:] = fill(self._unit(16, dt).reshape(1, 16)).reshape(-1)
            out = data
        else:
            out = self._normal_pairs(n, float(mean), float(std))
        return out.reshape(shape).astype(dtype, copy=False)

    def standard_normal(self, shape, dtype=np.float64):
        return self.normal(0.0, 1.0, shape, dtype)

    def _normal_pairs(self, n, mean, std):
        """``n`` draws of ``at::normal_distribution<double>``: a cos/sin pair per two uniforms, sin cached."""
        out = np.empty(n, dtype=np.float64)
        start = 0
        if n and self._next_double_normal is not None:
            out[0] = fma64(self._next_double_normal, std, mean)
            self._next_double_normal, start = None, 1
        pairs = (n - start + 1) // 2
        if pairs:
            u = self._unit(2 * pairs, np.float64)
            radius = np.sqrt(-2.0 * _libm(math.log1p, -u[1::2]))
            theta = 2.0 * math.pi * u[0::2]
            values = np.empty(2 * pairs)
            values[0::2] = radius * np.cos(theta)
            values[1::2] = radius * np.sin(theta)
            if (n - start) % 2:
                self._next_double_normal = float(values[-1])
            out[start:] = fma64(values[:n - start], std, mean)
        return out

    def integers(self, low, high, shape, dtype=np.int64):
        """Integers in [low, high) as ``random_(low, high)`` / ``randint`` draw them: raw % range + low."""
        span = int(high) - int(low)
        if span <= 0:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
        n = _numel(shape)
        # NOTE: PyTorch 2.13 switches to 64-bit draws from a range of 2^28 on (for every dtype), which keeps
        # the modulo bias of raw % range below 2^-36 (found by experiment: randint(0, 2^28) takes 2 words each).
        if span >= 2 ** 28:
            words = self.random64(n)
            words %= _U64(span)
        else:
            words = self.random32(n)
            words %= np.uint32(span)
        values = words.astype(np.int64)
        values += np.int64(low)
        return values.reshape(shape).astype(dtype, copy=False)

    def random_bits(self, shape, dtype):
        """``random_()`` with no bounds: [0, 2^mantissa] for floats, [0, max] for integers, a bit for bool."""
        dt, n = np.dtype(dtype), _numel(shape)
        if dt == np.bool_:
            return (self.random32(n) & np.uint32(1)).astype(bool).reshape(shape)
        if dt in (np.dtype(np.int64), np.dtype(np.float64)):
            raw = self.random64(n)
        else:
            raw = self.random32(n).astype(_U64)
        if dt.kind == "f":
            modulus = 2 ** np.finfo(dt).nmant * 2 + 1          # 2^digits + 1 (digits counts the hidden bit)
        else:
            modulus = int(np.iinfo(dt).max) + 1
        return (raw % _U64(modulus)).astype(dt).reshape(shape)

    def permutation(self, n):
        """``randperm(n)``: PyTorch's Fisher-Yates with ``random() % (n - i)`` for each position i."""
        n = int(n)
        if n < 0:
            raise RuntimeError(f"randperm: n must be non-negative, got {n}")
        if n >= (2 ** 32 - 1) // 20:
            return self._permutation_inside_out(n)
        perm = list(range(n))
        if n > 1:
            offsets = (self.random32(n - 1).astype(np.int64) % np.arange(n, 1, -1)).tolist()
            for i, z in enumerate(offsets):        # the swaps are sequential by nature
                j = i + z
                perm[i], perm[j] = perm[j], perm[i]
        return np.array(perm, dtype=np.int64)

    def _permutation_inside_out(self, n):
        """PyTorch's path for huge n: the inside-out shuffle with ``random64() % (i + 1)``."""
        z = (self.random64(n) % np.arange(1, n + 1, dtype=_U64)).astype(np.int64)
        perm = np.empty(n, dtype=np.int64)
        for i in range(n):
            perm[i] = perm[z[i]]
            perm[z[i]] = i
        return perm

    def bernoulli(self, p, shape, dtype=np.float32):
        """1 where a uniform draw is below p: scalar or float64 p draws float64 uniforms, float32 p float32 ones."""
        n = _numel(shape)
        if isinstance(p, np.ndarray) and p.dtype != np.float64:
            probs = np.broadcast_to(p.astype(np.float32, copy=False), shape).reshape(-1)
            u = self._unit(n, np.float32)
        else:
            probs = np.broadcast_to(np.asarray(p, dtype=np.float64), shape).reshape(-1)
            u = self._unit(n, np.float64)
        return (u < probs).reshape(shape).astype(dtype)

    def exponential(self, scale, shape, dtype=np.float64, lambd=None):
        """Exp(lambd) (``exponential_``): -1/lambd * log1p(-u), u a float64 uniform. ``scale`` = 1/lambd."""
        lambd = 1.0 / scale if lambd is None else float(lambd)
        u = self._unit(_numel(shape), np.float64)
        return ((-1.0 / lambd) * _libm(math.log1p, -u)).reshape(shape).astype(dtype)

    def geometric(self, p, shape, dtype=np.float64):
        """Geometric(p) on {1, 2, ...} (``geometric_``): ceil(log(u) / log(1 - p))."""
        u = self._unit(_numel(shape), np.float64)
        return np.ceil(_libm(math.log, u) / math.log(1.0 - p)).reshape(shape).astype(dtype)

    def cauchy(self, median, sigma, shape, dtype=np.float64):
        """Cauchy(median, sigma) (``cauchy_``): median + sigma * tan(pi * (u - 1/2))."""
        u = self._unit(_numel(shape), np.float64)
        return (median + sigma * _libm(math.tan, math.pi * (u - 0.5))).reshape(shape).astype(dtype)

    def log_normal(self, mean, std, shape, dtype=np.float64):
        """LogNormal(mean, std) (``log_normal_``): exp of one ``normal_distribution<double>`` draw each."""
        z = self._normal_pairs(_numel(shape), float(mean), float(std))
        return _libm(math.exp, z).reshape(shape).astype(dtype)

    def choice(self, n, size, replace, p):
        """``size`` indices of range(n) with probabilities ``p`` (``torch.multinomial`` on one row)."""
        from ._sampling import multinomial_rows
        return multinomial_rows(self, np.asarray(p, dtype=np.float64)[None], int(size), replace)[0]


def _affine_fused(x, span, low):
    """x * span + low rounded once (PyTorch's fused uniform_), for sampler uniforms x, in place, by blocks.

    float32: x (24 bits, a multiple of 2^-24 in [0, 1)) times span is exact in float64; when low's and
    the product's bits also fit in 53 (checked once here: true for uniform_(-b, b) and any low within a
    few binades of span), the float64 sum is exact too and rounding it to float32 is the FMA's single
    rounding. Otherwise (and for float64) the emulated FMA, block by block to keep temporaries in cache.
    """
    f32 = x.dtype == np.float32
    if f32 and _sum_fits_float64(float(span), float(low)):
        span64, low64 = np.float64(span), np.float64(low)
        for start in range(0, x.size, _BLOCK):
            block = x[start:start + _BLOCK]
            t = np.multiply(block, span64)
            t += low64
            block[...] = t
        return x
    fma = fma32 if f32 else fma64
    for start in range(0, x.size, _BLOCK):
        x[start:start + _BLOCK] = fma(x[start:start + _BLOCK], span, low)
    return x


def _sum_fits_float64(span, low):
    """Whether k 2^-24 * span + low is exact in float64 for every k < 2^24 (span, low float32 values)."""
    ulp32 = lambda v: float(np.spacing(np.float32(abs(v))))
    if not (math.isfinite(span) and math.isfinite(low)) or span == 0:
        return False
    lsb = min(2.0 ** -24 * ulp32(span), ulp32(low) if low else math.inf)
    return abs(low) + abs(span) < 2.0 ** 53 * lsb


_BLOCK = 1 << 15                         # elements per block in the fused uniform_ loops


def _numel(shape):
    return int(np.prod(shape, dtype=np.int64)) if np.ndim(shape) else int(shape)


def _sample_dtype(dtype):
    """Where PyTorch draws float64 bits (float64) and where 24-bit floats (every other dtype)."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _libm(fn, x):
    """Apply a ``math`` function element by element.

    NOTE: NumPy's float64 log/log1p/exp/tan are its own SIMD code and differ from
    glibc in the last bit for ~1% of inputs; PyTorch calls glibc, and so does ``math``.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.fromiter(map(fn, x.reshape(-1).tolist()), dtype=np.float64, count=x.size).reshape(x.shape)


def _normal_fill_16_float64(block, mean, std):
    """PyTorch's scalar ``normal_fill_16`` in float64 (log, cos and sin as glibc's).

    out[:, :8] = r cos(theta) * std + mean, out[:, 8:] = r sin(theta) * std + mean, with
    r = sqrt(-2 log(1 - block[:, :8])), theta = 2 pi block[:, 8:]; PyTorch's build fuses the
    ``* std + mean`` into one FMA. Overwrites ``block`` and returns it. The r cos / r sin part is
    numba's compiled loop (with a true FMA) when the optional extra is installed (same bits), else NumPy's.
    """
    compiled = _numba_engine.normal_fill_f64()
    if compiled is None:
        return _numpy_normal_fill_f64(block, mean, std)
    compiled(block, mean, std)
    return block


def _numpy_normal_fill_f64(block, mean, std):
    """``_normal_fill_16_float64`` in NumPy: the FMA emulated, or skipped where a plain op rounds the same."""
    _box_muller_f64(block)
    if mean == 0:                  # fma(n, std, 0) rounds only the product: a plain multiply
        if std != 1:
            block *= std
    elif not _exact_scale(std):
        return fma64(block, std, mean)
    elif std != 1:                 # (r cos) * std is exact: the FMA rounds only the sum
        block *= std
    if mean != 0 or not block.all():        # (+ 0.0 only turns a -0.0, from r == 0, into +0.0)
        block += mean
    return block


def _box_muller_f64(block):
    """NumPy: [:, :8] <- r cos(theta), [:, 8:] <- r sin(theta) in place (NumPy's cos/sin are glibc's).

    The two halves of each row are first copied apart as 64-byte items (one fast copy) so that every
    pass after runs over contiguous memory: a ufunc over block[:, :8] loops 8 elements at a time.
    """
    rows = block.shape[0]
    halves = np.empty((2, rows * 8))
    halves.view("V64").reshape(2, rows)[...] = block.view("V64").T
    u1, theta = halves[0], halves[1]
    radius = _libm_log.log(1.0 - u1, positive_normal=True)     # 1 - u is in [2^-53, 1]
    radius *= -2.0
    np.sqrt(radius, out=radius)
    theta *= 2.0 * math.pi
    np.cos(theta, out=u1)                           # the uniforms are used up: write over them
    np.sin(theta, out=theta)
    halves *= radius
    block.view("V64").T[...] = halves.view("V64").reshape(2, rows)
    return block


def _exact_scale(std):
    """Whether x * std is exact for every |x| < 16: std a power of two far from under/overflow (or 1)."""
    std = float(std)
    return std == 1.0 or (math.frexp(std)[0] in (0.5, -0.5) and 2.0 ** -960 < abs(std) < 2.0 ** 960)


default_generator = Generator()


def get_generator(generator=None):
    return default_generator if generator is None else generator


def manual_seed(seed):
    """Seed the default generator (and return it, like PyTorch)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, **_device_kwargs):
    """Run a block with the default generator's state saved and restored afterwards (``torch.random.fork_rng``)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
