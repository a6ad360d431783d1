"""``Conv2d`` and its functional form ``conv2d``, with PyTorch's arguments and parameter layout.

The weight is ``(out_channels, in_channels, kh, kw)`` and the bias ``(out_channels,)``, so a
PyTorch ``state_dict`` loads as it is. The work happens in one fused op,
``forge_core.ops.conv.Conv2d``; this module turns PyTorch's argument forms (an int or a pair,
``padding='same'``) into the op's explicit geometry.
"""

from __future__ import annotations

from typing import Any

from forge_core.backend import xp
from forge_core.dtypes import get_default_dtype
from forge_core.nn.init import default_layer_init_
from forge_core.nn.module import Module
from forge_core.nn.parameter import Parameter
from forge_core.ops import registry as ops
from forge_core.ops.conv import Pair, Window
from forge_core.tensor import Tensor

IntOrPair = int | tuple[int, int]
Padding = IntOrPair | str


def pair(value: IntOrPair, name: str) -> Pair:
    """``value`` as a ``(height, width)`` pair, as PyTorch accepts an int for both."""
    if isinstance(value, int):
        return (value, value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return (value[0], value[1])


def conv_window(kernel: Pair, stride: IntOrPair, padding: Padding, dilation: IntOrPair) -> Window:
    """The op's geometry from PyTorch's arguments; ``padding='same'`` keeps the input size,
    putting the odd one of an odd total on the bottom and right as PyTorch does."""
    strides, dilations = pair(stride, "stride"), pair(dilation, "dilation")
    if padding == "valid":
        return Window(kernel, strides, dilations, (0, 0, 0, 0))
    if padding == "same":
        if strides != (1, 1):
            raise ValueError(
                f"padding='same' needs stride 1, got stride {strides}; give the padding as "
                "numbers for a strided convolution"
            )
        total_h, total_w = (d * (k - 1) for d, k in zip(dilations, kernel, strict=True))
        pads = (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        return Window(kernel, strides, dilations, pads)
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'same', 'valid', an int or a pair, got {padding!r}")
    ph, pw = pair(padding, "padding")
    return Window(kernel, strides, dilations, (ph, ph, pw, pw))


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an ``(N, C, H, W)`` or unbatched
    ``(C, H, W)`` input with a ``(out, C, kh, kw)`` weight."""
    if groups != 1:
        raise ValueError(
            f"groups={groups} is not supported: forge's conv2d implements groups=1 only"
        )
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation).squeeze(0)
    window = conv_window(tuple(weight.shape[2:]), stride, padding, dilation)  # type: ignore[arg-type]
    inputs = (input, weight) if bias is None else (input, weight, bias)
    result: Tensor = ops.Conv2d.apply(*inputs, window=window)
    return result


class Conv2d(Module):
    """A 2-D convolution layer with PyTorch's arguments, parameter names, shapes and default
    initialisation (``default_layer_init_``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: Padding = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if groups != 1:
            raise ValueError(
                f"groups={groups} is not supported: forge's Conv2d implements groups=1 only"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        self.groups = groups
        # Checked here, so that a bad argument fails when the model is built, not when it runs.
        conv_window(self.kernel_size, self.stride, self.padding, self.dilation).validate("Conv2d")
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(
            xp.empty((out_channels, in_channels, *self.kernel_size), dtype=dtype)
        )
        if bias:
            self.bias: Parameter | None = Parameter(xp.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            raise ValueError(
                f"Conv2d({self.in_channels}, {self.out_channels}) expects an (N, "
                f"{self.in_channels}, H, W) or ({self.in_channels}, H, W) input, got shape "
                f"{input.shape}"
            )
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else (f", padding={self.padding}")
            )
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text
