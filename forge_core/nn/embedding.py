"""``Embedding``: a learnable lookup table from integer ids to vectors."""

from __future__ import annotations

from typing import Any

from forge_core.autograd import no_grad
from forge_core.backend import xp
from forge_core.dtypes import get_default_dtype
from forge_core.nn import functional as F
from forge_core.nn.init import normal_
from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter
from forge_core.tensor import Tensor


class Embedding(Module):
    """``weight`` of shape ``(num_embeddings, embedding_dim)``, initialised from N(0, 1) as in
    PyTorch. The ``padding_idx`` row starts at zero and receives no gradient, so padding tokens
    map to a zero vector throughout training."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx {padding_idx} is out of range for {num_embeddings} embeddings"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        shape = (num_embeddings, embedding_dim)
        self.weight = Parameter(xp.empty(shape, dtype=dtype or get_default_dtype()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An embedding holding a copy of ``embeddings``; ``freeze`` stops it from training."""
        rows, dim = embeddings.shape
        layer = cls(rows, dim, padding_idx=padding_idx, dtype=embeddings.dtype)
        with no_grad():
            layer.weight.data[...] = embeddings.data
        layer.weight.requires_grad = not freeze
        return layer

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
