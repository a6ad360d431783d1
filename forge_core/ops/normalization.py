"""Batch and layer normalisation as fused ops with hand-written backward passes.

Built from primitive ops, normalisation records about ten graph nodes and as many full-size
temporaries; here the forward keeps only the normalised input ``x̂`` and the per-group inverse
standard deviation, and the backward is the closed form
``dx = (w / std) · (g - mean(g) - x̂ · mean(g · x̂))`` over each normalised group.

The optional affine weight and bias travel as extra tensor inputs after ``x``, flagged by
``has_weight`` and ``has_bias``, so that the graph only records the parameters that exist.
"""

import math

from forge_core.autograd import Function
from forge_core.backend import Array, xp


def _affine(
    params: tuple[Array, ...], has_weight: bool, has_bias: bool
) -> tuple[Array | None, ...]:
    weight = params[0] if has_weight else None
    bias = params[-1] if has_bias else None
    return weight, bias


def _param_grads(
    needs: tuple[bool, ...],
    has_weight: bool,
    has_bias: bool,
    grad_weight: Array | None,
    grad_bias: Array | None,
) -> list[Array | None]:
    grads: list[Array | None] = []
    position = 1
    if has_weight:
        grads.append(grad_weight if needs[position] else None)
        position += 1
    if has_bias:
        grads.append(grad_bias if needs[position] else None)
    return grads


class BatchNorm(Function):
    """Normalise each channel (dim 1) of ``(N, C, *)`` over the batch and spatial dims.

    In training the batch statistics normalise (biased variance) and, when given, the running
    statistics are updated in place with PyTorch's rule
    ``running = (1 - momentum) running + momentum · batch`` (unbiased variance there). In
    evaluation the running statistics normalise and the op is affine in ``x``.
    """

    def forward(
        self,
        x: Array,
        *params: Array,
        has_weight: bool,
        has_bias: bool,
        running_mean: Array | None,
        running_var: Array | None,
        training: bool,
        momentum: float,
        eps: float,
    ) -> Array:
        if x.ndim < 2:
            raise ValueError(f"batch norm needs input of shape (N, C, *), got {x.shape}")
        channels = x.shape[1]
        weight, bias = _affine(params, has_weight, has_bias)
        for name, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean)):
            if value is not None and value.shape != (channels,):
                raise ValueError(
                    f"{name} has shape {value.shape}, the input has {channels} channels"
                )
        axes = (0, *range(2, x.ndim))
        shape = (1, channels) + (1,) * (x.ndim - 2)
        count = x.size // channels
        if training:
            if count <= 1:
                raise ValueError(
                    f"batch norm in training needs more than one value per channel, got input "
                    f"shape {x.shape}; use a larger batch or call .eval()"
                )
            mean = x.mean(axis=axes)
            normalised = x - mean.reshape(shape)
            var = xp.square(normalised).mean(axis=axes)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            if running_mean is None or running_var is None:
                raise ValueError("batch norm in evaluation needs running_mean and running_var")
            var = running_var.astype(x.dtype, copy=False)
            normalised = x - running_mean.astype(x.dtype, copy=False).reshape(shape)
        inv_std = 1 / xp.sqrt(var + eps)
        normalised *= inv_std.reshape(shape)
        self.saved = (normalised, inv_std, weight, training, axes, shape, has_weight, has_bias)
        if weight is None and bias is None:
            return normalised
        out = normalised * weight.reshape(shape) if weight is not None else normalised.copy()
        if bias is not None:
            out += bias.reshape(shape)
        return out

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        normalised, inv_std, weight, training, axes, shape, has_weight, has_bias = self.saved
        grad_bias = g.sum(axis=axes)
        grad_weight = (g * normalised).sum(axis=axes)
        grad_x = None
        if self.needs_input_grad[0]:
            coef = inv_std if weight is None else inv_std * weight
            if training:
                count = g.size // g.shape[1]
                grad_x = g - (grad_bias / count).reshape(shape)
                grad_x -= normalised * (grad_weight / count).reshape(shape)
                grad_x *= coef.reshape(shape)
            else:
                grad_x = g * coef.reshape(shape)
        param_grads = _param_grads(
            self.needs_input_grad, has_weight, has_bias, grad_weight, grad_bias
        )
        return (grad_x, *param_grads)


class LayerNorm(Function):
    """Normalise over the last ``normalized_ndim`` dims of each sample (biased variance).

    The input is viewed as rows ``(samples, features)``, and each row's mean is a product with a
    vector of ``1 / features``: a GEMV is about 7x faster than NumPy's sum along a short last
    axis (measured on a (3072, 64) float32 input, the Transformer benchmark's).
    """

    def forward(
        self,
        x: Array,
        *params: Array,
        has_weight: bool,
        has_bias: bool,
        normalized_ndim: int,
        eps: float,
    ) -> Array:
        weight, bias = _affine(params, has_weight, has_bias)
        normalized_shape = x.shape[x.ndim - normalized_ndim :]
        features = math.prod(normalized_shape)
        rows = x.reshape(-1, features)
        average = xp.full(features, 1 / features, dtype=x.dtype)
        normalised = rows - (rows @ average)[:, None]
        inv_std = 1 / xp.sqrt(xp.square(normalised) @ average + eps)
        normalised *= inv_std[:, None]
        flat_weight = None if weight is None else weight.reshape(-1)
        self.saved = (
            normalised,
            inv_std,
            flat_weight,
            average,
            x.shape,
            normalized_shape,
            has_bias,
        )
        if flat_weight is None and bias is None:
            return normalised.reshape(x.shape)
        out = normalised * flat_weight if flat_weight is not None else normalised.copy()
        if bias is not None:
            out += bias.reshape(-1)
        return out.reshape(x.shape)

    def backward(self, g: Array) -> tuple[Array | None, ...]:
        normalised, inv_std, weight, average, shape, normalized_shape, has_bias = self.saved
        has_weight = weight is not None
        g2 = g.reshape(normalised.shape)
        # column sums over the samples are GEMVs too; and with w the weight,
        # mean(g w) = g @ (w / n) and mean(g w x̂) = (g x̂) @ (w / n), so g x̂ serves twice
        ones = xp.ones(g2.shape[0], dtype=g2.dtype)
        g_normalised = g2 * normalised
        grad_bias = (ones @ g2).reshape(normalized_shape) if has_bias else None
        grad_weight = (ones @ g_normalised).reshape(normalized_shape) if has_weight else None
        grad_x = None
        if self.needs_input_grad[0]:
            weighted_average = average if weight is None else weight * average
            grad_x = g2 * weight if weight is not None else g2.copy()
            grad_x -= (g2 @ weighted_average)[:, None]
            grad_x -= normalised * (g_normalised @ weighted_average)[:, None]
            grad_x *= inv_std[:, None]
            grad_x = grad_x.reshape(shape)
        param_grads = _param_grads(
            self.needs_input_grad, has_weight, has_bias, grad_weight, grad_bias
        )
        return (grad_x, *param_grads)
