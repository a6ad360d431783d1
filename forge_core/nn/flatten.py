"""``Flatten``: the bridge from convolutional feature maps to a ``Linear`` head."""

from forge_core.nn.module import Module
from forge_core.tensor import Tensor


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one; by default everything but the batch dim."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
