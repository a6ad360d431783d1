"""Loss functions as fused ops: one forward and one closed-form backward per loss.

Built from primitive ops, a cross-entropy records half a dozen graph nodes and as many temporary
arrays per step, which is a large part of a small model's step time. Each op here computes the
loss in one pass and keeps only what its backward needs: the softmax for cross-entropy, the
residual for the regression losses.

Targets are cast to the input's dtype, so a float64 target never turns a float32 model's loss
or gradients into float64. The regression losses require equal input and target shapes instead
of broadcasting them: a ``(N, 1)`` prediction against a ``(N,)`` target silently broadcasts to
``(N, N)`` in PyTorch (with only a warning) and trains on the wrong loss.
"""

from typing import Any

from forge_core.autograd import Function
from forge_core.backend import Array, xp
from forge_core.ops.activations import sigmoid_array

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def _reduce(losses: Array, reduction: str) -> Array:
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "mean":
        total = total / losses.size
    return xp.asarray(total, dtype=losses.dtype)


def _scale(g: Array, reduction: str, count: int, factor: float = 1.0) -> Array:
    """The upstream gradient spread over the elements that a reduction combined."""
    if reduction == "mean":
        return g * (factor / count)
    return g * factor if factor != 1.0 else g


def _same_shape(input: Array, target: Array) -> Array:
    if input.shape != target.shape:
        raise ValueError(
            f"target shape {target.shape} differs from input shape {input.shape}; reshape one "
            "of them (forge does not broadcast a loss's target)"
        )
    return target.astype(input.dtype, copy=False)


def _target_grads(
    needs: tuple[bool, ...], grad: Array, target_dtype: Any
) -> tuple[Array | None, Array | None]:
    """Gradients for ``(input, target)`` of a loss of ``input - target``."""
    need_input, need_target = needs
    return (
        grad if need_input else None,
        (-grad).astype(target_dtype, copy=False) if need_target else None,
    )


class MseLoss(Function):
    def forward(self, input: Array, target: Array, reduction: str) -> Array:
        diff = input - _same_shape(input, target)
        self.saved = (diff, reduction, target.dtype)
        return _reduce(diff * diff, reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        diff, reduction, target_dtype = self.saved
        grad = diff * _scale(g, reduction, diff.size, 2.0)
        return _target_grads(self.needs_input_grad, grad, target_dtype)


class L1Loss(Function):
    def forward(self, input: Array, target: Array, reduction: str) -> Array:
        diff = input - _same_shape(input, target)
        self.saved = (diff, reduction, target.dtype)
        return _reduce(xp.abs(diff), reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        diff, reduction, target_dtype = self.saved
        grad = xp.sign(diff) * _scale(g, reduction, diff.size)
        return _target_grads(self.needs_input_grad, grad, target_dtype)


class HuberLoss(Function):
    """Squared error inside ``±delta``, linear outside: ``0.5 d²`` or ``delta (|d| - delta/2)``."""

    def forward(self, input: Array, target: Array, reduction: str, delta: float) -> Array:
        if delta <= 0:
            raise ValueError(f"huber_loss delta must be positive, not {delta}")
        diff = input - _same_shape(input, target)
        self.saved = (diff, reduction, delta, target.dtype)
        size = xp.abs(diff)
        losses = xp.where(size <= delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
        return _reduce(losses, reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        diff, reduction, delta, target_dtype = self.saved
        grad = xp.clip(diff, -delta, delta) * _scale(g, reduction, diff.size)
        return _target_grads(self.needs_input_grad, grad, target_dtype)


class BceWithLogitsLoss(Function):
    """Binary cross-entropy on logits, ``(1 - t) x + l · softplus(-x)`` with
    ``l = 1 + (pos_weight - 1) t``; ``softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)`` never
    overflows, whatever the logit's size."""

    def forward(
        self,
        input: Array,
        target: Array,
        reduction: str,
        weight: Array | None = None,
        pos_weight: Array | None = None,
    ) -> Array:
        target = _same_shape(input, target)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(input)))
        softplus_neg += xp.maximum(-input, 0)
        log_weight = None
        if pos_weight is not None:
            log_weight = 1 + (pos_weight.astype(input.dtype, copy=False) - 1) * target
            softplus_neg *= log_weight
        losses = (1 - target) * input
        losses += softplus_neg
        if weight is not None:
            weight = weight.astype(input.dtype, copy=False)
            losses *= weight
        self.saved = (input, target, log_weight, weight, pos_weight, reduction)
        return _reduce(losses, reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        input, target, log_weight, weight, pos_weight, reduction = self.saved
        need_input, need_target = self.needs_input_grad
        scale = _scale(g, reduction, input.size)
        if weight is not None:
            scale = scale * weight
        grad_input = grad_target = None
        if need_input:
            prob = sigmoid_array(input)
            if log_weight is None:
                grad_input = (prob - target) * scale
            else:
                grad_input = (log_weight * prob - log_weight + 1 - target) * scale
        if need_target:
            grad_target = -input
            if pos_weight is not None:
                softplus_neg = xp.log1p(xp.exp(-xp.abs(input))) + xp.maximum(-input, 0)
                grad_target = grad_target + (pos_weight.astype(input.dtype) - 1) * softplus_neg
            grad_target = grad_target * scale
        return grad_input, grad_target


def _classes_last(a: Array) -> Array:
    """``(C,)``, ``(N, C)`` or ``(N, C, d1, …)`` as a 2-D ``(rows, C)`` array."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim == 2:
        return a
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _classes_back(grad: Array, shape: tuple[int, ...]) -> Array:
    """Undo ``_classes_last`` on a ``(rows, C)`` gradient."""
    if len(shape) <= 2:
        return grad.reshape(shape)
    return xp.moveaxis(grad.reshape(shape[0], *shape[2:], shape[1]), -1, 1)


def _class_targets(input: Array, target: Array, ignore_index: int) -> tuple[Array, Array | None]:
    """Validated class indices as a flat array, and the mask of the ones not ignored."""
    if input.ndim == 0:
        raise ValueError("input must have a class dimension: (C,), (N, C) or (N, C, d1, ...)")
    expected = () if input.ndim == 1 else (input.shape[0], *input.shape[2:])
    if target.shape != expected:
        raise ValueError(
            f"target shape {target.shape} does not fit input shape {input.shape}: class "
            f"indices need shape {expected} (the input's shape without the class dim 1)"
        )
    if target.dtype.kind not in "iu":
        raise TypeError(f"class-index targets must be integers (int64), not {target.dtype}")
    classes = input.shape[0 if input.ndim == 1 else 1]
    flat = target.reshape(-1)
    valid = flat != ignore_index
    if valid.all():
        mask = None
    else:
        mask = valid
        flat = xp.where(valid, flat, 0)
    if flat.size and (flat.min() < 0 or flat.max() >= classes):
        bad = flat[(flat < 0) | (flat >= classes)][0]
        raise IndexError(
            f"target holds class index {bad}, out of range for {classes} classes "
            f"(valid: 0..{classes - 1}, or ignore_index={ignore_index})"
        )
    return flat, mask


def _row_scale(g: Array, reduction: str, count: Any) -> Array:
    """The upstream gradient of a class loss per row (``'none'``) or as one 0-d array."""
    if reduction == "none":
        return g.reshape(-1)
    return g / count if reduction == "mean" else g


def _class_weight(weight: Array | None, classes: int, dtype: Any) -> Array | None:
    if weight is None:
        return None
    if weight.shape != (classes,):
        raise ValueError(f"class weight has shape {weight.shape}, expected ({classes},)")
    return weight.astype(dtype, copy=False)


class CrossEntropyLoss(Function):
    """Log-softmax and negative log-likelihood over the class dim 1, with class-index targets.

    With ``p = softmax(x)``, the gradient per row is ``p · Σ_k c_k - c``, where ``c`` weights
    the target class by ``(1 - ε) w_t`` and every class by ``ε w / C`` (label smoothing ``ε``);
    the ``'mean'`` reduction divides by the summed weights of the rows not ignored, as PyTorch.
    """

    def forward(
        self,
        input: Array,
        target: Array,
        reduction: str,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> Array:
        flat, mask = _class_targets(input, target, ignore_index)
        x = _classes_last(input)
        rows, classes = x.shape
        weight = _class_weight(weight, classes, x.dtype)
        index = xp.arange(rows)
        shifted = x - x.max(axis=1, keepdims=True)
        picked = shifted[index, flat]
        smooth = 0.0
        if label_smoothing:
            smooth = shifted.sum(axis=1) if weight is None else shifted @ weight
        probs = xp.exp(shifted, out=shifted)
        total = probs.sum(axis=1)
        log_total = xp.log(total)
        probs /= total[:, None]
        losses = log_total - picked
        target_weight = None if weight is None else weight[flat]
        if target_weight is not None:
            losses *= target_weight
        if label_smoothing:
            weight_sum = classes if weight is None else weight.sum()
            losses *= 1 - label_smoothing
            losses += (label_smoothing / classes) * (weight_sum * log_total - smooth)
        if mask is not None:
            losses *= mask
        if target_weight is not None and mask is not None:
            target_weight = target_weight * mask
        if target_weight is not None:
            count = target_weight.sum()
        else:
            count = rows if mask is None else int(mask.sum())
        self.saved = (
            probs,
            index,
            flat,
            mask,
            weight,
            target_weight,
            label_smoothing,
            reduction,
            count,
            input.shape,
        )
        if reduction == "none":
            return losses.reshape(target.shape)
        out = losses.sum()
        return xp.asarray(out / count if reduction == "mean" else out, dtype=x.dtype)

    def backward(self, g: Array) -> Array:
        probs, index, flat, mask, weight, target_weight, smoothing, reduction, count, shape = (
            self.saved
        )
        classes = probs.shape[1]
        # per-row coefficients, or one scalar for all rows in the common unweighted case
        scale = _row_scale(g, reduction, count)
        if mask is not None:
            scale = scale * mask
        target_coef = scale * (1 - smoothing) if smoothing else scale
        if target_weight is not None:
            target_coef = target_coef * target_weight
        row_coef = target_coef
        if smoothing:
            weight_sum = classes if weight is None else weight.sum()
            row_coef = target_coef + scale * (smoothing * weight_sum / classes)
        grad = probs * (row_coef[:, None] if row_coef.ndim else row_coef)
        grad[index, flat] -= target_coef
        if smoothing:
            spread = scale * (smoothing / classes)
            spread = spread[:, None] if spread.ndim else spread
            grad -= spread if weight is None else spread * weight
        return _classes_back(grad, shape)


class SoftTargetCrossEntropyLoss(Function):
    """Cross-entropy against class probabilities (a target shaped like the input).

    PyTorch's rule: the loss per row is ``-Σ_c w_c t_c log p_c`` with the target smoothed to
    ``(1 - ε) t + ε / C``, and ``'mean'`` divides by the number of rows.
    """

    def forward(
        self,
        input: Array,
        target: Array,
        reduction: str,
        weight: Array | None = None,
        label_smoothing: float = 0.0,
    ) -> Array:
        if input.ndim == 0:
            raise ValueError("input must have a class dimension: (C,), (N, C) or (N, C, d1, ...)")
        if target.shape != input.shape:
            raise ValueError(
                f"a floating-point target is read as class probabilities and needs the input's "
                f"shape {input.shape}, not {target.shape}; pass class indices as int64 "
                "(target.long())"
            )
        target = _classes_last(target.astype(input.dtype, copy=False))
        x = _classes_last(input)
        classes = x.shape[1]
        weight = _class_weight(weight, classes, x.dtype)
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        if weight is not None:
            target = target * weight
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        losses = -(log_probs * target).sum(axis=1)
        self.saved = (log_probs, target, reduction, input.shape)
        if reduction == "none":
            return losses.reshape(() if input.ndim == 1 else (input.shape[0], *input.shape[2:]))
        return _reduce(losses, reduction)

    def backward(self, g: Array) -> tuple[Array | None, None]:
        log_probs, target, reduction, shape = self.saved
        rows = log_probs.shape[0]
        scale = g.reshape(-1, 1) if reduction == "none" else _scale(g, reduction, rows)
        grad = xp.exp(log_probs) * target.sum(axis=1, keepdims=True)
        grad -= target
        grad *= scale
        return _classes_back(grad, shape), None


class NllLoss(Function):
    """Negative log-likelihood of class indices, for log-probabilities shaped like
    ``CrossEntropyLoss``'s logits."""

    def forward(
        self,
        input: Array,
        target: Array,
        reduction: str,
        weight: Array | None = None,
        ignore_index: int = -100,
    ) -> Array:
        flat, mask = _class_targets(input, target, ignore_index)
        x = _classes_last(input)
        rows, classes = x.shape
        weight = _class_weight(weight, classes, x.dtype)
        coef: Any = xp.ones(rows, dtype=x.dtype) if weight is None else weight[flat]
        if mask is not None:
            coef = coef * mask
        losses = -x[xp.arange(rows), flat] * coef
        count = coef.sum()
        self.saved = (flat, coef, reduction, count, input.shape, x.dtype)
        if reduction == "none":
            return losses.reshape(target.shape)
        out = losses.sum()
        return xp.asarray(out / count if reduction == "mean" else out, dtype=x.dtype)

    def backward(self, g: Array) -> Array:
        flat, coef, reduction, count, shape, dtype = self.saved
        rows = flat.size
        scale = _row_scale(g, reduction, count)
        grad = xp.zeros((rows, shape[0] if len(shape) == 1 else shape[1]), dtype=dtype)
        grad[xp.arange(rows), flat] = -(scale * coef)
        return _classes_back(grad, shape)


class BceLoss(Function):
    """Binary cross-entropy of probabilities, ``-w (t log x + (1 - t) log(1 - x))``, with each
    log clamped at -100 as in PyTorch, so a probability of exactly 0 or 1 gives a finite loss.
    The target's gradient differentiates that clamped loss, so it stays finite at a
    probability of 0 or 1, where PyTorch's is infinite. Prefer
    ``binary_cross_entropy_with_logits``: it never needs the clamp."""

    def forward(
        self, input: Array, target: Array, reduction: str, weight: Array | None = None
    ) -> Array:
        target = _same_shape(input, target)
        if input.size and (input.min() < 0 or input.max() > 1):
            raise ValueError("binary_cross_entropy input must hold probabilities in [0, 1]")
        with xp.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(input), -100)
            log_rest = xp.maximum(xp.log1p(-input), -100)
        losses = -(target * log_x + (1 - target) * log_rest)
        if weight is not None:
            weight = xp.broadcast_to(weight.astype(input.dtype, copy=False), input.shape)
            losses *= weight
        self.saved = (input, target, log_x, log_rest, weight, reduction)
        return _reduce(losses, reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        input, target, log_x, log_rest, weight, reduction = self.saved
        need_input, need_target = self.needs_input_grad
        scale = _scale(g, reduction, input.size)
        if weight is not None:
            scale = scale * weight
        grad_input = grad_target = None
        if need_input:
            # PyTorch keeps the denominator from 0 with the same 1e-12
            grad_input = (input - target) / xp.maximum(input * (1 - input), 1e-12) * scale
        if need_target:
            grad_target = (log_rest - log_x) * scale
        return grad_input, grad_target


KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def check_kl_reduction(reduction: str) -> None:
    if reduction not in KL_REDUCTIONS:
        raise ValueError(
            f"kl_div reduction must be 'mean', 'batchmean', 'sum' or 'none', not {reduction!r}"
        )


class KlDivLoss(Function):
    """``target (log target - input)`` for log-probabilities ``input``, zero where the target
    is 0; with ``log_target`` the target is a log-probability too. ``'batchmean'`` divides the
    sum by the batch size (dim 0), which is the true KL divergence per sample; ``'mean'``
    divides by the number of elements, as PyTorch does. Where the target is 0 its gradient
    is 0 (PyTorch's is NaN), so one empty class does not poison the others."""

    def forward(
        self, input: Array, target: Array, reduction: str, log_target: bool = False
    ) -> Array:
        target = _same_shape(input, target)
        if log_target:
            prob = xp.exp(target)
            losses = prob * (target - input)
        else:
            prob = target
            positive = target > 0
            with xp.errstate(divide="ignore", invalid="ignore"):
                losses = xp.where(positive, target * (xp.log(target) - input), 0)
        self.saved = (input, target, prob, log_target, reduction)
        if reduction == "batchmean":
            rows = input.shape[0] if input.ndim else 1
            return xp.asarray(losses.sum() / rows, dtype=input.dtype)
        return _reduce(losses, reduction)

    def backward(self, g: Array) -> tuple[Array | None, Array | None]:
        input, target, prob, log_target, reduction = self.saved
        need_input, need_target = self.needs_input_grad
        if reduction == "batchmean":
            scale = g / (input.shape[0] if input.ndim else 1)
        else:
            scale = _scale(g, reduction, input.size)
        grad_input = -prob * scale if need_input else None
        grad_target = None
        if need_target:
            if log_target:
                grad_target = prob * (target + 1 - input) * scale
            else:
                with xp.errstate(divide="ignore", invalid="ignore"):
                    slope = xp.where(target == 0, 0, xp.log(target) + 1 - input)
                grad_target = slope * scale
        return grad_input, grad_target
