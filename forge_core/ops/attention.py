"""Scaled dot-product attention as one fused op with a hand-written backward pass.

Composed from primitive ops, attention records a dozen graph nodes (two matmuls, a scale, a mask,
the four steps of a softmax, dropout) and keeps as many score-sized temporaries alive for the
backward pass. Here the forward keeps only the attention weights (and the dropout mask), and the
backward is the closed form: with ``P`` the weights, ``D`` the dropout mask and ``g`` the output
gradient,

    dV = (P·D)ᵀ g,   dP = (g Vᵀ) · D,   dS = P · (dP - rowsum(dP · P)) · scale,
    dQ = dS K,       dK = dSᵀ Q.

Masked positions get weight 0 and therefore no gradient. A row whose every key is masked out
gets weights 0 and output 0 (PyTorch's rule), not the NaN a plain softmax would give.
"""

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops._broadcast import unbroadcast
from forge_core.random import generator


def _masked_scores(scores: Array, mask: Array | None) -> Array:
    """Apply a boolean mask (True: the query may attend to the key) or an additive float mask,
    broadcast to the scores' shape (``F.scaled_dot_product_attention`` checks that it is)."""
    if mask is None:
        return scores
    if mask.dtype == xp.bool_:
        if mask.shape == scores.shape:
            xp.putmask(scores, ~mask, -xp.inf)
            return scores
        return xp.where(mask, scores, scores.dtype.type(-xp.inf))
    scores += mask
    return scores


def _safe_softmax(scores: Array) -> Array:
    """Softmax over the last dim, in place; a row that is all ``-inf`` gives zeros."""
    peak = scores.max(axis=-1, keepdims=True)
    fully_masked = xp.isneginf(peak)
    if fully_masked.any():
        peak[fully_masked] = 0
    scores -= peak
    xp.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    if fully_masked.any():
        total[fully_masked] = 1
    scores /= total
    return scores


class ScaledDotProductAttention(Function):
    """``softmax(q kᵀ · scale + mask) v`` over inputs ``(..., L, E)``, ``(..., S, E)`` and
    ``(..., S, Ev)`` whose leading dims broadcast.

    With ``need_weights`` the op has a second output, the attention weights ``(..., L, S)``
    after dropout (what ``nn.MultiheadAttention`` returns), and gradients flow through both.
    """

    def forward(
        self,
        q: Array,
        k: Array,
        v: Array,
        mask: Array | None,
        dropout_p: float,
        scale: float,
        need_weights: bool,
    ) -> Array | tuple[Array, Array]:
        scores = q @ xp.swapaxes(k, -1, -2)
        scores *= scores.dtype.type(scale)
        weights = _safe_softmax(_masked_scores(scores, mask))
        keep = None
        dropped = weights
        if dropout_p > 0:
            draws = generator().random(weights.shape, dtype=weights.dtype)
            survivor = weights.dtype.type(1 / (1 - dropout_p) if dropout_p < 1 else 0)
            keep = (draws >= dropout_p) * survivor
            dropped = weights * keep
        self.saved = (q, k, v, weights, dropped, keep, scale)
        out = dropped @ v
        return (out, dropped) if need_weights else out

    def backward(
        self, g: Array, g_weights: Array | None = None
    ) -> tuple[Array | None, Array | None, Array | None]:
        q, k, v, weights, dropped, keep, scale = self.saved
        need_q, need_k, need_v = self.needs_input_grad
        grad_v = unbroadcast(xp.swapaxes(dropped, -1, -2) @ g, v.shape) if need_v else None
        if not (need_q or need_k):
            return None, None, grad_v
        grad_scores = g @ xp.swapaxes(v, -1, -2)
        if g_weights is not None:
            grad_scores += g_weights
        if keep is not None:
            grad_scores *= keep
        grad_scores -= (grad_scores * weights).sum(axis=-1, keepdims=True)
        grad_scores *= weights
        grad_scores *= grad_scores.dtype.type(scale)
        grad_q = unbroadcast(grad_scores @ k, q.shape) if need_q else None
        grad_k = unbroadcast(xp.swapaxes(grad_scores, -1, -2) @ q, k.shape) if need_k else None
        return grad_q, grad_k, grad_v
