"""``MaxPool2d`` and ``AvgPool2d`` with their functional forms, with PyTorch's arguments.

The stride defaults to the kernel size (non-overlapping windows), as in PyTorch. The work happens
in the fused ops of ``forge_core.ops.pooling``.
"""

from __future__ import annotations

from forge_core.nn.conv import IntOrPair, pair
from forge_core.nn.module import Module
from forge_core.ops import registry as ops
from forge_core.ops.conv import Window
from forge_core.ops.pooling import validate_pool_window
from forge_core.tensor import Tensor


def pool_window(kernel_size: IntOrPair, stride: IntOrPair | None, padding: IntOrPair) -> Window:
    kernel = pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    return Window(kernel, strides, (1, 1), (ph, ph, pw, pw))


def _batched(input: Tensor) -> Tensor:
    """A 4-D view of an ``(N, C, H, W)`` or unbatched ``(C, H, W)`` input."""
    if input.ndim not in (3, 4):
        raise ValueError(
            f"pooling expects an (N, C, H, W) or (C, H, W) input, got shape {input.shape}"
        )
    return input.unsqueeze(0) if input.ndim == 3 else input


def max_pool2d(
    input: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> Tensor:
    """Max over each window; padding counts as ``-inf``."""
    window = pool_window(kernel_size, stride, padding)
    result: Tensor = ops.MaxPool2d.apply(_batched(input), window=window)
    return result.squeeze(0) if input.ndim == 3 else result


def avg_pool2d(
    input: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window; with ``count_include_pad`` padding counts as zeros."""
    window = pool_window(kernel_size, stride, padding)
    result: Tensor = ops.AvgPool2d.apply(
        _batched(input), window=window, count_include_pad=count_include_pad
    )
    return result.squeeze(0) if input.ndim == 3 else result


class MaxPool2d(Module):
    def __init__(
        self, kernel_size: IntOrPair, stride: IntOrPair | None = None, padding: IntOrPair = 0
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        validate_pool_window("MaxPool2d", pool_window(kernel_size, stride, padding))

    def forward(self, input: Tensor) -> Tensor:
        return max_pool2d(input, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(
        self,
        kernel_size: IntOrPair,
        stride: IntOrPair | None = None,
        padding: IntOrPair = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.count_include_pad = count_include_pad
        validate_pool_window("AvgPool2d", pool_window(kernel_size, stride, padding))

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(
            input, self.kernel_size, self.stride, self.padding, self.count_include_pad
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
