"""Activation functions and the softmax family, each with a closed-form backward."""

import math

from forge_core.autograd import Function
from forge_core.backend import Array, xp


def sigmoid_array(x: Array) -> Array:
    """Logistic sigmoid through tanh: one transcendental, stable for any magnitude."""
    out = xp.tanh(x * 0.5)
    out *= 0.5
    out += 0.5
    return out


def erf_array(x: Array) -> Array:
    """Error function to ~1.2e-7 relative accuracy (Chebyshev fit of erfc), in ``x``'s dtype."""
    z = xp.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t
                            * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    erfc = t * xp.exp(poly)
    return xp.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(x.dtype, copy=False)


class Relu(Function):
    def forward(self, a: Array) -> Array:
        out = xp.maximum(a, 0)
        self.saved = (out,)
        return out

    def backward(self, g: Array) -> Array:
        return g * (self.saved[0] > 0)


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
