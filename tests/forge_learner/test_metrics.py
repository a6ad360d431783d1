"""Metrics: right values, exact over unequal batches, clear errors on shape mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_learner import Accuracy, MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError
from forge_learner.metrics import Metric, RunningMetrics, get_metric


def value(metric: Metric, output: np.ndarray, target: np.ndarray) -> float:
    return metric.result(*metric.batch_sums(output, target))


def test_accuracy_of_class_scores_and_of_binary_outputs() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 3.0, 0.0], [9.0, 0.0, 0.0]])
    assert value(Accuracy(), logits, np.array([0, 2, 0, 0])) == 0.75

    probabilities = np.array([[0.9], [0.2], [0.6], [0.4]])
    assert value(Accuracy(), probabilities, np.array([[1.0], [0.0], [0.0], [0.0]])) == 0.75
    assert value(Accuracy(threshold=0.0), np.array([-1.0, 2.0]), np.array([0, 1])) == 1.0
    assert value(Accuracy(), probabilities, np.array([1, 0, 0, 0])) == 0.75


def test_regression_metrics() -> None:
    output, target = np.array([[1.0], [2.0], [4.0]]), np.array([[1.0], [0.0], [1.0]])

    assert value(MeanAbsoluteError(), output, target) == pytest.approx(5 / 3)
    assert value(MeanSquaredError(), output, target) == pytest.approx(13 / 3)
    assert value(RootMeanSquaredError(), output, target) == pytest.approx(math.sqrt(13 / 3))


@pytest.mark.parametrize("metric", [MeanAbsoluteError(), RootMeanSquaredError()])
def test_shape_mistakes_are_refused_not_broadcast(metric: Metric) -> None:
    with pytest.raises(ValueError, match=r"shape \(4, 1\) and the target \(4,\).*y\[:, None\]"):
        metric.batch_sums(np.zeros((4, 1)), np.zeros(4))


def test_accuracy_refuses_outputs_it_cannot_compare() -> None:
    with pytest.raises(ValueError, match=r"\(4, 3\) with a target of shape \(4, 2\)"):
        Accuracy().batch_sums(np.zeros((4, 3)), np.zeros((4, 2)))


@given(
    sizes=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_running_totals_equal_the_whole_pass_for_any_batching(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    output, target = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    labels = rng.integers(0, 2, size=n)
    metrics = [MeanAbsoluteError(), MeanSquaredError(), RootMeanSquaredError()]
    running, accuracy = RunningMetrics(metrics), RunningMetrics([Accuracy()])

    start = 0
    for size in sizes:
        part = slice(start, start + size)
        loss = float(np.mean((output[part] - target[part]) ** 2))
        running.update(loss, output[part], target[part])
        accuracy.update(0.0, output[part], labels[part])
        start += size

    results = running.results()
    mse = float(np.mean((output - target) ** 2))
    assert results["loss"] == pytest.approx(mse)
    assert results["mse"] == pytest.approx(mse)
    assert results["rmse"] == pytest.approx(math.sqrt(mse))
    assert results["mae"] == pytest.approx(float(np.mean(np.abs(output - target))))
    assert accuracy.results()["accuracy"] == pytest.approx(np.mean(output.argmax(1) == labels))


def test_running_metrics_report_nothing_before_a_batch() -> None:
    assert RunningMetrics([MeanAbsoluteError()]).results() == {}


def test_metrics_by_name() -> None:
    assert isinstance(get_metric("rmse"), RootMeanSquaredError)
    mae = MeanAbsoluteError()
    assert get_metric(mae) is mae
    with pytest.raises(ValueError, match="name one of"):
        get_metric("r2")
