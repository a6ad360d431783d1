"""``Linear`` and ``Identity``, with PyTorch's parameter layout and default initialisation."""

from typing import Any

from forge_core.backend import xp
from forge_core.dtypes import get_default_dtype
from forge_core.nn import functional as F
from forge_core.nn.init import default_layer_init_
from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter
from forge_core.tensor import Tensor


class Identity(Module):
    """Returns its input; a placeholder where a model's layer is optional (e.g. a head)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """``y = x W^T + b`` on the last dimension, with ``W`` shaped ``(out_features, in_features)``
    so that a PyTorch ``state_dict`` loads as it is. One fused op computes the whole map."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(xp.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias: Parameter | None = Parameter(xp.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
