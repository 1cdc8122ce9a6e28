"""LLVM operations that numba does not spell, shared by the compiled kernels of the [fast] extra.

Imported only by kernel modules (it imports numba), never by ``import deepdive``. Kernels bind these as
module globals: numba's on-disk cache keys a function by its bytecode and closure cells, and an intrinsic
in a closure cell pickles differently in every process (always a cache miss).
"""
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (``llvm.fma``: vfmadd on an FMA CPU, else libm's exact fma)."""
    float_type = types.float32 if a == types.float32 else types.float64
    return float_type(float_type, float_type, float_type), lambda ctx, builder, sig, args: builder.fma(*args)


@intrinsic
def float_bits(typingctx, x):
    """A float32's bits as uint32 (a bitcast, not a conversion)."""
    return types.uint32(types.float32), lambda ctx, builder, sig, args: builder.bitcast(args[0], ir.IntType(32))


@intrinsic
def bits_float(typingctx, bits):
    """Integer bits as the float32 they encode: a free bitcast, so loops stay vectorised. int32 and uint32
    are taken as they are; any other integer is first converted to uint32 by numba."""
    bits_type = bits if bits in (types.int32, types.uint32) else types.uint32
    return types.float32(bits_type), lambda ctx, builder, sig, args: builder.bitcast(args[0], ir.FloatType())
