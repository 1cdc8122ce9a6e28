"""glibc's float64 ``log``, vectorised in NumPy: the same bits as ``math.log`` (and PyTorch's ``std::log``).

PyTorch's float64 normal sampler calls glibc's ``log`` per element. NumPy's own
``np.log`` is different SIMD code that disagrees with glibc in the last bit for
~0.3% of inputs, and ``math.log`` in a Python loop costs ~70 ns a number. So we
redo glibc's algorithm (glibc >= 2.28, from Arm's optimized-routines) over whole
arrays, with glibc's own table read from the libm this process has loaded:

    x = 2^k z, z in [0x1.6p-1, 0x1.6p0), c the centre of z's table interval (1 of 128),
    r = fma(z, 1/c, -1)                                   (|r| < 1/256, exact below)
    hi = k ln2_hi + log c + r,   lo = the rounding error of that sum + k ln2_lo,
    log x = hi + (lo + r^2 A0 + r^3 (A1 + r A2 + r^2 (A3 + r A4)))        rounded once,

and near 1 (x in [1 - 2^-4, 1 + 0x1.09p-4)) a degree-11 polynomial in r = x - 1,
summed as hi + lo the same way.

NOTE: the last addition ``hi + t`` is where the result is rounded. ``hi`` is
bit-identical to glibc's (``r`` is computed exactly: a Dekker product gives the
fma's single rounding), but ``t`` may differ from glibc's by a few units of
2^-70 because its compiler fuses some multiply-adds. That can only change the
result when ``hi + t`` lies within that distance of a midpoint between two
doubles; those elements (~0.5%: the test below is generous) are flagged and
recomputed with ``math.log`` itself, as are subnormals, inf and NaN (zero and
negatives raise ``math.log``'s ValueError, as before). So the output is glibc's
bit for bit, never an approximation of it.

If the table cannot be found (not glibc, or a different algorithm), or the
first use's self-check against ``math.log`` fails, ``log`` is ``math.log`` per
element: slower, never different.
"""
import math
import struct

import numpy as np

_U64 = np.uint64
_OFF = 0x3FE6000000000000
_NEAR1_LO = 0x3FEE000000000000            # asuint64(1 - 2^-4)
_NEAR1_HI = 0x3FF1090000000000            # asuint64(1 + 0x1.09p-4)
_SPLIT = 134217729.0                      # 2^27 + 1, Veltkamp's splitter
# |hi + t| within (1 + _WINDOW)^-1 of half an ulp from y is "too close to call" (see the NOTE above)
# (2^-8 there; 2^-5 near 1, where a fused r^3 P(r) + lo moves t by up to |r|^3 / 3 ulps of r^3 P(r))
_WINDOW, _WINDOW_NEAR1 = 2.0 ** -8, 2.0 ** -5
_HEAD = struct.pack("<ddd", float.fromhex("0x1.62e42fefa3800p-1"),      # ln2hi, ln2lo, A[0]: the start
                    float.fromhex("0x1.ef35793c76730p-45"),             # of glibc's __log_data
                    float.fromhex("-0x1.0000000000001p-1"))

# NOTE: ~60 array passes run over blocks of this many elements: their temporaries (128 KB each) stay in
# cache and in malloc's free lists (over 10^6 elements at once, every fresh 8 MB temporary costs page
# faults); 2^14 measured best (smaller blocks pay more per-call overhead).
_BLOCK = 1 << 14

_tables = None                            # None: not looked up yet; False: unavailable


def _libm_path():
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                name = line.rsplit(None, 1)[-1]
                if "/libm.so" in name or "/libm-" in name:
                    return name
    except OSError:
        pass
    return None


def _load_tables():
    """glibc's ``__log_data`` (ln2hi, ln2lo, poly[5], poly1[11], tab[128] of (invc, logc)) from libm's file."""
    path = _libm_path()
    if path is None:
        return False
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    at = data.find(_HEAD)
    if at < 0 or data.find(_HEAD, at + 1) >= 0:          # absent, or ambiguous: do not guess
        return False
    v = np.frombuffer(data, "<f8", count=2 + 5 + 11 + 256, offset=at).astype(np.float64)
    tab = v[18:].reshape(128, 2)
    invc = np.ascontiguousarray(tab[:, 0])
    c = _SPLIT * invc                                    # invc = ih + il, each of <= 26 bits (Veltkamp)
    ih = c - (c - invc)
    return {"ln2hi": v[0], "ln2lo": v[1], "A": v[2:7].tolist(), "B": v[7:18].tolist(),
            "invc": invc, "ih": ih, "il": invc - ih, "logc": np.ascontiguousarray(tab[:, 1])}


def _fast_log(x, t):
    """glibc's log for positive normal finite float64 ``x``, and the mask of elements to redo with math.log."""
    ix = x.view(_U64)
    near1 = (ix - _U64(_NEAR1_LO)) < _U64(_NEAR1_HI - _NEAR1_LO)
    tmp = (ix - _U64(_OFF)).view(np.int64)
    i = tmp >> 45
    i &= 127
    kd = (tmp >> 52).astype(np.float64)
    tmp &= np.int64(-1 << 52)                            # (0xfff << 52 as a signed mask)
    iz = ix - tmp.view(_U64)
    z = iz.view(np.float64)
    invc = t["invc"].take(i)
    # r = fma(z, invc, -1), rounded once: p = z * invc rounded, e = z * invc - p exactly (Dekker: z split
    # by masking into 26 + 27 bits, invc into 26 + 26 in the table, so all four partial products are exact),
    # and p - 1 is exact (p is within 2^-7 of 1)
    p = z * invc
    zh = (iz & _U64(0xFFFFFFFFF8000000)).view(np.float64)
    zl = z - zh
    ih, il = t["ih"].take(i), t["il"].take(i)
    e = zh * ih
    e -= p
    zh *= il
    e += zh
    zh = zl * ih
    e += zh
    zl *= il
    e += zl
    p -= 1.0
    r = p + e
    # hi + lo = k ln2 + log c + r  (k ln2hi is exact: ln2hi has 42 bits)
    w = kd * t["ln2hi"]
    w += t["logc"].take(i)
    hi = w + r
    w -= hi
    lo = w
    lo += r
    kd *= t["ln2lo"]
    lo += kd
    A = t["A"]
    r2 = r * r
    poly = r * A[4]
    poly += A[3]
    poly *= r2
    e = r * A[2]
    poly += e
    poly += A[1]
    r *= r2
    poly *= r
    r2 *= A[0]
    lo += r2
    lo += poly
    y = lo + hi
    redo = _too_close(y, hi, lo, _WINDOW)
    near1 = np.flatnonzero(near1)             # ~6% of u in (0, 1]: indices, not boolean masks, to scatter
    if near1.size:
        hi, lo = _near1(x.take(near1), t["B"])
        y_near1 = lo + hi
        y[near1] = y_near1
        redo[near1] = _too_close(y_near1, hi, lo, _WINDOW_NEAR1)
    return y, redo


def _near1(x, B):
    """glibc's path for x within 2^-4 of 1: log1p(r) = r - r^2/2 + r^3 P(r), hi + lo split."""
    r = x - 1.0
    r2 = r * r
    r3 = r * r2
    inner = B[7] + r * B[8] + r2 * B[9] + r3 * B[10]
    inner = B[4] + r * B[5] + r2 * B[6] + r3 * inner
    y = r3 * (B[1] + r * B[2] + r2 * B[3] + r3 * inner)
    w = r * 2.0 ** 27
    rhi = r + w - w
    rlo = r - rhi
    w = rhi * rhi * B[0]                  # B[0] == -0.5
    hi = r + w
    lo = r - hi + w
    lo += B[0] * rlo * (rhi + r)
    lo += y
    return hi, lo


def _too_close(y, hi, lo, window):
    """Where y = RN(hi + lo) might round the other way for a ``lo`` off by a tiny amount.

    err = (hi + lo) - y exactly (Fast2Sum, |hi| >= |lo|); y + err * (1 + w)
    rounds away from y exactly when |err| is within a fraction w of half the
    spacing around y (either side, powers of two included).
    """
    err = y - hi
    np.subtract(lo, err, out=err)
    err *= 1.0 + window
    err += y
    return err != y


def _scalar(x):
    return np.fromiter(map(math.log, x.tolist()), dtype=np.float64, count=x.size)


def _self_check(t):
    """The vectorised path must equal math.log on a spread of inputs: every table interval, near 1, wide exponents."""
    rng = np.random.default_rng(12345)
    probe = np.concatenate([1.0 - rng.random(6000), rng.random(2000) * 0.25 + 0.9, 2.0 ** rng.uniform(-1000, 1000, 2000),
                            np.nextafter(1.0, [0.0, 2.0]), [1.0, 0.5, 2.0, float.fromhex("0x1.6p-1")]])
    y, redo = _fast_log(probe, t)
    y[redo] = _scalar(probe[redo])
    return bool(np.array_equal(y, _scalar(probe)))


def log(x, positive_normal=False):
    """``math.log`` of each element of a float64 array (a new float64 array of the same shape).

    ``positive_normal=True`` promises every element is positive, normal and finite (a sampler's u in
    (0, 1]), which skips that check.
    """
    global _tables
    x = np.asarray(x, dtype=np.float64)
    if _tables is None:
        tables = _load_tables()
        _tables = tables if tables and _self_check(tables) else False
    flat = np.ascontiguousarray(x).reshape(-1)
    if not _tables or flat.size < 64:
        return _scalar(flat).reshape(x.shape)
    if flat.size <= _BLOCK:
        return _log_block(flat, positive_normal).reshape(x.shape)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _BLOCK):
        out[start:start + _BLOCK] = _log_block(flat[start:start + _BLOCK], positive_normal)
    return out.reshape(x.shape)


def _log_block(x, positive_normal):
    ok = True if positive_normal else (x >= 2.2250738585072014e-308) & (x <= 1.7976931348623157e308)
    if positive_normal or ok.all():
        y, redo = _fast_log(x, _tables)
    else:
        y = np.empty_like(x)
        y[ok], redo_ok = _fast_log(x[ok], _tables)
        redo = ~ok
        redo[ok] = redo_ok
    redo = np.flatnonzero(redo)
    if redo.size:
        y[redo] = _scalar(x.take(redo))
    return y
