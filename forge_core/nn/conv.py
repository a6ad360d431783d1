"""``Conv1d`` and ``Conv2d`` and their functional forms, with PyTorch's arguments and parameter
layout.

The weight is ``(out_channels, in_channels / groups, *kernel)`` and the bias
``(out_channels,)``, so a PyTorch ``state_dict`` loads as it is. The work happens in one fused
op, ``forge_core.ops.conv.Conv2d``; this module turns PyTorch's argument forms (an int or a
pair, ``padding='same'``, a ``padding_mode``) into the op's explicit geometry. A
one-dimensional convolution runs as a two-dimensional one on a height of 1.
"""

from __future__ import annotations

from typing import Any

from forge_core.backend import xp
from forge_core.dtypes import get_default_dtype
from forge_core.nn.init import default_layer_init_
from forge_core.nn.module import Module
from forge_core.nn.padding import pad
from forge_core.nn.parameter import Parameter
from forge_core.ops import registry as ops
from forge_core.ops.window import Pair, Window
from forge_core.tensor import Tensor

IntOrPair = int | tuple[int, int]
IntOrSingle = int | tuple[int]
Padding = IntOrPair | str
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def pair(value: IntOrPair, name: str) -> Pair:
    """``value`` as a ``(height, width)`` pair, as PyTorch accepts an int for both."""
    if isinstance(value, int):
        return (value, value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return (value[0], value[1])


def single(value: IntOrSingle, name: str) -> int:
    """``value`` as one int, as PyTorch's one-dimensional layers accept an int or a 1-tuple."""
    if isinstance(value, int):
        return value
    if len(value) != 1 or not isinstance(value[0], int):
        raise ValueError(f"{name} must be an int or a 1-tuple of an int, got {value!r}")
    return value[0]


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
    ``(C, H, W)`` input with an ``(out, C / groups, kh, kw)`` weight."""
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(
            0
        )
    if weight.ndim != 4:
        raise ValueError(f"conv2d expects a 4-D (out, in, kh, kw) weight, got shape {weight.shape}")
    window = conv_window((weight.shape[2], weight.shape[3]), stride, padding, dilation)
    inputs = (input, weight) if bias is None else (input, weight, bias)
    result: Tensor = ops.Conv2d.apply(*inputs, window=window, groups=groups)
    return result


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrSingle = 1,
    padding: IntOrSingle | str = 0,
    dilation: IntOrSingle = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution of an ``(N, C, L)`` or unbatched ``(C, L)`` input with an
    ``(out, C / groups, k)`` weight: ``conv2d`` on a height of 1."""
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(
            0
        )
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d expects an (N, C, L) input and an (out, in, k) weight, got shapes "
            f"{input.shape} and {weight.shape}"
        )
    flat_padding = padding if isinstance(padding, str) else (0, single(padding, "padding"))
    out = conv2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        (1, single(stride, "stride")),
        flat_padding,
        (1, single(dilation, "dilation")),
        groups,
    )
    return out.squeeze(2)


class Convolution(Module):
    """Parameters, checks and ``repr`` shared by the convolution layers.

    ``weight_shape`` is PyTorch's: ``(out, in / groups, *kernel)`` for a convolution and
    ``(in, out / groups, *kernel)`` for a transposed one; PyTorch's default initialisation reads
    its fan-in from that shape either way (``default_layer_init_``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        weight_shape: tuple[int, ...],
        groups: int,
        bias: bool,
        padding_mode: str,
        dtype: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must be at least 1 and divide in_channels "
                f"({in_channels}) and out_channels ({out_channels})"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(xp.empty(weight_shape, dtype=dtype))
        if bias:
            self.bias: Parameter | None = Parameter(xp.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        default_layer_init_(self.weight, self.bias)

    def check_input(self, input: Tensor, dims: int) -> None:
        """A ValueError naming the expected shape unless ``input`` is a batched or unbatched
        ``dims``-dimensional signal with ``in_channels`` channels."""
        if input.ndim not in (dims + 1, dims + 2) or input.shape[-dims - 1] != self.in_channels:
            spatial = "H, W" if dims == 2 else "L"
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}) expects an "
                f"(N, {self.in_channels}, {spatial}) or ({self.in_channels}, {spatial}) input, "
                f"got shape {input.shape}"
            )

    def extra_repr(self) -> str:
        """PyTorch's: kernel size and stride, then each other argument that is not its default."""
        kernel, stride = getattr(self, "kernel_size"), getattr(self, "stride")  # noqa: B009
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={kernel}, stride={stride}"
        defaults: dict[str, Any] = {
            "padding": (0,) * len(kernel),
            "output_padding": (0,) * len(kernel),
            "dilation": (1,) * len(kernel),
            "groups": 1,
            "padding_mode": "zeros",
        }
        for name, default in defaults.items():
            value = getattr(self, name, default)
            if value != default:
                text += f", {name}={value!r}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv2d(Convolution):
    """A 2-D convolution layer with PyTorch's arguments, parameter names, shapes and default
    initialisation."""

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
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        kernel = pair(kernel_size, "kernel_size")
        padding = padding if isinstance(padding, str) else pair(padding, "padding")
        # Checked first, so that a bad argument fails when the model is built, not when it runs.
        window = conv_window(kernel, stride, padding, dilation)
        window.validate("Conv2d")
        shape = (out_channels, in_channels // max(groups, 1), *kernel)
        super().__init__(in_channels, out_channels, shape, groups, bias, padding_mode, dtype)
        self.kernel_size, self.stride, self.dilation = kernel, window.stride, window.dilation
        self.padding = padding
        self.window = window

    def forward(self, input: Tensor) -> Tensor:
        self.check_input(input, 2)
        if self.padding_mode == "zeros":
            return conv2d(
                input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
            )
        top, bottom, left, right = self.window.pads
        padded = pad(input, (left, right, top, bottom), self.padding_mode)
        return conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(Convolution):
    """A 1-D convolution layer (a time series: ``(N, channels, steps)``) with PyTorch's
    arguments, parameter names, shapes and default initialisation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrSingle,
        stride: IntOrSingle = 1,
        padding: IntOrSingle | str = 0,
        dilation: IntOrSingle = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        kernel = single(kernel_size, "kernel_size")
        padding = padding if isinstance(padding, str) else (single(padding, "padding"),)
        flat_padding = padding if isinstance(padding, str) else (0, padding[0])
        window = conv_window(
            (1, kernel),
            (1, single(stride, "stride")),
            flat_padding,
            (1, single(dilation, "dilation")),
        )
        window.validate("Conv1d")
        shape = (out_channels, in_channels // max(groups, 1), kernel)
        super().__init__(in_channels, out_channels, shape, groups, bias, padding_mode, dtype)
        self.kernel_size, self.stride, self.dilation = (
            (kernel,),
            window.stride[1:],
            window.dilation[1:],
        )
        self.padding = padding
        self.window = window

    def forward(self, input: Tensor) -> Tensor:
        self.check_input(input, 1)
        if self.padding_mode == "zeros":
            return conv1d(
                input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
            )
        _, _, left, right = self.window.pads
        padded = pad(input, (left, right), self.padding_mode)
        return conv1d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
