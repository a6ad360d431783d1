"""Scaled dot-product attention as one fused op with a hand-written backward pass.

Composed from primitive ops, attention records a dozen graph nodes (two matmuls, a scale, a mask,
the four steps of a softmax, dropout) and keeps as many score-sized temporaries alive for the
backward pass. Here the forward keeps only the attention weights (and the dropout mask), and the
backward is the closed form: with ``P`` the weights, ``M`` the dropout mask (scaled survivors),
``O`` the output and ``g`` its gradient,

    dV = (P·M)ᵀ g,   dP = (g Vᵀ) · M,   dS = P · (dP - δ) · scale,   δ = rowsum(g · O),
    dQ = dS K,       dK = dSᵀ Q.

``δ`` equals ``rowsum(dP · P)`` (the softmax's correction term, FlashAttention's identity) but
costs an ``(L, Ev)`` product instead of an ``(L, S)`` one.

The choices below were measured on the Transformer benchmark's (64·4, 48, 16) batch. The scores
are kept transposed, ``(…, S, L)``, because NumPy's max along a short contiguous last axis runs
about 4x slower than along the one before it. Sums over keys are products with a row of ones
and ``δ`` is an ``einsum`` (each about 4x faster than ``sum``), the softmax multiplies by the
reciprocal of its total instead of dividing (3x), and the scale multiplies ``q`` (``L·E``
values) rather than the scores (``L·S``).

Masked positions get weight 0 and therefore no gradient. A query whose every key is masked out
gets weights 0 and output 0 (PyTorch's rule), not the NaN a plain softmax would give.
"""

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops._broadcast import unbroadcast
from forge_core.random import generator


def _t(a: Array) -> Array:
    """The last two dims swapped: a view."""
    return xp.swapaxes(a, -1, -2)


def _softmax_over_keys(scores_t: Array, masked: bool) -> Array:
    """Softmax of transposed scores ``(…, S, L)`` over the keys (dim -2), in place. With a mask,
    a query whose keys are all ``-inf`` gets zeros."""
    peak = scores_t.max(axis=-2, keepdims=True)
    fully_masked = xp.isneginf(peak) if masked else None
    if fully_masked is not None and fully_masked.any():
        peak[fully_masked] = 0
    else:
        fully_masked = None
    scores_t -= peak
    xp.exp(scores_t, out=scores_t)
    total = xp.ones((1, scores_t.shape[-2]), dtype=scores_t.dtype) @ scores_t
    if fully_masked is not None:
        total[fully_masked] = 1
    scores_t *= xp.reciprocal(total, out=total)
    return scores_t


def _split(x: Array, heads: int) -> Array:
    """``(N, L, H·D)`` as ``(N, H, L, D)``, a view; ``x`` itself when ``heads`` is 0."""
    if not heads:
        return x
    batch, length, width = x.shape
    return x.reshape(batch, length, heads, width // heads).transpose(0, 2, 1, 3)


def _product(a: Array, b: Array, heads: int) -> Array:
    """``a @ b``; with ``heads``, ``(N, H, L, X) @ (N, H, X, D)`` written straight into the
    ``(N, L, H·D)`` layout, which saves merging the heads with a copy."""
    if not heads:
        return a @ b
    batch, count, length, _ = a.shape
    out = xp.empty((batch, length, count, b.shape[-1]), dtype=xp.result_type(a, b))
    xp.matmul(a, b, out=out.transpose(0, 2, 1, 3))
    return out.reshape(batch, length, -1)


class ScaledDotProductAttention(Function):
    """``softmax(q kᵀ · scale + mask) v`` over inputs ``(..., L, E)``, ``(..., S, E)`` and
    ``(..., S, Ev)`` whose leading dims broadcast. ``mask`` is boolean (True: the query may
    attend to the key) or additive, broadcastable to the scores ``(..., L, S)``
    (``F.scaled_dot_product_attention`` checks it).

    With ``heads`` > 0 the inputs are ``(N, L, H·E)``, ``(N, S, H·E)`` and ``(N, S, H·Ev)``,
    each head a slice of the last dim, and so is the output: ``nn.MultiheadAttention`` needs no
    reshapes around the op. With ``need_weights`` the op has a second output, the attention
    weights ``(..., [H,] L, S)`` after dropout (what ``nn.MultiheadAttention`` returns), and
    gradients flow through both.
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
        heads: int = 0,
    ) -> Array | tuple[Array, Array]:
        q_scaled = q * q.dtype.type(scale)
        weights_t = _split(k, heads) @ _t(_split(q_scaled, heads))
        if mask is not None:
            if mask.dtype == xp.bool_:
                xp.copyto(weights_t, weights_t.dtype.type(-xp.inf), where=~_t(mask))
            else:
                weights_t += _t(mask)
        _softmax_over_keys(weights_t, masked=mask is not None)
        keep = None
        dropped_t = weights_t
        if dropout_p > 0:
            draws = generator().random(weights_t.shape, dtype=weights_t.dtype)
            survivor = weights_t.dtype.type(1 / (1 - dropout_p) if dropout_p < 1 else 0)
            keep = (draws >= dropout_p) * survivor
            dropped_t = weights_t * keep
        out = _product(_t(dropped_t), _split(v, heads), heads)
        self.saved = (q_scaled, k, v, weights_t, dropped_t, keep, out, scale, q.shape, heads)
        return (out, _t(dropped_t)) if need_weights else out

    def backward(
        self, g: Array, g_weights: Array | None = None
    ) -> tuple[Array | None, Array | None, Array | None]:
        q_scaled, k, v, weights_t, dropped_t, keep, out, scale, q_shape, heads = self.saved
        need_q, need_k, need_v = self.needs_input_grad
        g_heads = _split(g, heads)
        grad_v = None
        if need_v:
            grad_v = unbroadcast(_product(dropped_t, g_heads, heads), v.shape)
        if not (need_q or need_k):
            return None, None, grad_v
        correction = xp.einsum("...ld,...ld->...l", g_heads, _split(out, heads))[..., None, :]
        grad_t = _split(v, heads) @ _t(g_heads)
        if g_weights is not None:
            grad_t += _t(g_weights)
            correction += (_t(g_weights) * dropped_t).sum(axis=-2, keepdims=True)
        if keep is not None:
            grad_t *= keep
        grad_t -= correction
        grad_t *= weights_t
        grad_q = None
        if need_q:
            grad_q = _product(_t(grad_t), _split(k, heads), heads)
            grad_q *= grad_q.dtype.type(scale)
            grad_q = unbroadcast(grad_q, q_shape)
        grad_k = None
        if need_k:
            grad_k = unbroadcast(_product(grad_t, _split(q_scaled, heads), heads), k.shape)
        return grad_q, grad_k, grad_v
