"""Metrics that stay exact over a whole epoch, and the running totals the learner keeps.

A metric does not average per-batch averages: with a last batch smaller than the others that
would weigh its samples more. Each metric instead reports a batch's *sum* and *count*
(``batch_sums``), the learner adds them up over the pass, and ``result`` turns the totals into
the value once (the square root for RMSE comes last, never per batch). Metrics are stateless,
so one instance serves training and validation, and a callback may evaluate mid-epoch without
disturbing the running totals of the epoch.

Metrics see NumPy arrays: the model's output and the target of one batch, outside any graph.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

Array = np.ndarray


class Metric(ABC):
    """A named measure of the model's output against the target, reported in ``logs[name]``."""

    name: str

    @abstractmethod
    def batch_sums(self, output: Array, target: Array) -> tuple[float, int]:
        """The sum of this batch's per-item values and how many items it counted."""

    def result(self, total: float, count: int) -> float:
        """The metric's value over a pass, from the totals of ``batch_sums``."""
        return total / count

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _same_shape(metric: str, output: Array, target: Array) -> None:
    if output.shape != target.shape:
        raise ValueError(
            f"{metric}: the output has shape {output.shape} and the target {target.shape}; "
            "they must match, or NumPy would broadcast them into a wrong value "
            "(reshape the target, e.g. y[:, None] for a model with one output)"
        )


class Accuracy(Metric):
    """The fraction of right answers, for class scores or for binary outputs.

    Class scores (the output has one more trailing axis than the target, e.g. logits ``(N, C)``
    and integer labels ``(N,)``): the predicted class is the highest score. Binary or
    multi-label outputs (same shape as a 0/1 target, or one trailing axis of size 1 more): an
    item is predicted 1 above ``threshold``, which is 0.5 for probabilities; use 0.0 for logits.
    A single output column is never read as one-class scores, whose argmax is always 0.
    """

    name = "accuracy"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def batch_sums(self, output: Array, target: Array) -> tuple[float, int]:
        if output.shape == (*target.shape, 1):
            output = output[..., 0]
        if output.ndim == target.ndim + 1 and output.shape[:-1] == target.shape:
            right = output.argmax(axis=-1) == target
        elif output.shape == target.shape:
            right = (output > self.threshold) == (target > 0.5)
        else:
            raise ValueError(
                f"accuracy: cannot compare an output of shape {output.shape} with a target of "
                f"shape {target.shape}; give class scores (N, C) with labels (N,), or outputs "
                "and 0/1 targets of the same shape"
            )
        return float(np.count_nonzero(right)), int(right.size)

    def __repr__(self) -> str:
        return f"Accuracy(threshold={self.threshold})"


class MeanAbsoluteError(Metric):
    """The mean of ``|output - target|`` over every element."""

    name = "mae"

    def batch_sums(self, output: Array, target: Array) -> tuple[float, int]:
        _same_shape(self.name, output, target)
        return float(np.abs(output - target).sum(dtype=np.float64)), int(output.size)


class MeanSquaredError(Metric):
    """The mean of ``(output - target) ** 2`` over every element."""

    name = "mse"

    def batch_sums(self, output: Array, target: Array) -> tuple[float, int]:
        _same_shape(self.name, output, target)
        error = (output - target).astype(np.float64)
        return float(np.square(error).sum()), int(output.size)


class RootMeanSquaredError(MeanSquaredError):
    """The square root of the mean squared error over the whole pass."""

    name = "rmse"

    def result(self, total: float, count: int) -> float:
        return math.sqrt(total / count)


METRICS: dict[str, type[Metric]] = {
    metric.name: metric
    for metric in (Accuracy, MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError)
}
"""The metrics a user may name by a string, as in ``Learner(..., metrics=["mae"])``."""


def get_metric(metric: Metric | str) -> Metric:
    """The metric itself, or a new one of the class that ``METRICS`` names."""
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(
            f"unknown metric {metric!r}: name one of {sorted(METRICS)}, or pass a Metric"
        )
    return METRICS[metric]()


class RunningMetrics:
    """The loss and the metrics' totals over the batches of one pass (an epoch, an evaluation).

    The loss of a batch is the mean over its samples (the losses' default reduction), so it is
    weighted by the batch's size to give the mean over every sample of the pass.
    """

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)
        self.loss_total = 0.0
        self.samples = 0
        self.totals = [0.0] * len(self.metrics)
        self.counts = [0] * len(self.metrics)

    def update(self, loss: float, output: Array, target: Array) -> None:
        size = len(target)
        self.loss_total += loss * size
        self.samples += size
        for i, metric in enumerate(self.metrics):
            total, count = metric.batch_sums(output, target)
            self.totals[i] += total
            self.counts[i] += count

    def results(self) -> dict[str, float]:
        """``loss`` and each metric by name; empty before the first batch."""
        if self.samples == 0:
            return {}
        results = {"loss": self.loss_total / self.samples}
        for metric, total, count in zip(self.metrics, self.totals, self.counts, strict=True):
            results[metric.name] = metric.result(total, count)
        return results
