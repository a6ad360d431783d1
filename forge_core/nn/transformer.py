"""The Transformer encoder: ``TransformerEncoderLayer`` and the ``TransformerEncoder`` stack.

Submodules and parameters carry PyTorch's names (``self_attn``, ``linear1``, ``norm1``,
``layers.0…``), so a PyTorch encoder's ``state_dict`` loads as it is. PyTorch's inference fast
path (nested tensors, which zero the padded positions of the output) has no counterpart here:
every mode computes the same thing as PyTorch's training path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from forge_core.backend import Array
from forge_core.nn import functional as F
from forge_core.nn.attention import MultiheadAttention
from forge_core.nn.container import ModuleList
from forge_core.nn.dropout import Dropout
from forge_core.nn.linear import Linear
from forge_core.nn.module import Module
from forge_core.nn.normalization import LayerNorm
from forge_core.tensor import Tensor

Activation = str | Callable[[Tensor], Tensor]
Mask = Tensor | Array | None


def _activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise ValueError(f"activation must be 'relu', 'gelu' or a callable, not {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a two-layer feed-forward block, each wrapped in dropout, a residual
    connection and layer norm: after the residual by default (post-norm, "Attention is all you
    need"), before each block with ``norm_first=True``."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        if dtype is not None:
            self.norm1.to(dtype)
            self.norm2.to(dtype)

    def forward(
        self,
        src: Tensor,
        src_mask: Mask = None,
        src_key_padding_mask: Mask = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _self_attention(
        self, x: Tensor, mask: Mask, key_padding_mask: Mask, is_causal: bool
    ) -> Tensor:
        out, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )
        result: Tensor = self.dropout1(out)
        return result

    def _feed_forward(self, x: Tensor) -> Tensor:
        hidden = self.dropout(self.activation(self.linear1(x)))
        result: Tensor = self.dropout2(self.linear2(hidden))
        return result


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (each with its own weights) run in
    order, then the optional final ``norm``. ``is_causal`` is the hint that ``mask`` is
    causal; the mask itself is what applies."""

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, not {num_layers}")
        self.layers = ModuleList(copy.deepcopy(encoder_layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        src: Tensor,
        mask: Mask = None,
        src_key_padding_mask: Mask = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        out = src
        for layer in self.layers:
            out = layer(
                out,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        if self.norm is not None:
            out = self.norm(out)
        return out
