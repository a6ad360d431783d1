"""``MultiheadAttention`` with PyTorch's parameter layout, so that its ``state_dict`` loads.

The query, key and value projections live in one ``in_proj_weight`` ``(3E, E)`` and
``in_proj_bias`` ``(3E,)`` (or in ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
the key or value width differs from ``embed_dim``), the output projection in ``out_proj``. All
heads run through one fused attention op, which reads each head as a slice of the projections'
last dim and writes its output in the same layout, so no reshapes surround it.

PyTorch's masks here say which positions to *leave out* (True, or ``-inf`` added), the opposite
of ``scaled_dot_product_attention``'s boolean mask; ``_attention_mask`` turns them around and
merges the padding mask into the attention mask.
"""

from __future__ import annotations

import math
from typing import Any

from forge_core.backend import Array, xp
from forge_core.dtypes import get_default_dtype
from forge_core.nn import functional as F
from forge_core.nn import init
from forge_core.nn.linear import Linear
from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter
from forge_core.ops import registry as ops
from forge_core.tensor import Tensor


class MultiheadAttention(Module):
    """Attention of ``num_heads`` heads of width ``embed_dim // num_heads`` each.

    ``forward`` takes ``(L, N, E)`` inputs, or ``(N, L, E)`` with ``batch_first=True``, or
    unbatched ``(L, E)``, and returns ``(output, weights)``: the weights are ``None`` unless
    ``need_weights``, averaged over the heads unless ``average_attn_weights=False``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], not {dropout}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        dtype = dtype or get_default_dtype()
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(xp.empty((3 * embed_dim, embed_dim), dtype=dtype))
        else:
            self.q_proj_weight = Parameter(xp.empty((embed_dim, embed_dim), dtype=dtype))
            self.k_proj_weight = Parameter(xp.empty((embed_dim, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(xp.empty((embed_dim, self.vdim), dtype=dtype))
        if bias:
            self.in_proj_bias: Parameter | None = Parameter(xp.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases (``out_proj.weight`` keeps
        ``Linear``'s default)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | Array | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | Array | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``is_causal`` is PyTorch's hint that ``attn_mask`` is a causal mask; the mask itself
        must be given and is what applies."""
        if is_causal and attn_mask is None:
            raise ValueError(
                "is_causal=True is a hint that attn_mask is causal: pass the causal attn_mask "
                "too (True above the diagonal)"
            )
        unbatched = query.ndim == 2
        self._check_shapes(query, key, value, unbatched)
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        batch, length, _ = query.shape
        source = key.shape[1]
        mask = _attention_mask(
            attn_mask, key_padding_mask, batch, self.num_heads, length, source, query.dtype
        )
        q, k, v = self._project(query, key, value)
        attended = ops.ScaledDotProductAttention.apply(
            q,
            k,
            v,
            mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            scale=1 / math.sqrt(self.head_dim),
            need_weights=need_weights,
            heads=self.num_heads,
        )
        weights: Tensor | None = None
        if need_weights:
            attended, weights = attended
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if unbatched:
                weights = weights.squeeze(0)
        out = self.out_proj(attended)
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _check_shapes(self, query: Tensor, key: Tensor, value: Tensor, unbatched: bool) -> None:
        """All three batched or all unbatched, each as wide as its projection expects, key and
        value alike in batch and length, query and key alike in batch."""
        rank = 2 if unbatched else 3
        layout = "(L, E)" if unbatched else "(N, L, E)" if self.batch_first else "(L, N, E)"
        for name, tensor, width in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if tensor.ndim != rank or tensor.shape[-1] != width:
                raise ValueError(
                    f"{name} must be shaped {layout} with E = {width} (batched like query, or "
                    f"all three unbatched), got {tensor.shape}"
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"key {key.shape} and value {value.shape} differ in batch or length")
        batch_dim = 0 if self.batch_first else 1
        if not unbatched and key.shape[batch_dim] != query.shape[batch_dim]:
            raise ValueError(f"query {query.shape} and key {key.shape} differ in batch size")

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, ...]:
        """The three input projections, each one fused ``linear`` on its slice of the weights."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            weights = [self.in_proj_weight[i * e : (i + 1) * e] for i in range(3)]
        else:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        bias = self.in_proj_bias
        biases = [None] * 3 if bias is None else [bias[i * e : (i + 1) * e] for i in range(3)]
        return tuple(
            F.linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases, strict=True)
        )

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


def _attention_mask(
    attn_mask: Tensor | Array | None,
    key_padding_mask: Tensor | Array | None,
    batch: int,
    heads: int,
    length: int,
    source: int,
    dtype: Any,
) -> Array | None:
    """PyTorch's ``attn_mask`` ``(L, S)`` or ``(N·H, L, S)`` and ``key_padding_mask`` ``(N, S)``
    (True or ``-inf``: leave out) as one mask for the fused op, broadcastable to
    ``(N, H, L, S)``: boolean (True: attend) when both are boolean, else additive."""
    masks: list[Array] = []
    if attn_mask is not None:
        mask = _mask_array(attn_mask, "attn_mask")
        if mask.shape == (length, source):
            masks.append(mask)
        elif mask.shape == (batch * heads, length, source):
            masks.append(mask.reshape(batch, heads, length, source))
        else:
            raise ValueError(
                f"attn_mask must be shaped (L, S) = ({length}, {source}) or (N·num_heads, L, S) "
                f"= ({batch * heads}, {length}, {source}), got {mask.shape}"
            )
    if key_padding_mask is not None:
        mask = _mask_array(key_padding_mask, "key_padding_mask")
        if mask.shape not in ((batch, source), (source,)):
            raise ValueError(
                f"key_padding_mask must be shaped (N, S) = ({batch}, {source}), or (S,) for an "
                f"unbatched input, got {mask.shape}"
            )
        masks.append(mask.reshape(batch, 1, 1, source))
    if not masks:
        return None
    if all(m.dtype == xp.bool_ for m in masks):
        allowed = ~masks[0]
        for m in masks[1:]:
            allowed = allowed & ~m
        return allowed
    total = xp.zeros((), dtype=dtype)
    for m in masks:
        total = total + (xp.where(m, -xp.inf, 0).astype(dtype) if m.dtype == xp.bool_ else m)
    return total.astype(dtype, copy=False)


def _mask_array(mask: Tensor | Array, name: str) -> Array:
    array = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
    if array.dtype != xp.bool_ and array.dtype.kind != "f":
        raise ValueError(f"{name} must be boolean or floating point, not {array.dtype}")
    return array
