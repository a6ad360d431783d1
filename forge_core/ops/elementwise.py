"""Broadcasting arithmetic and elementwise math."""

import math
from collections.abc import Callable
from typing import Any

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops._broadcast import unbroadcast
from forge_core.ops.activations import erf_array


class Add(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a.shape, b.shape)
        return a + b

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        sa, sb = self.saved
        ga, gb = self.needs_input_grad
        return (unbroadcast(g, sa) if ga else None, unbroadcast(g, sb) if gb else None)


class Sub(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a.shape, b.shape)
        return a - b

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        sa, sb = self.saved
        ga, gb = self.needs_input_grad
        return (unbroadcast(g, sa) if ga else None, unbroadcast(-g, sb) if gb else None)


class Mul(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a, b)
        return a * b

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b = self.saved
        ga, gb = self.needs_input_grad
        return (
            unbroadcast(g * b, a.shape) if ga else None,
            unbroadcast(g * a, b.shape) if gb else None,
        )


class Div(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a, b)
        return a / b

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b = self.saved
        ga, gb = self.needs_input_grad
        return (
            unbroadcast(g / b, a.shape) if ga else None,
            unbroadcast(-g * a / (b * b), b.shape) if gb else None,
        )


class Neg(Function):
    def forward(self, a: Array) -> Array:
        return -a

    def backward(self, g: Array) -> Array:
        return -g


class Pow(Function):
    """``a ** b`` for two tensors; at ``a == 0`` the gradients follow PyTorch's conventions."""

    def forward(self, a: Array, b: Array) -> Array:
        out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b, out = self.saved
        ga, gb = self.needs_input_grad
        grad_a = grad_b = None
        with xp.errstate(divide="ignore", invalid="ignore"):
            if ga:
                # b == 0 is constant 1 in a: zero gradient even where a ** -1 is infinite
                grad_a = unbroadcast(xp.where(b == 0, 0, g * b * a ** (b - 1)), a.shape)
            if gb:
                # 0 ** b for b >= 0 is 0 or 1 and is treated as flat in b, as in PyTorch
                flat = (a == 0) & (b >= 0)
                grad_b = unbroadcast(xp.where(flat, 0, g * out * xp.log(a)), b.shape)
        return grad_a, grad_b


class PowScalar(Function):
    """``a ** p`` for a Python number ``p``."""

    def forward(self, a: Array, exponent: float) -> Array:
        self.saved = (a, exponent)
        if exponent == 2:
            return a * a
        return a**exponent

    def backward(self, g: Array) -> Array:
        a, p = self.saved
        if p == 2:
            return g * (2 * a)
        if p == 0:  # a ** 0 is constant; a ** -1 would make 0 * inf = nan at a == 0
            return xp.zeros_like(g)
        return g * (p * a ** (p - 1))


class Exp(Function):
    def forward(self, a: Array) -> Array:
        out = xp.exp(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        return g * self.saved[0]


class Log(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return xp.log(a)

    def backward(self, g: Array) -> Array:
        return g / self.saved[0]


class Sqrt(Function):
    def forward(self, a: Array) -> Array:
        out = xp.sqrt(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        return g / (2 * self.saved[0])


class Abs(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return xp.abs(a)

    def backward(self, g: Array) -> Array:
        return g * xp.sign(self.saved[0])


class Clamp(Function):
    def forward(self, a: Array, low: float | None, high: float | None) -> Array:
        self.saved = (a, low, high)
        return xp.clip(a, low, high)

    def backward(self, g: Array) -> Array:
        a, low, high = self.saved
        keep = xp.ones(a.shape, dtype=bool)
        if low is not None:
            keep &= a >= low
        if high is not None:
            keep &= a <= high
        return g * keep


class Where(Function):
    """``where(condition, a, b)``; the boolean condition carries no gradient."""

    def forward(self, a: Array, b: Array, condition: Array) -> Array:
        self.saved = (condition, a.shape, b.shape)
        return xp.where(condition, a, b)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        condition, sa, sb = self.saved
        ga, gb = self.needs_input_grad
        zero = xp.zeros((), dtype=g.dtype)
        return (
            unbroadcast(xp.where(condition, g, zero), sa) if ga else None,
            unbroadcast(xp.where(condition, zero, g), sb) if gb else None,
        )


class Maximum(Function):
    """Elementwise maximum; ties split the gradient evenly, as PyTorch does."""

    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a, b)
        return xp.maximum(a, b)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b = self.saved
        return _pick_backward(g, a, b, self.needs_input_grad, greater=True)


class Minimum(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.saved = (a, b)
        return xp.minimum(a, b)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        a, b = self.saved
        return _pick_backward(g, a, b, self.needs_input_grad, greater=False)


def _pick_backward(
    g: Array, a: Array, b: Array, needs: tuple[bool, ...], greater: bool
) -> tuple[Array | None, Array | None]:
    wins = (a > b) if greater else (a < b)
    share: Any = (wins + 0.5 * (a == b)).astype(g.dtype)
    ga, gb = needs
    return (
        unbroadcast(g * share, a.shape) if ga else None,
        unbroadcast(g * (1 - share), b.shape) if gb else None,
    )


class Cast(Function):
    def forward(self, a: Array, dtype: Any) -> Array:
        self.saved = (a.dtype,)
        return a.astype(dtype)

    def backward(self, g: Array) -> Array:
        return g.astype(self.saved[0])


class ClampTensor(Function):
    """``clamp`` with tensor bounds (either may be absent), broadcast against the input.

    As in PyTorch, ``max`` wins where ``min > max``, and a bound gets the gradient where it was
    the value picked: the input where it lay within the bounds."""

    def forward(self, a: Array, *bounds: Array, has_low: bool, has_high: bool) -> Array:
        low = bounds[0] if has_low else None
        high = bounds[-1] if has_high else None
        out = a if low is None else xp.maximum(a, low)
        out = out if high is None else xp.minimum(out, high)
        self.saved = (a, low, high)
        return out

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        a, low, high = self.saved
        zero = xp.zeros((), dtype=g.dtype)
        keep = xp.ones(a.shape, dtype=bool)
        grads: list[Array | None] = []
        if low is not None:
            keep = keep & (a >= low)
        if high is not None:
            keep = keep & (a <= high)
        grads.append(unbroadcast(xp.where(keep, g, zero), a.shape))
        if low is not None:
            picked = a < low if high is None else (a < low) & (low < high)
            grads.append(unbroadcast(xp.where(picked, g, zero), low.shape))
        if high is not None:
            picked = a > high if low is None else (a > high) | (high < low)
            grads.append(unbroadcast(xp.where(picked, g, zero), high.shape))
        return tuple(grads)


class Sin(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return xp.sin(a)

    def backward(self, g: Array) -> Array:
        return g * xp.cos(self.saved[0])


class Cos(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return xp.cos(a)

    def backward(self, g: Array) -> Array:
        return g * -xp.sin(self.saved[0])


class Tan(Function):
    def forward(self, a: Array) -> Array:
        out = xp.tan(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        out = self.saved[0]
        return g * (1 + out * out)


class Log2(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return xp.log2(a)

    def backward(self, g: Array) -> Array:
        return g / (self.saved[0] * math.log(2))


class Exp2(Function):
    def forward(self, a: Array) -> Array:
        out = xp.exp2(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        return g * (self.saved[0] * math.log(2))


class Rsqrt(Function):
    def forward(self, a: Array) -> Array:
        with xp.errstate(divide="ignore"):
            out = 1 / xp.sqrt(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        out = self.saved[0]
        return g * (-0.5 * out * out * out)


class Erf(Function):
    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return erf_array(a)

    def backward(self, g: Array) -> Array:
        a = self.saved[0]
        return g * ((2 / math.sqrt(math.pi)) * xp.exp(-a * a))


# Functions that are flat between their jumps: their gradient is zero everywhere, as in PyTorch.
_STEPS: dict[str, Callable[[Array], Array]] = {
    "floor": xp.floor,
    "ceil": xp.ceil,
    "trunc": xp.trunc,
    "sign": xp.sign,
}


class Step(Function):
    """``floor``, ``ceil``, ``trunc``, ``sign`` and ``round``: piecewise constant, so the
    gradient is zero. ``round`` rounds halves to even, as NumPy and PyTorch both do."""

    def forward(self, a: Array, kind: str, decimals: int = 0) -> Array:
        self.saved = (a.shape,)
        if kind == "round":
            return xp.round(a, decimals)
        return _STEPS[kind](a)

    def backward(self, g: Array) -> Array:
        return xp.zeros(self.saved[0], dtype=g.dtype)
