"""Embedding lookup: rows of a weight table picked by integer indices.

The backward scatter-adds each output row's gradient into the row it came from (an index that
appears twice gets both gradients); the ``padding_idx`` row gets none, so it stays as it is.
"""

from forge_core.autograd import Function
from forge_core.backend import Array, xp


class Embedding(Function):
    def forward(self, weight: Array, indices: Array, padding_idx: int | None = None) -> Array:
        if indices.dtype.kind not in "iu":
            raise TypeError(f"embedding indices must be integers (int64), not {indices.dtype}")
        rows = weight.shape[0]
        if indices.size and (indices.min() < 0 or indices.max() >= rows):
            bad = indices[(indices < 0) | (indices >= rows)].flat[0]
            raise IndexError(f"index {bad} is out of range for an embedding of {rows} rows")
        self.saved = (indices, weight.shape, weight.dtype, padding_idx)
        return xp.take(weight, indices, axis=0)

    def backward(self, g: Array) -> tuple[Array, None]:
        indices, shape, dtype, padding_idx = self.saved
        grad = xp.zeros(shape, dtype=dtype)
        xp.add.at(grad, indices.reshape(-1), g.reshape(-1, shape[1]))
        if padding_idx is not None:
            grad[padding_idx] = 0
        return grad, None
