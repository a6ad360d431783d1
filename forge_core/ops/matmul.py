"""Matrix products: batched ``matmul`` and the fused affine map behind ``nn.Linear``."""

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops._broadcast import unbroadcast


class MatMul(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a, b)
        return xp.matmul(a, b)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        # a vector operand is a matrix with one row (a) or one column (b) whose dim was dropped
        # from the output: put it back, b's first, so that 1-D @ 1-D gives g a (1, 1) shape
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(g @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                flat_a = a2.reshape(-1, a2.shape[-1])
                grad_b = (flat_a.T @ g.reshape(-1, g.shape[-1])).reshape(b.shape)
            else:
                grad_b = unbroadcast(xp.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Linear(Function):
    """``x @ weight.T + bias`` with weight in PyTorch's ``(out_features, in_features)`` layout."""

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        self.saved = (x, weight)
        # one GEMM over all leading dims: a 3-D @ 2-D matmul is a loop of small GEMMs, ~1.7x
        # slower for a (64, 48, 64) batch
        out = x.reshape(-1, x.shape[-1]) @ weight.T
        if bias is not None:
            out += bias
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        x, weight = self.saved
        need_x, need_w, *need_b = self.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        grad_x = (g2 @ weight).reshape(x.shape) if need_x else None
        grad_w = g2.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        if need_b:
            # the column sums as a GEMV: about 6x faster than NumPy's sum over the rows of a
            # (3072, 64) float32 gradient, the Transformer benchmark's
            grad_b = xp.ones(g2.shape[0], dtype=g2.dtype) @ g2 if need_b[0] else None
            return grad_x, grad_w, grad_b
        return grad_x, grad_w
