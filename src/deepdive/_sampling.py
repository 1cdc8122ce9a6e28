"""Multinomial and Poisson sampling the way PyTorch's CPU kernels draw them.

Both are built on ``Generator``'s uniform and exponential draws, so they
consume the same twister outputs as ``torch.multinomial`` / ``torch.poisson``.
"""
import math

import numpy as np


def multinomial_rows(gen, probs, num_samples, replacement):
    """Indices sampled from each row of ``probs`` (2-D, non-negative, any scale).

    Without replacement, or for a single sample, PyTorch uses the exponential
    race (Gumbel-max in exp form): q ~ Exp(1), take the top-k of p / q.
    With replacement it inverts the normalised cumulative sum (accumulated in
    the input's dtype) with one float64 uniform per sample, by binary search.
    """
    rows, k = probs.shape
    if not replacement or num_samples == 1:
        q = gen.exponential(1.0, probs.shape, dtype=probs.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = probs / q
        if num_samples == 1:
            return np.argmax(q, axis=-1)[:, None].astype(np.int64)
        return np.argsort(-q, axis=-1, kind="stable")[:, :num_samples].astype(np.int64)
    out = np.empty((rows, num_samples), dtype=np.int64)
    for r in range(rows):
        cum = np.cumsum(probs[r])                 # sequential sum in the input's dtype, as PyTorch's loop
        cum = cum / cum[-1]
        cum[-1] = 1
        u = gen.uniform(0.0, 1.0, (num_samples,), np.float64)
        out[r] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out


def poisson(gen, rates):
    """One Poisson draw per rate: products of uniforms below 10, Hoermann's PTRS (1993) from 10 on."""
    flat = np.asarray(rates, dtype=np.float64).reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    uniform = lambda: float(gen.uniform(0.0, 1.0, (1,), np.float64)[0])
    for i, lam in enumerate(flat.tolist()):
        out[i] = _poisson_one(lam, uniform)
    return out.reshape(np.shape(rates))


def _poisson_one(lam, uniform):
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            U = uniform() - 0.5
            V = uniform()
            us = 0.5 - abs(U)
            k = math.floor((2 * a / us + b) * U + lam + 0.43)
            if us >= 0.07 and V <= vr:
                return k
            if k < 0 or (us < 0.013 and V > us):
                continue
            if (math.log(V) + math.log(invalpha) - math.log(a / (us * us) + b)
                    <= -lam + k * loglam - math.lgamma(k + 1.0)):
                return k
    if lam == 0:
        return 0
    enlam, x, prod = math.exp(-lam), 0, 1.0
    while True:
        prod *= uniform()
        if prod > enlam:
            x += 1
        else:
            return x
