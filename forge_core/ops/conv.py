"""Convolution and transposed convolution as fused ops with hand-written backward passes.

Built from primitive ops, a convolution would record kh*kw slices and products per call and walk
all of them backward; as one op it is one matrix product forward and two backward. Both ops
work in CHWN memory order (``forge_core.ops.chwn``) on column matrices
(``forge_core.ops.columns``). A one-dimensional convolution is the two-dimensional one on a
height of 1, so it runs the same code.

Where the compiled kernel applies (float32, stride 1, one group, padding within the kernel's
reach: every convolution the bundled models and benchmarks run), ``"auto"`` runs it
(``forge_core/_native/conv.c``, ``native_kernel``): it reads the padded input in place, keeps
only that for the weight gradient, and computes the input gradient as the convolution of the
padded output gradient by the flipped, transposed kernel. Elsewhere NumPy runs one of two
strategies (``choose_strategy`` picks one by the measurements of ``bench/conv.py``):

* ``"im2col"``: gather the input into a column matrix ``(C*kh*kw, OH*OW*N)``, then one matrix
  product. The columns are kept for the weight gradient, which is one more product. Fastest
  forward + backward at every shape measured, so training uses it.
* ``"tensordot"``: ``tensordot`` of the weight with a ``sliding_window_view`` of the padded
  input. NumPy gathers the windows in one call; only the padded input is kept between forward
  and backward (kh*kw times less memory), at the price of gathering again for the weight
  gradient. Without a weight gradient (inference) it is as fast or faster, so inference uses it.

Both compute the input gradient as ``weight.T @ grad`` summed back onto the input by ``col2im``.

Groups split the channels into ``groups`` independent convolutions: the column matrix's rows
are ordered by channel, so group ``k``'s rows are one contiguous block and the products become
one batched ``matmul`` over groups.

``ConvTranspose2d`` is the convolution's input gradient run as a forward pass: ``weight @ x``
scattered onto the larger output by ``col2im``. Its input gradient is then a convolution of the
output gradient (``im2col`` and a product) and its weight gradient one more product.
"""

from __future__ import annotations

from typing import Literal

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.native import NativeConv, native_conv
from forge_core.ops.buffers import buffers
from forge_core.ops.chwn import contiguous, from_chwn, pad_chwn, to_chwn
from forge_core.ops.columns import col2im, im2col, weight_product, windows_view
from forge_core.ops.window import Pair, Window

Strategy = Literal["auto", "im2col", "tensordot", "native"]
STRATEGIES = ("im2col", "tensordot")  # NumPy's; "native" is the compiled kernel where it applies


def choose_strategy(weight_grad: bool, groups: int = 1) -> str:
    """im2col when the weight needs a gradient: its kept columns make that gradient one product,
    where tensordot gathers the windows again, and it is the faster forward + backward at every
    shape of ``bench/conv.py``. Without one (inference), tensordot's single gather is as fast
    at one thread and faster at two, and keeps nothing. Grouped convolutions always use im2col,
    whose batched product handles groups."""
    return "im2col" if weight_grad or groups > 1 else "tensordot"


def native_kernel(dtype: object, window: Window, groups: int) -> NativeConv | None:
    """The compiled kernel (``forge_core/_native/conv.c``) where it computes this convolution:
    float32, stride 1, one group, and no side padded past the kernel's reach (its input
    gradient pads the other way by the difference)."""
    (kh, kw), (dh, dw) = window.kernel, window.dilation
    top, bottom, left, right = window.pads
    if groups != 1 or window.stride != (1, 1):
        return None
    if max(top, bottom) > (kh - 1) * dh or max(left, right) > (kw - 1) * dw:
        return None
    return native_conv(dtype)


def _mirrored(window: Window) -> tuple[int, int, int, int]:
    """The padding of the output gradient whose convolution by the flipped kernel is the input
    gradient (stride 1)."""
    (kh, kw), (dh, dw) = window.kernel, window.dilation
    top, bottom, left, right = window.pads
    reach_h, reach_w = (kh - 1) * dh, (kw - 1) * dw
    return reach_h - top, reach_h - bottom, reach_w - left, reach_w - right


def _per_group(array: Array, groups: int) -> Array:
    """A ``(rows, …)`` array as ``(groups, rows // groups, rest)``; a view when it can be."""
    return array.reshape(groups, array.shape[0] // groups, -1)


class Conv2d(Function):
    """``conv2d(x, weight, bias)`` on NCHW arrays, weight ``(out, in / groups, kh, kw)`` as in
    PyTorch."""

    def forward(
        self,
        x: Array,
        weight: Array,
        bias: Array | None = None,
        *,
        window: Window,
        groups: int = 1,
        strategy: Strategy = "auto",
    ) -> Array:
        n, _, h, w = _check_conv_inputs(x, weight, bias, groups)
        out_channels = weight.shape[0]
        out_size = window.check("conv2d", h, w)
        need_weight = self.needs_input_grad[1]
        native = native_kernel(x.dtype, window, groups) if strategy in ("auto", "native") else None
        if strategy == "native" and native is None:
            raise ValueError(
                "the native strategy computes float32 convolutions with stride 1, groups=1 and "
                "padding within the kernel's reach, with the compiled kernels built; use 'auto'"
            )
        if native is not None:
            padded = contiguous(pad_chwn(x, window.pads, 0.0))
            out = buffers.empty((out_channels, *out_size, n), x.dtype)
            native.forward(padded, weight, bias, window.dilation, out)
            self.native = native
            self.saved = (padded if need_weight else None, weight, window, "native", 1, (h, w))
            return from_chwn(out)
        chosen = choose_strategy(need_weight, groups) if strategy == "auto" else strategy
        if chosen not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {strategy!r}; use one of {STRATEGIES}, 'native' or 'auto'"
            )
        if chosen == "tensordot" and groups > 1:
            raise ValueError("the tensordot strategy computes groups=1 only; use 'im2col'")
        kept: Array | None
        if chosen == "im2col":
            ones_row = bias is not None and groups == 1
            cols = im2col(contiguous(to_chwn(x)), window, out_size, ones_row)
            out = buffers.empty((out_channels, cols.shape[1]), x.dtype)
            if groups == 1:
                flat_weight = weight.reshape(out_channels, -1)
                if bias is not None:
                    flat_weight = xp.concatenate([flat_weight, bias[:, None]], axis=1)
                xp.matmul(flat_weight, cols, out=out)
            else:
                xp.matmul(
                    _per_group(weight, groups),
                    _per_group(cols, groups),
                    out=_per_group(out, groups),
                )
                if bias is not None:
                    out += bias[:, None]
            kept = cols if need_weight else None
        else:
            padded = pad_chwn(x, window.pads, 0.0)
            out = xp.tensordot(weight, windows_view(padded, window), axes=([1, 2, 3], [0, 4, 5]))
            out = out.reshape(out_channels, -1)
            if bias is not None:
                out += bias[:, None]
            kept = padded if need_weight else None
        self.saved = (kept, weight, window, chosen, groups, (h, w), out_size)
        return from_chwn(out.reshape(out_channels, *out_size, n))

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        if self.saved[3] == "native":
            return self._native_backward(g)
        kept, weight, window, strategy, groups, in_size, out_size = self.saved
        need_x, need_weight, *need_bias = self.needs_input_grad
        out_channels, weight_size = weight.shape[0], weight[0].size
        grad = contiguous(to_chwn(g)).reshape(out_channels, -1)
        grad_x = grad_weight = grad_bias = None
        if need_weight and strategy == "im2col":
            if groups == 1:
                product = weight_product(grad, kept, out_size[0])
                grad_weight = product[:, :weight_size].reshape(weight.shape)
                if need_bias and need_bias[0]:
                    grad_bias = product[:, weight_size]  # the column of the ones row
            else:
                grads, cols = _per_group(grad, groups), _per_group(kept, groups)
                grad_weight = xp.stack(
                    [weight_product(grads[k], cols[k], out_size[0]) for k in range(groups)]
                ).reshape(weight.shape)
        elif need_weight:
            grad_weight = xp.tensordot(
                grad.reshape(out_channels, *out_size, -1),
                windows_view(kept, window),
                axes=([1, 2, 3], [1, 2, 3]),
            )
        if need_bias and need_bias[0] and grad_bias is None:
            grad_bias = grad.sum(axis=1)
        if need_x:
            cols = buffers.empty((weight_size * groups, grad.shape[1]), grad.dtype)
            xp.matmul(
                _per_group(weight, groups).transpose(0, 2, 1),
                _per_group(grad, groups),
                out=_per_group(cols, groups),
            )
            grad_x = from_chwn(col2im(cols, window, in_size, out_size))
        if need_bias:
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight

    def _native_backward(self, g: Array) -> tuple[Array | None, ...]:
        """The weight's gradient from the kept padded input, the input's as the convolution of
        the padded output gradient by the flipped, transposed kernel; both in C."""
        padded, weight, window, _, _, in_size = self.saved
        need_x, need_weight, *need_bias = self.needs_input_grad
        out_channels = weight.shape[0]
        grad = contiguous(to_chwn(g)).reshape(out_channels, -1)
        grad_x = grad_weight = grad_bias = None
        if need_weight:
            grad_weight = xp.empty((out_channels, weight[0].size), g.dtype)
            self.native.weight_grad(padded, grad, window.kernel, window.dilation, grad_weight)
            grad_weight = grad_weight.reshape(weight.shape)
        if need_x:
            padded_grad = contiguous(pad_chwn(g, _mirrored(window), 0.0))
            flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            out = buffers.empty((weight.shape[1], *in_size, g.shape[0]), g.dtype)
            self.native.forward(padded_grad, flipped, None, window.dilation, out)
            grad_x = from_chwn(out)
        if need_bias:
            if need_bias[0]:  # a product with a column of ones: 4x faster than sum(axis=1)
                grad_bias = grad @ xp.ones(grad.shape[1], dtype=grad.dtype)
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


class ConvTranspose2d(Function):
    """``conv_transpose2d(x, weight, bias)`` on NCHW arrays, weight ``(in, out / groups, kh,
    kw)`` as in PyTorch. ``window`` is the convolution this op transposes, which maps an
    ``out_size`` image back onto the input's size."""

    def forward(
        self,
        x: Array,
        weight: Array,
        bias: Array | None = None,
        *,
        window: Window,
        out_size: Pair,
        groups: int = 1,
    ) -> Array:
        _, _, h, w = _check_transposed_inputs(x, weight, bias, groups)
        window.validate("conv_transpose2d")
        if min(out_size) < 1:
            raise ValueError(
                f"conv_transpose2d: the output size {out_size} must be at least 1x1; use "
                "less padding"
            )
        inputs = _per_group(contiguous(to_chwn(x)).reshape(x.shape[1], -1), groups)
        per_group = _per_group(weight, groups)
        cols = buffers.empty((groups, per_group.shape[2], inputs.shape[2]), x.dtype)
        xp.matmul(per_group.transpose(0, 2, 1), inputs, out=cols)
        out = col2im(cols.reshape(-1, inputs.shape[2]), window, out_size, (h, w))
        if bias is not None:
            out += bias[:, None, None, None]
        self.saved = (inputs if self.needs_input_grad[1] else None, weight, window, groups, (h, w))
        return from_chwn(out)

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        inputs, weight, window, groups, in_size = self.saved
        need_x, need_weight, *need_bias = self.needs_input_grad
        n = g.shape[0]
        cols = _per_group(im2col(contiguous(to_chwn(g)), window, in_size), groups)
        per_group = _per_group(weight, groups)
        grad_x = grad_weight = grad_bias = None
        if need_x:
            grad = buffers.empty((groups, per_group.shape[1], cols.shape[2]), g.dtype)
            xp.matmul(per_group, cols, out=grad)
            grad_x = from_chwn(grad.reshape(weight.shape[0], *in_size, n))
        if need_weight:
            grad_weight = xp.matmul(inputs, cols.transpose(0, 2, 1)).reshape(weight.shape)
        if need_bias:
            if need_bias[0]:
                grad_bias = g.sum(axis=(0, 2, 3))
            return grad_x, grad_weight, grad_bias
        return grad_x, grad_weight


def _check_common(
    op: str, x: Array, weight: Array, bias: Array | None, groups: int, transposed: bool
) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op} expects a 4-D (N, C, H, W) input, got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op} expects a 4-D weight, got shape {weight.shape}")
    if groups < 1:
        raise ValueError(f"{op}: groups must be at least 1, got {groups}")
    bias_size = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and bias.shape != (bias_size,):
        raise ValueError(
            f"{op}: bias {bias.shape} must have shape ({bias_size},), one per output channel"
        )
    dtypes = {x.dtype, weight.dtype} | ({bias.dtype} if bias is not None else set())
    if len(dtypes) > 1:
        raise TypeError(
            f"{op}: input, weight and bias must share a dtype, got {sorted(map(str, dtypes))}; "
            "convert with .float() or .double()"
        )


def _check_conv_inputs(
    x: Array, weight: Array, bias: Array | None, groups: int
) -> tuple[int, int, int, int]:
    """(N, C, H, W) of the input, or an error that names the mismatch."""
    _check_common("conv2d", x, weight, bias, groups, transposed=False)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"conv2d: input {x.shape} has {x.shape[1]} channels but weight {weight.shape} with "
            f"groups={groups} expects {weight.shape[1] * groups}"
        )
    if weight.shape[0] % groups:
        raise ValueError(
            f"conv2d: {weight.shape[0]} output channels do not split into groups={groups}"
        )
    n, c, h, w = x.shape
    return n, c, h, w


def _check_transposed_inputs(
    x: Array, weight: Array, bias: Array | None, groups: int
) -> tuple[int, int, int, int]:
    """(N, C, H, W) of the input, or an error that names the mismatch."""
    _check_common("conv_transpose2d", x, weight, bias, groups, transposed=True)
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"conv_transpose2d: input {x.shape} has {x.shape[1]} channels but weight "
            f"{weight.shape} expects {weight.shape[0]}"
        )
    if weight.shape[0] % groups:
        raise ValueError(
            f"conv_transpose2d: {weight.shape[0]} input channels do not split into groups={groups}"
        )
    n, c, h, w = x.shape
    return n, c, h, w
