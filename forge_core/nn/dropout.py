"""``Dropout``: a regulariser that is active in training mode only."""

from forge_core.nn import functional as F
from forge_core.nn.module import Module
from forge_core.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by
    ``1 / (1 - p)``; in evaluation return the input unchanged."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], not {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
