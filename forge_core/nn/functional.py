"""Functional forms of the layers and losses, with PyTorch's ``torch.nn.functional`` names.

Layers call these, so a model written with ``F.relu(self.fc(x))`` and one written with
``nn.ReLU()`` run the same ops. Each function validates its options and calls one fused op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from forge_core.backend import Array, xp

# ----- convolutions, padding and pooling (issue #14): defined beside their layers -----
from forge_core.nn.conv import conv1d as conv1d
from forge_core.nn.conv import conv2d as conv2d
from forge_core.nn.conv_transpose import conv_transpose1d as conv_transpose1d
from forge_core.nn.conv_transpose import conv_transpose2d as conv_transpose2d
from forge_core.nn.padding import pad as pad
from forge_core.nn.pooling import adaptive_avg_pool1d as adaptive_avg_pool1d
from forge_core.nn.pooling import adaptive_avg_pool2d as adaptive_avg_pool2d
from forge_core.nn.pooling import avg_pool1d as avg_pool1d
from forge_core.nn.pooling import avg_pool2d as avg_pool2d
from forge_core.nn.pooling import max_pool1d as max_pool1d
from forge_core.nn.pooling import max_pool2d as max_pool2d

# ----- end of issue #14 block -----
from forge_core.ops import registry as ops
from forge_core.ops.losses import check_kl_reduction, check_reduction
from forge_core.tensor import Tensor


def _array(value: Tensor | Array | None) -> Array | None:
    return value.data if isinstance(value, Tensor) else value


# ----- linear and activations -----
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with ``weight`` shaped ``(out_features, in_features)``."""
    if bias is None:
        result: Tensor = ops.Linear.apply(input, weight)
    else:
        result = ops.Linear.apply(input, weight, bias)
    return result


def relu(input: Tensor) -> Tensor:
    result: Tensor = ops.Relu.apply(input)
    return result


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    result: Tensor = ops.LeakyRelu.apply(input, negative_slope=negative_slope)
    return result


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return input.gelu(approximate=approximate)


def sigmoid(input: Tensor) -> Tensor:
    result: Tensor = ops.Sigmoid.apply(input)
    return result


def tanh(input: Tensor) -> Tensor:
    result: Tensor = ops.Tanh.apply(input)
    return result


# issue #14: the rest of torch.nn.functional's activations
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    if alpha == 0:
        raise ValueError("celu alpha must not be 0")
    result: Tensor = ops.Elu.apply(input, alpha=alpha, scale=1.0, input_scale=1 / alpha)
    return result


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    result: Tensor = ops.Elu.apply(input, alpha=alpha, scale=1.0, input_scale=1.0)
    return result


def hardsigmoid(input: Tensor) -> Tensor:
    result: Tensor = ops.Hardsigmoid.apply(input)
    return result


def hardswish(input: Tensor) -> Tensor:
    result: Tensor = ops.Hardswish.apply(input)
    return result


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    if min_val > max_val:
        raise ValueError(f"hardtanh min_val {min_val} is above max_val {max_val}")
    result: Tensor = ops.Hardtanh.apply(input, min_val=min_val, max_val=max_val)
    return result


def logsigmoid(input: Tensor) -> Tensor:
    result: Tensor = ops.LogSigmoid.apply(input)
    return result


def mish(input: Tensor) -> Tensor:
    result: Tensor = ops.Mish.apply(input)
    return result


def relu6(input: Tensor) -> Tensor:
    return hardtanh(input, 0.0, 6.0)


def selu(input: Tensor) -> Tensor:
    result: Tensor = ops.Elu.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE, input_scale=1.0)
    return result


def silu(input: Tensor) -> Tensor:
    result: Tensor = ops.Silu.apply(input)
    return result


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""
    if beta == 0:
        raise ValueError("softplus beta must not be 0")
    result: Tensor = ops.Softplus.apply(input, beta=beta, threshold=threshold)
    return result


def softsign(input: Tensor) -> Tensor:
    result: Tensor = ops.Softsign.apply(input)
    return result


def legacy_softmax_dim(ndim: int) -> int:
    """The dim PyTorch's softmax picks when none is given: 0 for 0-, 1- and 3-D, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    result: Tensor = ops.Softmax.apply(
        input, dim=legacy_softmax_dim(input.ndim) if dim is None else dim
    )
    return result


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    result: Tensor = ops.LogSoftmax.apply(
        input, dim=legacy_softmax_dim(input.ndim) if dim is None else dim
    )
    return result


# ----- dropout, normalisation, embedding -----
def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout in training; the input itself otherwise (or when ``p`` is 0)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], not {p}")
    if not training or p == 0.0:
        return input
    result: Tensor = ops.Dropout.apply(input, p=p)
    return result


def _affine_inputs(
    weight: Tensor | None, bias: Tensor | None
) -> tuple[list[Tensor], dict[str, bool]]:
    """The affine parameters that exist, as op inputs, and the flags that say which they are."""
    params = [t for t in (weight, bias) if t is not None]
    return params, {"has_weight": weight is not None, "has_bias": bias is not None}


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over dim 1 of ``(N, C, *)``; in training the running statistics,
    when given, are updated in place."""
    params, flags = _affine_inputs(weight, bias)
    result: Tensor = ops.BatchNorm.apply(
        input,
        *params,
        **flags,
        running_mean=_array(running_mean),
        running_var=_array(running_var),
        training=training,
        momentum=momentum,
        eps=eps,
    )
    return result


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` dims."""
    shape = tuple(normalized_shape)
    if input.shape[input.ndim - len(shape) :] != shape or len(shape) > input.ndim:
        raise ValueError(
            f"layer_norm: normalized_shape {shape} does not match the last dims of input shape "
            f"{input.shape}"
        )
    params, flags = _affine_inputs(weight, bias)
    result: Tensor = ops.LayerNorm.apply(
        input, *params, **flags, normalized_ndim=len(shape), eps=eps
    )
    return result


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``; output shape ``(*input, dim)``."""
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    result: Tensor = ops.Embedding.apply(weight, input, padding_idx=padding_idx)
    return result


# ----- attention -----
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | Array | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query keyᵀ · scale + mask) value`` over ``(..., L, E)``, ``(..., S, E)`` and
    ``(..., S, Ev)``, the leading dims broadcasting; one fused op with its own backward.

    A boolean ``attn_mask`` (broadcastable to ``(..., L, S)``) says which keys each query may
    attend to (True: it may); a float mask is added to the scores (and gets no gradient).
    ``is_causal`` lets query ``i`` see keys ``0..i`` only, and excludes ``attn_mask``.
    ``scale`` defaults to ``1 / sqrt(E)``. Dropout on the weights applies whenever
    ``dropout_p > 0``, as in PyTorch: pass 0 in evaluation.
    """
    mask = _attention_mask(query, key, attn_mask, is_causal)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout_p must be in [0, 1], not {dropout_p}")
    if value.ndim < 2 or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"value must be shaped (..., S, Ev) with key's S = {key.shape[-2]}, got {value.shape}"
        )
    if scale is None:
        scale = 1 / math.sqrt(query.shape[-1])
    result: Tensor = ops.ScaledDotProductAttention.apply(
        query, key, value, mask=mask, dropout_p=dropout_p, scale=scale, need_weights=False
    )
    return result


def _attention_mask(
    query: Tensor, key: Tensor, attn_mask: Tensor | Array | None, is_causal: bool
) -> Array | None:
    """The mask ``scaled_dot_product_attention`` applies, checked against the query and key
    shapes: boolean (True: may attend) or additive in the query's float dtype."""
    if query.ndim < 2 or key.ndim < 2 or query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query and key must be shaped (..., L, E) and (..., S, E) with the same E, got "
            f"query {query.shape} and key {key.shape}"
        )
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("pass either attn_mask or is_causal=True, not both")
        return xp.tri(length, source, dtype=xp.bool_)
    mask = _array(attn_mask)
    if mask is None:
        return None
    if mask.dtype != xp.bool_ and mask.dtype.kind != "f":
        raise ValueError(f"attn_mask must be boolean or floating point, not {mask.dtype}")
    scores = (*xp.broadcast_shapes(query.shape[:-2], key.shape[:-2]), length, source)
    try:
        fits = xp.broadcast_shapes(mask.shape, scores) == scores
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"attn_mask of shape {mask.shape} does not broadcast to the attention scores' "
            f"shape {scores}"
        )
    return mask if mask.dtype == xp.bool_ else mask.astype(query.dtype, copy=False)


# ----- losses -----
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error. Input and target must have the same shape (no broadcasting)."""
    check_reduction(reduction)
    result: Tensor = ops.MseLoss.apply(input, target, reduction=reduction)
    return result


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    check_reduction(reduction)
    result: Tensor = ops.L1Loss.apply(input, target, reduction=reduction)
    return result


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    check_reduction(reduction)
    result: Tensor = ops.HuberLoss.apply(input, target, reduction=reduction, delta=delta)
    return result


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | Array | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits ``(N, C)`` or ``(N, C, d1, …)`` (or ``(C,)``) against class
    indices ``(N, d1, …)``, or against class probabilities shaped like the input."""
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], not {label_smoothing}")
    if target.dtype.kind == "f":
        result: Tensor = ops.SoftTargetCrossEntropyLoss.apply(
            input,
            target,
            reduction=reduction,
            weight=_array(weight),
            label_smoothing=label_smoothing,
        )
        return result
    result = ops.CrossEntropyLoss.apply(
        input,
        target,
        reduction=reduction,
        weight=_array(weight),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    return result


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | Array | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices, for log-probabilities (``log_softmax``)."""
    check_reduction(reduction)
    result: Tensor = ops.NllLoss.apply(
        input, target, reduction=reduction, weight=_array(weight), ignore_index=ignore_index
    )
    return result


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | Array | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | Array | None = None,
) -> Tensor:
    """Binary cross-entropy of logits, stable for any logit; ``pos_weight`` (broadcast along
    the last dim) weighs the positive term of each class."""
    check_reduction(reduction)
    result: Tensor = ops.BceWithLogitsLoss.apply(
        input,
        target,
        reduction=reduction,
        weight=_array(weight),
        pos_weight=_array(pos_weight),
    )
    return result


# issue #14: probability losses and vector similarity
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | Array | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities in ``[0, 1]`` (after a sigmoid); logs are clamped
    at -100. ``binary_cross_entropy_with_logits`` is the stable choice when logits exist."""
    check_reduction(reduction)
    result: Tensor = ops.BceLoss.apply(input, target, reduction=reduction, weight=_array(weight))
    return result


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """KL divergence of ``target`` from the log-probabilities ``input``; ``'batchmean'`` gives
    the divergence per sample, ``'mean'`` (PyTorch's default) per element."""
    check_kl_reduction(reduction)
    result: Tensor = ops.KlDivLoss.apply(input, target, reduction=reduction, log_target=log_target)
    return result


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim``, the norm kept at least ``eps``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (they broadcast). As in
    PyTorch each is divided by its own norm, kept at least ``eps``, before the dot product,
    which keeps the result within [-1, 1]."""
    try:
        shape = xp.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(
            f"cosine_similarity: x1 of shape {x1.shape} and x2 of shape {x2.shape} do not "
            "broadcast to one shape"
        ) from None
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1, n2 = x1.norm(2, dim, keepdim=True), x2.norm(2, dim, keepdim=True)
    # PyTorch clamps the norms outside the graph, so their gradients flow as if unclamped:
    # a constant shift does the same here
    n1 = n1 + (n1.detach().clamp(min=eps) - n1.detach())
    n2 = n2 + (n2.detach().clamp(min=eps) - n2.detach())
    return ((x1 / n1) * (x2 / n2)).sum(dim)
