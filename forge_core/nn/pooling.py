"""Max, average and adaptive average pooling layers with their functional forms, with PyTorch's
arguments.

The stride defaults to the kernel size (non-overlapping windows), as in PyTorch. With
``ceil_mode`` the output size rounds up, so a last, partial window covers what a floor would
leave out (PyTorch drops a window that would start in the bottom or right padding); the op sees
that as extra bottom and right padding. One-dimensional pooling runs as two-dimensional pooling
on a height of 1. The work happens in the fused ops of ``forge_core.ops.pooling``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from forge_core.nn.conv import IntOrPair, IntOrSingle, pair, single
from forge_core.nn.module import Module
from forge_core.ops import registry as ops
from forge_core.ops.window import Window
from forge_core.tensor import Tensor

# A pooling layer's size argument: an int, or one per pooled dim (IntOrPair or IntOrSingle).
Size = IntOrPair | IntOrSingle
# An adaptive pool's output size: an int for every dim, or one per dim, None keeping that dim.
OutputSize = int | None | tuple[int | None, ...]


def pool_window(
    kernel_size: IntOrPair,
    stride: IntOrPair | None,
    padding: IntOrPair,
    dilation: IntOrPair = 1,
    op: str = "pooling",
) -> Window:
    """The window as the user gave it, or a ValueError that says what is wrong with it."""
    kernel = pair(kernel_size, "kernel_size")
    strides = kernel if stride is None else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    window = Window(kernel, strides, pair(dilation, "dilation"), (ph, ph, pw, pw))
    window.validate(op)
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise ValueError(
            f"{op}: padding {(ph, pw)} must be at most half the kernel size {kernel}, "
            "so that no window lies wholly in the padding"
        )
    return window


def _ceil_extra(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """How much further than ``pad`` the bottom (or right) padding must reach for ``ceil_mode``:
    PyTorch rounds the output size up but drops a window that starts in that padding."""
    span = dilation * (kernel - 1) + 1
    out = -((span - size - 2 * pad) // stride) + 1  # ceil((size + 2 pad - span) / stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return max(0, (out - 1) * stride + span - size - 2 * pad)


def ceil_window(window: Window, height: int, width: int) -> Window:
    """``window`` with its bottom and right padding widened as ``ceil_mode`` needs."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, bottom, left, right = window.pads
    extra_h = _ceil_extra(height, kh, sh, top, dh)
    extra_w = _ceil_extra(width, kw, sw, left, dw)
    return Window(
        window.kernel,
        window.stride,
        window.dilation,
        (top, bottom + extra_h, left, right + extra_w),
    )


def _no_indices(return_indices: bool, op: str) -> None:
    """PyTorch's argument, kept so that positional arguments line up; forge returns no indices
    (nothing in forge unpools by them)."""
    if return_indices:
        raise ValueError(f"{op}: return_indices=True is not supported; forge returns values only")


def _batched(input: Tensor, op: str) -> Tensor:
    """A 4-D view of an ``(N, C, H, W)`` or unbatched ``(C, H, W)`` input."""
    if input.ndim not in (3, 4):
        raise ValueError(
            f"{op} expects an (N, C, H, W) or (C, H, W) input, got shape {input.shape}"
        )
    return input.unsqueeze(0) if input.ndim == 3 else input


def _as_2d(input: Tensor, op: str) -> Tensor:
    """An ``(N, C, L)`` or ``(C, L)`` input as ``(N, C, 1, L)`` or ``(C, 1, L)``."""
    if input.ndim not in (2, 3):
        raise ValueError(f"{op} expects an (N, C, L) or (C, L) input, got shape {input.shape}")
    return input.unsqueeze(-2)


def max_pool2d(
    input: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """Max over each window; padding counts as ``-inf``."""
    _no_indices(return_indices, "max_pool2d")
    window = pool_window(kernel_size, stride, padding, dilation, "max_pool2d")
    batched = _batched(input, "max_pool2d")
    if ceil_mode:
        window = ceil_window(window, batched.shape[2], batched.shape[3])
    result: Tensor = ops.MaxPool2d.apply(batched, window=window)
    return result.squeeze(0) if input.ndim == 3 else result


def avg_pool2d(
    input: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window; with ``count_include_pad`` padding counts as zeros (what
    ``ceil_mode`` adds never does)."""
    window = pool_window(kernel_size, stride, padding, 1, "avg_pool2d")
    counted = window.pads if count_include_pad else (0, 0, 0, 0)
    batched = _batched(input, "avg_pool2d")
    if ceil_mode:
        window = ceil_window(window, batched.shape[2], batched.shape[3])
    result: Tensor = ops.AvgPool2d.apply(batched, window=window, counted_pads=counted)
    return result.squeeze(0) if input.ndim == 3 else result


def max_pool1d(
    input: Tensor,
    kernel_size: IntOrSingle,
    stride: IntOrSingle | None = None,
    padding: IntOrSingle = 0,
    dilation: IntOrSingle = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """Max over each window of an ``(N, C, L)`` or ``(C, L)`` input."""
    _no_indices(return_indices, "max_pool1d")
    out = max_pool2d(
        _as_2d(input, "max_pool1d"),
        (1, single(kernel_size, "kernel_size")),
        None if stride is None else (1, single(stride, "stride")),
        (0, single(padding, "padding")),
        (1, single(dilation, "dilation")),
        ceil_mode,
    )
    return out.squeeze(-2)


def avg_pool1d(
    input: Tensor,
    kernel_size: IntOrSingle,
    stride: IntOrSingle | None = None,
    padding: IntOrSingle = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over each window of an ``(N, C, L)`` or ``(C, L)`` input."""
    out = avg_pool2d(
        _as_2d(input, "avg_pool1d"),
        (1, single(kernel_size, "kernel_size")),
        None if stride is None else (1, single(stride, "stride")),
        (0, single(padding, "padding")),
        ceil_mode,
        count_include_pad,
    )
    return out.squeeze(-2)


def _adaptive_sizes(input: Tensor, output_size: OutputSize, dims: int, op: str) -> tuple[int, ...]:
    """The output size per pooled dim, or a ValueError that says what is wrong."""
    if input.ndim not in (dims + 1, dims + 2):
        names = "H, W" if dims == 2 else "L"
        raise ValueError(
            f"{op} expects an (N, C, {names}) or (C, {names}) input, got shape {input.shape}"
        )
    sizes = (output_size,) * dims if not isinstance(output_size, tuple) else output_size
    if len(sizes) != dims:
        raise ValueError(f"{op}: output_size must be an int or {dims} of them, got {output_size}")
    spatial = input.shape[input.ndim - dims :]
    result = tuple(size if out is None else out for out, size in zip(sizes, spatial, strict=True))
    if not all(isinstance(out, int) and out >= 1 for out in result):
        raise ValueError(f"{op}: output_size must be positive ints or None, got {output_size}")
    return result


def adaptive_avg_pool2d(input: Tensor, output_size: OutputSize) -> Tensor:
    """Mean over ``output_size`` windows per dim of an ``(N, C, H, W)`` or ``(C, H, W)``
    input; window ``j`` of ``out`` over a dim of ``n`` covers
    ``[floor(j n / out), ceil((j + 1) n / out))``."""
    sizes = _adaptive_sizes(input, output_size, 2, "adaptive_avg_pool2d")
    result: Tensor = ops.AdaptiveAvgPool.apply(input, out_size=sizes)
    return result


def adaptive_avg_pool1d(input: Tensor, output_size: int | tuple[int]) -> Tensor:
    """Mean over ``output_size`` windows of an ``(N, C, L)`` or ``(C, L)`` input."""
    sizes = _adaptive_sizes(input, output_size, 1, "adaptive_avg_pool1d")
    result: Tensor = ops.AdaptiveAvgPool.apply(input, out_size=sizes)
    return result


def _layer_arguments(
    dims: int,
    kernel_size: Size,
    stride: Size | None,
    padding: Size,
    dilation: Size,
    layer: str,
) -> tuple[Size, Size, Size, Size]:
    """A pooling layer's kernel size, stride, padding and dilation as it keeps them (as given in
    2-D, as ints in 1-D, like PyTorch's), checked now so that a bad one fails when the model is
    built, not when it runs."""
    if dims == 2:
        pool_window(
            cast(IntOrPair, kernel_size),
            cast(IntOrPair | None, stride),
            cast(IntOrPair, padding),
            cast(IntOrPair, dilation),
            layer,
        )
        return kernel_size, kernel_size if stride is None else stride, padding, dilation
    kernel = single(cast(IntOrSingle, kernel_size), "kernel_size")
    strides = kernel if stride is None else single(cast(IntOrSingle, stride), "stride")
    pads = single(cast(IntOrSingle, padding), "padding")
    dilations = single(cast(IntOrSingle, dilation), "dilation")
    pool_window((1, kernel), (1, strides), (0, pads), (1, dilations), layer)
    return kernel, strides, pads, dilations


class _MaxPool(Module):
    """What MaxPool1d and MaxPool2d share; ``dims`` and ``pool`` say which they are."""

    dims = 2
    pool: Callable[..., Tensor] = staticmethod(max_pool2d)

    def __init__(
        self,
        kernel_size: Size,
        stride: Size | None = None,
        padding: Size = 0,
        dilation: Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        _no_indices(return_indices, type(self).__name__)
        self.kernel_size, self.stride, self.padding, self.dilation = _layer_arguments(
            self.dims, kernel_size, stride, padding, dilation, type(self).__name__
        )
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return self.pool(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class _AvgPool(Module):
    """What AvgPool1d and AvgPool2d share; ``dims`` and ``pool`` say which they are."""

    dims = 2
    pool: Callable[..., Tensor] = staticmethod(avg_pool2d)

    def __init__(
        self,
        kernel_size: Size,
        stride: Size | None = None,
        padding: Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, _ = _layer_arguments(
            self.dims, kernel_size, stride, padding, 1, type(self).__name__
        )
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return self.pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_MaxPool):
    """Max pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input, with PyTorch's arguments."""


class MaxPool1d(_MaxPool):
    """Max pooling over an ``(N, C, L)`` or ``(C, L)`` input, with PyTorch's arguments."""

    dims = 1
    pool = staticmethod(max_pool1d)


class AvgPool2d(_AvgPool):
    """Average pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input, with PyTorch's
    arguments."""


class AvgPool1d(_AvgPool):
    """Average pooling over an ``(N, C, L)`` or ``(C, L)`` input, with PyTorch's arguments."""

    dims = 1
    pool = staticmethod(avg_pool1d)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size: OutputSize) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size: int | tuple[int]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
