"""Where a sliding kernel goes over an image: the geometry shared by convolution and pooling.

A ``Window`` holds kernel, stride, dilation and the padding on each side; an ``Offset`` says
which part of the unpadded input one kernel offset reads, so the ops never materialise padding
they would only multiply by zero. One-dimensional ops use the same geometry on a height of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

Pair = tuple[int, int]


@dataclass(frozen=True)
class Offset:
    """Kernel offset ``(i, j)`` and where it meets the input: output positions ``out_rows``,
    ``out_cols`` read input positions ``in_rows``, ``in_cols`` (the part inside the padding is
    left out). ``None`` slices mean the offset reads only padding."""

    i: int
    j: int
    out_rows: slice | None
    out_cols: slice | None
    in_rows: slice | None
    in_cols: slice | None

    @property
    def empty(self) -> bool:
        return self.out_rows is None or self.out_cols is None


def _axis_overlap(
    start: int, stride: int, out_size: int, in_size: int
) -> tuple[slice, slice] | tuple[None, None]:
    """Output indices ``o`` whose input index ``start + o * stride`` lies in ``[0, in_size)``,
    as an output slice and the matching input slice."""
    first = max(0, (stride - 1 - start) // stride)
    last = min(out_size - 1, (in_size - 1 - start) // stride)
    if last < first:
        return None, None
    return (
        slice(first, last + 1),
        slice(start + first * stride, start + last * stride + 1, stride),
    )


@dataclass(frozen=True)
class Window:
    """Where a sliding kernel goes over an image: kernel, stride, dilation and padding.

    ``pads`` is ``(top, bottom, left, right)``: PyTorch's ``padding='same'`` pads one more on
    the bottom and right when the total is odd, so the two sides are kept apart.
    """

    kernel: Pair
    stride: Pair
    dilation: Pair
    pads: tuple[int, int, int, int]

    def output_size(self, height: int, width: int) -> Pair:
        top, bottom, left, right = self.pads
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        return (
            (height + top + bottom - dh * (kh - 1) - 1) // sh + 1,
            (width + left + right - dw * (kw - 1) - 1) // sw + 1,
        )

    def validate(self, op: str) -> None:
        """Raise a ValueError that says what is wrong, if anything, with the geometry."""
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError(
                f"{op}: kernel size {self.kernel}, stride {self.stride} and dilation "
                f"{self.dilation} must all be at least 1"
            )
        if min(self.pads) < 0:
            raise ValueError(f"{op}: padding {self.pads} must not be negative")

    def check(self, op: str, height: int, width: int) -> Pair:
        """The output size for an input of ``height`` x ``width``, or a ValueError that says
        what is wrong."""
        self.validate(op)
        out = self.output_size(height, width)
        if min(out) < 1:
            raise ValueError(
                f"{op}: the input ({height}x{width}, padded by {self.pads}) is smaller than "
                f"the kernel {self.kernel} with dilation {self.dilation}; pad it or use a "
                "smaller kernel"
            )
        return out

    def padded_slices(self, out_size: Pair) -> list[tuple[int, int, slice, slice]]:
        """``(i, j, rows, cols)`` per kernel offset in row-major order: the slices of the
        *padded* input that offset ``(i, j)`` of every window reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        oh, ow = out_size
        return [
            (
                i,
                j,
                slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (ow - 1) + 1, sw),
            )
            for i in range(kh)
            for j in range(kw)
        ]

    def offsets(self, in_size: Pair, out_size: Pair) -> list[Offset]:
        """Each kernel offset in row-major order with the part of the *unpadded* input it reads."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        top, _, left, _ = self.pads
        result = []
        for i in range(kh):
            out_rows, in_rows = _axis_overlap(i * dh - top, sh, out_size[0], in_size[0])
            for j in range(kw):
                out_cols, in_cols = _axis_overlap(j * dw - left, sw, out_size[1], in_size[1])
                result.append(Offset(i, j, out_rows, out_cols, in_rows, in_cols))
        return result
