"""Windows: the right steps in, the right step as target, and where each lies in the series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_learner.timeseries import make_windows


def test_one_step_windows_of_a_short_series() -> None:
    windows = make_windows(np.arange(10.0), lookback=3)

    assert len(windows) == 7
    assert windows.inputs.shape == (7, 3, 1)
    np.testing.assert_array_equal(windows.inputs[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(windows.inputs[-1, :, 0], [6, 7, 8])
    np.testing.assert_array_equal(windows.targets, [3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(windows.target_index, [3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(windows.origin, [2, 3, 4, 5, 6, 7, 8])
    assert windows.target_index.dtype == windows.origin.dtype == np.int64


def test_horizon_two_forecasts_the_step_after_next() -> None:
    series = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    windows = make_windows(series, lookback=2, horizon=2)

    np.testing.assert_array_equal(windows.inputs[:, :, 0], [[5, 6], [6, 7], [7, 8]])
    np.testing.assert_array_equal(windows.targets, [8, 9, 10])
    np.testing.assert_array_equal(windows.target_index, [3, 4, 5])
    np.testing.assert_array_equal(windows.origin, [1, 2, 3])


def test_multi_step_targets_are_the_next_horizon_steps() -> None:
    windows = make_windows(np.arange(8.0) * 10, lookback=2, horizon=3, multi_step=True)

    assert windows.targets.shape == windows.target_index.shape == (4, 3)
    np.testing.assert_array_equal(windows.targets[0], [20, 30, 40])
    np.testing.assert_array_equal(windows.targets[-1], [50, 60, 70])
    np.testing.assert_array_equal(windows.target_index[1], [3, 4, 5])
    np.testing.assert_array_equal(windows.origin, [1, 2, 3, 4])


def test_several_features_are_inputs_and_one_column_is_the_target() -> None:
    values = np.stack([np.arange(6.0), 100 + np.arange(6.0)], axis=1)
    windows = make_windows(values, lookback=2, target=1)

    assert windows.inputs.shape == (4, 2, 2)
    np.testing.assert_array_equal(windows.inputs[0], [[0, 100], [1, 101]])
    np.testing.assert_array_equal(windows.targets, [102, 103, 104, 105])


def test_float32_stays_float32_and_integers_become_float64() -> None:
    assert make_windows(np.arange(5, dtype=np.float32), 2).inputs.dtype == np.float32
    windows = make_windows(np.arange(5), 2)
    assert windows.inputs.dtype == windows.targets.dtype == np.float64


def test_take_keeps_the_fields_of_a_window_together() -> None:
    windows = make_windows(np.arange(10.0), lookback=3, horizon=2)
    part = windows.take(np.array([4, 1]))

    np.testing.assert_array_equal(part.origin, [6, 3])
    np.testing.assert_array_equal(part.target_index, [8, 5])
    np.testing.assert_array_equal(part.targets, [8, 5])
    np.testing.assert_array_equal(part.inputs[:, :, 0], [[4, 5, 6], [1, 2, 3]])


@pytest.mark.parametrize(
    ("values", "arguments", "message"),
    [
        (np.arange(4.0), {"lookback": 3, "horizon": 2}, "4 steps is too short.*at least 5"),
        (np.arange(4.0), {"lookback": 0}, "at least 1"),
        (np.zeros((5, 2)), {"lookback": 2, "target": 2}, "target=2.*from 0 to 1"),
        (np.zeros((5, 2, 1)), {"lookback": 2}, r"\(T,\) or \(T, features\)"),
        (np.array(["a", "b", "c"]), {"lookback": 1}, "numbers"),
        (np.array([1.0, 2.0, np.nan, 4.0]), {"lookback": 1}, "1 row.*row 2.*fill or drop"),
    ],
)
def test_mistakes_are_refused_with_what_to_do(
    values: np.ndarray, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_windows(values, **arguments)


@given(
    steps=st.integers(2, 40),
    features=st.integers(1, 3),
    lookback=st.integers(1, 10),
    horizon=st.integers(1, 10),
    multi_step=st.booleans(),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_every_window_holds_its_steps_and_its_targets(
    steps: int,
    features: int,
    lookback: int,
    horizon: int,
    multi_step: bool,
    seed: int,
    data: st.DataObject,
) -> None:
    if lookback + horizon > steps:
        return
    target = data.draw(st.integers(0, features - 1))
    values = np.random.default_rng(seed).normal(size=(steps, features))
    windows = make_windows(values, lookback, horizon, target, multi_step=multi_step)

    assert len(windows) == steps - lookback - horizon + 1
    ahead = np.arange(1, horizon + 1) if multi_step else horizon
    for i in range(len(windows)):
        origin = windows.origin[i]
        np.testing.assert_array_equal(windows.inputs[i], values[origin - lookback + 1 : origin + 1])
        np.testing.assert_array_equal(windows.target_index[i], origin + ahead)
        np.testing.assert_array_equal(windows.targets[i], values[windows.target_index[i], target])
    assert windows.origin[0] == lookback - 1
    assert windows.target_index.max() == steps - 1
