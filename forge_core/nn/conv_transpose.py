"""``ConvTranspose1d`` and ``ConvTranspose2d`` and their functional forms, with PyTorch's
arguments and parameter layout.

A transposed convolution is the gradient of a convolution with respect to its input, run
forward: it maps each input position onto a ``kernel``-sized patch of a larger output, so it
upsamples (a decoder, a GAN's generator). The weight is ``(in_channels, out_channels / groups,
*kernel)`` as in PyTorch. ``padding`` removes rows and columns from the output's borders and
``output_padding`` adds them back on the bottom and right, which picks one of the several
output sizes that a strided convolution maps onto the same input size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from forge_core.nn.conv import Convolution, IntOrPair, IntOrSingle, pair, single
from forge_core.ops import registry as ops
from forge_core.ops.window import Pair, Window
from forge_core.tensor import Tensor


def transposed_output_size(size: Pair, window: Window, output_padding: Pair) -> Pair:
    """The output size of a transposed convolution of a ``size`` input, or a ValueError when
    ``output_padding`` is not smaller than the stride or the dilation, as PyTorch requires."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, _, left, _ = window.pads
    if any(
        extra >= max(s, d) or extra < 0
        for extra, s, d in zip(output_padding, (sh, sw), (dh, dw), strict=True)
    ):
        raise ValueError(
            f"output_padding {output_padding} must be at least 0 and smaller than the stride "
            f"{window.stride} or the dilation {window.dilation}"
        )
    return (
        (size[0] - 1) * sh - 2 * top + dh * (kh - 1) + output_padding[0] + 1,
        (size[1] - 1) * sw - 2 * left + dw * (kw - 1) + output_padding[1] + 1,
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    groups: int = 1,
    dilation: IntOrPair = 1,
) -> Tensor:
    """2-D transposed convolution of an ``(N, C, H, W)`` or unbatched ``(C, H, W)`` input with
    a ``(C, out / groups, kh, kw)`` weight; PyTorch's argument order."""
    if input.ndim == 3:
        return conv_transpose2d(
            input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation
        ).squeeze(0)
    if input.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"conv_transpose2d expects an (N, C, H, W) input and an (in, out, kh, kw) weight, "
            f"got shapes {input.shape} and {weight.shape}"
        )
    ph, pw = pair(padding, "padding")
    window = Window(
        (weight.shape[2], weight.shape[3]),
        pair(stride, "stride"),
        pair(dilation, "dilation"),
        (ph, ph, pw, pw),
    )
    window.validate("conv_transpose2d")
    out_size = transposed_output_size(
        (input.shape[2], input.shape[3]), window, pair(output_padding, "output_padding")
    )
    inputs = (input, weight) if bias is None else (input, weight, bias)
    result: Tensor = ops.ConvTranspose2d.apply(
        *inputs, window=window, out_size=out_size, groups=groups
    )
    return result


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrSingle = 1,
    padding: IntOrSingle = 0,
    output_padding: IntOrSingle = 0,
    groups: int = 1,
    dilation: IntOrSingle = 1,
) -> Tensor:
    """1-D transposed convolution of an ``(N, C, L)`` or unbatched ``(C, L)`` input with a
    ``(C, out / groups, k)`` weight: ``conv_transpose2d`` on a height of 1."""
    if input.ndim == 2:
        return conv_transpose1d(
            input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups, dilation
        ).squeeze(0)
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv_transpose1d expects an (N, C, L) input and an (in, out, k) weight, got "
            f"shapes {input.shape} and {weight.shape}"
        )
    out = conv_transpose2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        (1, single(stride, "stride")),
        (0, single(padding, "padding")),
        (0, single(output_padding, "output_padding")),
        groups,
        (1, single(dilation, "dilation")),
    )
    return out.squeeze(2)


class _ConvTranspose(Convolution):
    """What ConvTranspose1d and ConvTranspose2d share; ``dims`` and ``convolve`` say which."""

    dims = 2
    convolve: Callable[..., Tensor] = staticmethod(conv_transpose2d)
    # Set by each layer's constructor, one entry per dim.
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]

    def forward(self, input: Tensor) -> Tensor:
        self.check_input(input, self.dims)
        return self.convolve(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose2d(_ConvTranspose):
    """A 2-D transposed convolution layer with PyTorch's arguments, parameter names, shapes and
    default initialisation. Only ``padding_mode='zeros'`` exists, as in PyTorch."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        output_padding: IntOrPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrPair = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        _zeros_only(padding_mode, "ConvTranspose2d")
        kernel = pair(kernel_size, "kernel_size")
        ph, pw = pair(padding, "padding")
        window = Window(
            kernel, pair(stride, "stride"), pair(dilation, "dilation"), (ph, ph, pw, pw)
        )
        window.validate("ConvTranspose2d")
        extra = pair(output_padding, "output_padding")
        transposed_output_size((1, 1), window, extra)  # checks output_padding now
        shape = (in_channels, out_channels // max(groups, 1), *kernel)
        super().__init__(in_channels, out_channels, shape, groups, bias, padding_mode, dtype)
        self.kernel_size, self.stride, self.dilation = kernel, window.stride, window.dilation
        self.padding, self.output_padding = (ph, pw), extra


class ConvTranspose1d(_ConvTranspose):
    """A 1-D transposed convolution layer with PyTorch's arguments, parameter names, shapes and
    default initialisation. Only ``padding_mode='zeros'`` exists, as in PyTorch."""

    dims = 1
    convolve = staticmethod(conv_transpose1d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrSingle,
        stride: IntOrSingle = 1,
        padding: IntOrSingle = 0,
        output_padding: IntOrSingle = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrSingle = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        _zeros_only(padding_mode, "ConvTranspose1d")
        kernel = single(kernel_size, "kernel_size")
        stride_, dilation_ = single(stride, "stride"), single(dilation, "dilation")
        padding_, extra = single(padding, "padding"), single(output_padding, "output_padding")
        window = Window((1, kernel), (1, stride_), (1, dilation_), (0, 0, padding_, padding_))
        window.validate("ConvTranspose1d")
        transposed_output_size((1, 1), window, (0, extra))  # checks output_padding now
        shape = (in_channels, out_channels // max(groups, 1), kernel)
        super().__init__(in_channels, out_channels, shape, groups, bias, padding_mode, dtype)
        self.kernel_size, self.stride, self.dilation = (kernel,), (stride_,), (dilation_,)
        self.padding, self.output_padding = (padding_,), (extra,)


def _zeros_only(padding_mode: str, layer: str) -> None:
    if padding_mode != "zeros":
        raise ValueError(f"{layer} pads with zeros only, as PyTorch; got {padding_mode!r}")
