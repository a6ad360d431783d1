"""The chronological split: periods in time order, no target or input crossing into a later one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_learner.timeseries import chronological_split, make_windows


def test_ten_one_step_windows_split_seven_one_two() -> None:
    windows = make_windows(np.arange(13.0), lookback=3)  # targets at steps 3 … 12
    split = chronological_split(windows.target_index, val_fraction=0.1, test_fraction=0.2)

    np.testing.assert_array_equal(split.train, np.arange(7))
    np.testing.assert_array_equal(split.val, [7])
    np.testing.assert_array_equal(split.test, [8, 9])
    assert (split.train_end, split.test_start) == (10, 11)
    assert split.train.dtype == np.int64


def test_multi_step_windows_across_a_boundary_are_purged() -> None:
    # Targets of window i are steps i+2, i+3, i+4; the target steps run from 2 to 15 (14 steps).
    windows = make_windows(np.arange(16.0), lookback=2, horizon=3, multi_step=True)
    split = chronological_split(windows.target_index, val_fraction=0.0, test_fraction=0.25)

    assert split.test_start == 12  # the last round(0.25 * 14) = 4 steps: 12 … 15
    np.testing.assert_array_equal(split.test, [10, 11])  # targets 12-14 and 13-15
    np.testing.assert_array_equal(split.train, np.arange(8))  # window 7: targets 9-11
    assert split.val.size == 0  # windows 8 and 9 (targets 10-12, 11-13) straddle: in no part


def test_without_validation_the_validation_period_is_empty() -> None:
    split = chronological_split(np.arange(20), val_fraction=0.0, test_fraction=0.2)

    assert split.train_end == split.test_start == 16
    assert split.val.size == 0
    np.testing.assert_array_equal(split.test, [16, 17, 18, 19])


def test_a_small_fraction_still_takes_one_step() -> None:
    split = chronological_split(np.arange(10), val_fraction=0.01, test_fraction=0.01)
    assert (split.val.tolist(), split.test.tolist()) == ([8], [9])


@pytest.mark.parametrize(
    ("target_index", "fractions", "message"),
    [
        (np.arange(10), {"val_fraction": 0.5, "test_fraction": 0.5}, "sum below 1"),
        (np.arange(10), {"test_fraction": -0.1}, "at least 0"),
        (np.arange(10.0), {}, "integers of shape"),
        (np.arange(2), {"val_fraction": 0.4, "test_fraction": 0.4}, "no window.*train period"),
        (
            make_windows(np.arange(12.0), 1, 4, multi_step=True).target_index,
            {"val_fraction": 0.1},
            "no window falls wholly in the val period.*shorter horizon",
        ),
    ],
)
def test_impossible_splits_are_refused(
    target_index: np.ndarray, fractions: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        chronological_split(target_index, **fractions)


@given(
    # at least 50 steps, so that a period of 10 % holds a window of 4 targets
    steps=st.integers(50, 150),
    lookback=st.integers(1, 8),
    horizon=st.integers(1, 4),
    multi_step=st.booleans(),
    val_fraction=st.sampled_from([0.0, 0.1, 0.15, 0.2]),
    test_fraction=st.sampled_from([0.0, 0.1, 0.2, 0.3]),
)
def test_no_period_leaks_into_an_earlier_one(
    steps: int,
    lookback: int,
    horizon: int,
    multi_step: bool,
    val_fraction: float,
    test_fraction: float,
) -> None:
    windows = make_windows(np.arange(float(steps)), lookback, horizon, multi_step=multi_step)
    split = chronological_split(
        windows.target_index, val_fraction=val_fraction, test_fraction=test_fraction
    )
    index = windows.target_index.reshape(len(windows), -1)
    train, val, test = (index[part] for part in (split.train, split.val, split.test))

    assert train.size and train.max() < split.train_end
    # a training window's inputs end at its origin, before its first target
    assert windows.origin[split.train].max() < split.train_end
    assert val.size == 0 or (val.min() >= split.train_end and val.max() < split.test_start)
    assert test.size == 0 or test.min() >= split.test_start
    assert (test.size > 0) == (test_fraction > 0)
    assert (val.size > 0) == (val_fraction > 0)
    parts = np.concatenate([split.train, split.val, split.test])
    assert len(np.unique(parts)) == len(parts)
    if not multi_step:
        # one-step windows: the test part is the rounded fraction of the windows, in time order
        assert len(split.test) == (
            max(1, int(test_fraction * len(windows) + 0.5)) if test_fraction else 0
        )
        np.testing.assert_array_equal(parts, np.arange(len(windows)))
