"""Activation functions and the softmax family, each with a closed-form backward."""

import math

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.native import relu_backward_f32, relu_f32


def sigmoid_array(x: Array) -> Array:
    """Logistic sigmoid as ``1 / (1 + exp(-x))``, accurate to a few ulp relative even in the far
    negative tail (where ``tanh(x/2)/2 + 1/2`` cancels to 0); exp overflowing to inf gives 0."""
    out = xp.negative(x, out=xp.empty_like(x))  # an array even for 0-d x, for the in-place ops
    with xp.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)
    return out


# erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1)); 30 terms reach double precision for
# |z| < 2, where the largest term is about 10, so little is lost to cancellation.
_ERF_SERIES = tuple(
    (-1) ** n * 2 / math.sqrt(math.pi) / (math.factorial(n) * (2 * n + 1)) for n in range(30)
)
# Beyond |z| = 2, erfc(z) = exp(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))),
# a continued fraction that 40 levels take to double precision.
_ERFC_DEPTH = 40


def erf_array(x: Array) -> Array:
    """The error function, to double precision (a few ulp) in float64, in ``x``'s dtype."""
    out = xp.empty_like(x)
    small = xp.abs(x) < 2.0
    z = x[small]
    z2 = z * z
    series = xp.full_like(z, _ERF_SERIES[-1])
    for c in reversed(_ERF_SERIES[:-1]):
        series *= z2
        series += c
    out[small] = series * z
    large = ~small
    z = xp.abs(x[large])
    fraction = z.copy()
    for n in range(_ERFC_DEPTH, 0, -1):
        fraction = z + (n / 2) / fraction
    erfc = xp.exp(-z * z) / (math.sqrt(math.pi) * fraction)
    out[large] = xp.copysign(1.0 - erfc, x[large])
    return out


class Relu(Function):
    """``max(a, 0)``; in C for large float32 arrays (``forge_core.native.relu_f32``)."""

    def forward(self, a: Array) -> Array:
        out = relu_f32(a)
        if out is None:
            out = xp.maximum(a, 0)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        out = self.saved[0]
        grad = relu_backward_f32(out, g)
        return g * (out > 0) if grad is None else grad


class LeakyRelu(Function):
    def forward(self, a: Array, negative_slope: float) -> Array:
        positive = a > 0
        self.saved = (positive, negative_slope)
        return xp.where(positive, a, a * negative_slope)

    def backward(self, g: Array) -> Array:
        positive, slope = self.saved
        return xp.where(positive, g, g * slope)


class Sigmoid(Function):
    def forward(self, a: Array) -> Array:
        out = sigmoid_array(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        out = self.saved[0]
        return g * out * (1 - out)


class Tanh(Function):
    def forward(self, a: Array) -> Array:
        out = xp.tanh(a)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        out = self.saved[0]
        return g * (1 - out * out)


class Gelu(Function):
    """GELU, exact (``x * Phi(x)``) or with PyTorch's ``approximate='tanh'`` formula."""

    def forward(self, a: Array, approximate: str) -> Array:
        self.saved = (a, approximate)
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)
            return 0.5 * a * (1 + xp.tanh(inner))
        return 0.5 * a * (1 + erf_array(a * (1 / math.sqrt(2))))

    def backward(self, g: Array) -> Array:
        a, approximate = self.saved
        if approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            th = xp.tanh(k * (a + 0.044715 * a**3))
            d_inner = k * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + th) + 0.5 * a * (1 - th * th) * d_inner)
        cdf = 0.5 * (1 + erf_array(a * (1 / math.sqrt(2))))
        pdf = xp.exp(-0.5 * a * a) * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + a * pdf)


class Softmax(Function):
    def forward(self, a: Array, dim: int) -> Array:
        shifted = a - a.max(axis=dim, keepdims=True)
        out = xp.exp(shifted)
        out /= out.sum(axis=dim, keepdims=True)
        self.saved = (out, dim)
        return out

    def backward(self, g: Array) -> Array:
        out, dim = self.saved
        return out * (g - (g * out).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a: Array, dim: int) -> Array:
        shifted = a - a.max(axis=dim, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        self.saved = (out, dim)
        return out

    def backward(self, g: Array) -> Array:
        out, dim = self.saved
        return g - xp.exp(out) * g.sum(axis=dim, keepdims=True)


def _softplus_array(x: Array) -> Array:
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Elu(Function):
    """``scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1))``: ELU, and CELU and SELU
    with PyTorch's constants, as PyTorch's own kernel computes all three."""

    def forward(self, a: Array, alpha: float, scale: float, input_scale: float) -> Array:
        positive = a > 0
        negative_part = alpha * xp.expm1(xp.minimum(a, 0) * input_scale)
        self.saved = (positive, negative_part, alpha, scale, input_scale)
        return scale * xp.where(positive, a, negative_part)

    def backward(self, g: Array) -> Array:
        positive, negative_part, alpha, scale, input_scale = self.saved
        slope = xp.where(positive, 1, (negative_part + alpha) * input_scale)
        return g * (scale * slope)


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    def forward(self, a: Array, beta: float, threshold: float) -> Array:
        scaled = a * beta
        linear = scaled > threshold
        self.saved = (scaled, linear)
        return xp.where(linear, a, _softplus_array(scaled) / beta)

    def backward(self, g: Array) -> Array:
        scaled, linear = self.saved
        return xp.where(linear, g, g * sigmoid_array(scaled))


class Hardtanh(Function):
    """``clip(x, min_val, max_val)``; the gradient is zero at and beyond the bounds, as in
    PyTorch (ReLU6 is ``hardtanh(x, 0, 6)``)."""

    def forward(self, a: Array, min_val: float, max_val: float) -> Array:
        self.saved = ((a > min_val) & (a < max_val),)
        return xp.clip(a, min_val, max_val)

    def backward(self, g: Array) -> Array:
        return g * self.saved[0]


class Hardsigmoid(Function):
    """``relu6(x + 3) / 6``."""

    def forward(self, a: Array) -> Array:
        self.saved = ((a > -3) & (a < 3),)
        return xp.clip(a / 6 + 0.5, 0, 1)

    def backward(self, g: Array) -> Array:
        return g * (self.saved[0] / 6)


class Hardswish(Function):
    """``x * relu6(x + 3) / 6``."""

    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return a * xp.clip(a / 6 + 0.5, 0, 1)

    def backward(self, g: Array) -> Array:
        a = self.saved[0]
        slope = xp.where(a < -3, 0, xp.where(a <= 3, a / 3 + 0.5, 1))
        return g * slope


class Silu(Function):
    """``x * sigmoid(x)``, also called swish."""

    def forward(self, a: Array) -> Array:
        s = sigmoid_array(a)
        self.saved = (a, s)
        return a * s

    def backward(self, g: Array) -> Array:
        a, s = self.saved
        return g * (s * (1 + a * (1 - s)))


class Mish(Function):
    """``x * tanh(softplus(x))``."""

    def forward(self, a: Array) -> Array:
        t = xp.tanh(_softplus_array(a))
        self.saved = (a, t)
        return a * t

    def backward(self, g: Array) -> Array:
        a, t = self.saved
        return g * (t + a * sigmoid_array(a) * (1 - t * t))


class Softsign(Function):
    """``x / (1 + |x|)``."""

    def forward(self, a: Array) -> Array:
        denominator = 1 + xp.abs(a)
        self.saved = (denominator,)
        return a / denominator

    def backward(self, g: Array) -> Array:
        denominator = self.saved[0]
        return g / (denominator * denominator)


class LogSigmoid(Function):
    """``log(sigmoid(x)) = -softplus(-x)``, finite for any ``x``."""

    def forward(self, a: Array) -> Array:
        self.saved = (a,)
        return -_softplus_array(-a)

    def backward(self, g: Array) -> Array:
        return g * sigmoid_array(-self.saved[0])
