"""Grouped and depthwise convolution as a loop over the kernel's offsets, without im2col.

For groups > 1 each output channel sees only Cg = C/groups input channels, so the im2col matrix
(C*kh*kw rows) is mostly copying: the GEMMs per group are thin (Og x Cg*kh*kw), and the columns and their
gradient (kh*kw copies of the input) cost more to write, transpose and fold back than the arithmetic.
Here the input stays in place and each of the kh*kw kernel offsets (i, j) adds one product of a shifted
window ("slab") of the padded input:

    slab_ij[n, g, c, y, x] = x_pad[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]
    out[n, g]  += W[g, :, :, i, j] @ slab_ij[n, g]          (an (Og x Cg) @ (Cg x P) product per n, g)

Depthwise (Cg = Og = 1) makes each product a broadcast multiply-add. The backward runs the same loop:
dW[.., i, j] = sum_n G[n] @ slab_ij[n]^T, and dx_pad[slab_ij] += W[.., i, j]^T @ G.

NOTE: with stride 1 the padded image is kept flat, (N, C, Hp*Wp), so a slab is the contiguous run
x_flat[.., i*dh*Wp + j*dw : + oh*Wp]: each output row is computed Wp wide (the Wp - ow extra columns
are garbage, dropped at the end, and given zero gradient). One long run per channel instead of oh runs of
ow numbers makes NumPy's inner loops long: 2-4x faster for the small images of depthwise layers.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd._graph import linked_input
from .conv import crop2d, ConvolutionGrad


class GroupedConvolution(Function):
    """out = conv(x, W) + b for groups > 1, one slab product per kernel offset (see the module doc).

    Backward (G = dL/dout as (N, groups, Og, P)):
        dW[g, o, c, i, j] = sum_{n, p} G[n, g, o, p] * slab_ij[n, g, c, p]
        dx_pad[slab_ij]  += sum_o W[g, o, c, i, j] * G[n, g, o, p],    db = sum_{n, p} G
    """

    @classmethod
    def name(cls):
        return "ConvolutionBackward0"         # PyTorch's grad_fn name for every convolution

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        x_shape4, (O, Cg, kh, kw), out_shape, _, _, _, groups, (oh, ow) = geometry
        N = x_shape4[0]
        Og = O // groups
        layout = _Layout(geometry)
        buffer = layout.padded(x.reshape(x_shape4))
        w = weight.reshape(groups, Og, Cg, kh, kw)
        out = np.zeros((N, groups, Og) + layout.window, dtype=x.dtype)
        for batch in _batch_chunks(N, out[0].nbytes):
            out_b, buffer_b = out[batch], buffer[batch]
            n = out_b.shape[0]
            for i in range(kh):
                for j in range(kw):
                    slab = layout.slab(buffer_b, i, j)                    # (n, groups, Cg) + window
                    if Cg == 1 and Og == 1:                               # depthwise: a broadcast multiply-add
                        out_b += w[:, :, :, i, j].reshape((groups, 1) + (1,) * len(layout.window)) * slab
                    else:
                        out_b.reshape(n, groups, Og, -1)[...] += np.matmul(w[:, :, :, i, j],
                                                                           slab.reshape(n, groups, Cg, -1))
        if bias is not None:
            out += bias.reshape((groups, Og) + (1,) * len(layout.window))
        ctx.save_for_backward(buffer, weight)
        ctx.layout, ctx.x_shape = layout, x.shape
        return np.ascontiguousarray(layout.crop(out.reshape(N, O, -1))).reshape(out_shape)

    @staticmethod
    def backward(ctx, grad):
        buffer, weight = ctx.saved_tensors
        layout = ctx.layout
        x_shape4, (O, Cg, kh, kw), _, _, padding, _, groups, (oh, ow) = layout.geometry
        N, C, H, W = x_shape4
        Og = O // groups
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = layout.uncrop(grad.reshape(N, O, oh, ow)).reshape((N, groups, Og) + layout.window)
        w = weight.reshape(groups, Og, Cg, kh, kw)
        depthwise = Cg == 1 and Og == 1
        dbuffer = np.zeros(buffer.shape, dtype=buffer.dtype) if need_x else None
        dw = np.zeros((groups, Og, Cg, kh, kw), dtype=weight.dtype) if need_w else None
        for batch in _batch_chunks(N, g[0].nbytes):
            g_b, buffer_b = g[batch], buffer[batch]
            n = g_b.shape[0]
            g_mat = g_b.reshape(n, groups, Og, -1)
            for i in range(kh):
                for j in range(kw):
                    slab = layout.slab(buffer_b, i, j)
                    if need_w:
                        if depthwise:
                            dw[:, 0, 0, i, j] += np.einsum("ngp,ngp->g", g_mat[:, :, 0], slab.reshape(n, groups, -1))
                        else:
                            slab_mat = slab.reshape(n, groups, Cg, -1)
                            dw[:, :, :, i, j] += np.matmul(g_mat, slab_mat.transpose(0, 1, 3, 2)).sum(axis=0)
                    if need_x:
                        target = layout.slab(dbuffer[batch], i, j)
                        if depthwise:
                            target += w[:, :, :, i, j].reshape((groups, 1) + (1,) * len(layout.window)) * g_b
                        else:
                            target += np.matmul(w[:, :, :, i, j].transpose(0, 2, 1), g_mat).reshape(target.shape)
        dx = np.ascontiguousarray(layout.unpad(dbuffer)).reshape(ctx.x_shape) if need_x else None
        db = g.reshape(N, O, -1).sum(axis=(0, 2)) if need_b else None
        return dx, None if dw is None else dw.reshape(weight.shape), db, None

    @staticmethod
    def graph_backward(ctx, grad):
        # Recorded through the im2col Convolution's differentiable products (which handle groups): the
        # input, kept here only inside the padded buffer, is taken out of it and linked to the real one.
        buffer, weight = ctx.saved_tensors
        geometry = ctx.layout.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        x = linked_input(ctx, 0, np.ascontiguousarray(ctx.layout.unpad(buffer._data)).reshape(ctx.x_shape))
        dx, dw = ConvolutionGrad.apply(grad, weight, x, geometry, need_x, need_w)
        db = grad.reshape(geometry[0][0], geometry[1][0], -1).sum(dim=(0, 2)) if need_b else None
        return dx if need_x else None, dw if need_w else None, db, None


CACHE_BYTES = 256 << 10


def _batch_chunks(N, sample_bytes):
    """Slices of the batch whose outputs fit in ~CACHE_BYTES.

    NOTE: the kh*kw slab products of one chunk then stay in the CPU's L2 cache instead of streaming the
    whole batch through memory kh*kw times: ~1.8x faster for depthwise layers.
    """
    chunk = max(1, CACHE_BYTES // max(sample_bytes, 1))
    return [slice(n, n + chunk) for n in range(0, N, chunk)]


class _Layout:
    """Where the slabs of the padded input lie: a flat (N, C, Hp*Wp) buffer for stride 1 (window = (oh*Wp,)),
    the padded (N, C, Hp, Wp) image otherwise (window = (oh, ow), slabs strided by the stride)."""

    def __init__(self, geometry):
        self.geometry = geometry
        x_shape4, (O, Cg, kh, kw), _, stride, (top, bottom, left, right), dilation, groups, (oh, ow) = geometry
        N, C, H, W = x_shape4
        self.hp, self.wp = H + top + bottom, W + left + right
        self.flat = stride == (1, 1)
        self.window = (oh * self.wp,) if self.flat else (oh, ow)

    def padded(self, x):
        x_shape4, (_, Cg, kh, kw), _, _, (top, _, left, _), (dh, dw), groups, _ = self.geometry
        N, C, H, W = x_shape4
        # flat: (kw - 1)*dw spare zeros at the end, read by the last row's garbage columns only
        size = self.hp * self.wp + ((kw - 1) * dw if self.flat else 0)
        buffer = np.zeros((N, C, size), dtype=x.dtype)
        buffer[..., :self.hp * self.wp].reshape(N, C, self.hp, self.wp)[:, :, top:top + H, left:left + W] = x
        return buffer.reshape(N, groups, Cg, -1) if self.flat else \
            buffer.reshape(N, groups, Cg, self.hp, self.wp)

    def slab(self, buffer, i, j):
        _, _, _, (sh, sw), _, (dh, dw), _, (oh, ow) = self.geometry
        if self.flat:
            start = i * dh * self.wp + j * dw
            return buffer[..., start:start + oh * self.wp]
        return buffer[..., i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]

    def crop(self, out):
        """(N, O, window...) flattened -> (N, O, oh, ow) (drops the flat layout's garbage columns)."""
        oh, ow = self.geometry[-1]
        return out.reshape(out.shape[:2] + (oh, -1))[..., :ow]

    def uncrop(self, grad):
        """The adjoint of ``crop``: (N, O, oh, ow) -> (N, O, window...), zeros in the garbage columns."""
        if not self.flat:
            return grad
        oh, ow = self.geometry[-1]
        full = np.zeros(grad.shape[:2] + (oh, self.wp), dtype=grad.dtype)
        full[..., :ow] = grad
        return full

    def unpad(self, dbuffer):
        """The adjoint of ``padded``: the gradient of x (N, C, H, W) from the buffer's gradient."""
        x_shape4, _, _, _, padding, _, _, _ = self.geometry
        N, C, H, W = x_shape4
        image = dbuffer.reshape(N, C, -1)[..., :self.hp * self.wp].reshape(N, C, self.hp, self.wp)
        return crop2d(image, padding, (H, W))
