"""Scalers and target transforms: right statistics, exact inverses, saved state, no leakage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn import preprocessing

from forge_learner.timeseries import (
    LogTransform,
    MinMaxScaler,
    StandardScaler,
    Transform,
    TransformChain,
    chronological_split,
    make_windows,
    transform_from_state,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def series_of(columns: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.just(columns)), elements=finite)


def test_standard_scaler_matches_scikit_learn_per_feature() -> None:
    values = np.random.default_rng(0).normal([3.0, -50.0, 0.0], [1.0, 20.0, 0.01], size=(200, 3))
    reference = preprocessing.StandardScaler().fit(values)
    scaler = StandardScaler().fit(values)

    assert scaler.mean is not None and scaler.scale is not None
    np.testing.assert_allclose(scaler.mean, reference.mean_)
    np.testing.assert_allclose(scaler.scale, reference.scale_)
    np.testing.assert_allclose(scaler.transform(values), reference.transform(values), atol=1e-12)


def test_min_max_scaler_matches_scikit_learn_with_its_feature_range() -> None:
    values = np.random.default_rng(1).uniform(-5, 40, size=(100, 2))
    later = np.random.default_rng(2).uniform(-10, 60, size=(30, 2))  # outside the fitted range
    reference = preprocessing.MinMaxScaler((-1, 1)).fit(values)
    scaler = MinMaxScaler((-1, 1)).fit(values)

    np.testing.assert_allclose(scaler.transform(later), reference.transform(later), atol=1e-12)
    np.testing.assert_allclose(scaler.transform(values).min(axis=0), [-1, -1])
    np.testing.assert_allclose(scaler.transform(values).max(axis=0), [1, 1])


@pytest.mark.parametrize(
    ("scaler", "expected"), [(StandardScaler(), 0.0), (MinMaxScaler((2.0, 3.0)), 2.0)]
)
def test_a_constant_feature_is_not_divided_by_zero(scaler: Transform, expected: float) -> None:
    values = np.stack([np.full(5, 0.1), np.arange(5.0)], axis=1)
    reference = (
        preprocessing.StandardScaler()
        if isinstance(scaler, StandardScaler)
        else preprocessing.MinMaxScaler((2.0, 3.0))
    )
    scaled = scaler.fit_transform(values)

    np.testing.assert_array_equal(scaled[:, 0], np.full(5, expected))
    np.testing.assert_allclose(scaled, reference.fit_transform(values), atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(scaled), values)


def test_a_spread_too_small_for_a_float64_variance_is_not_divided_by_zero() -> None:
    values = np.array([[2.8e-209], [0.0]])  # the variance underflows to 0
    scaler = StandardScaler().fit(values)

    assert scaler.scale is not None and scaler.scale.tolist() == [1.0]
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(values)), values)


def test_a_scaler_fitted_on_a_table_applies_to_windows_of_it() -> None:
    values = np.random.default_rng(3).normal(size=(20, 2)) * [1, 100]
    scaler = StandardScaler().fit(values)
    windows = make_windows(values, lookback=4)

    np.testing.assert_allclose(
        scaler.transform(windows.inputs), make_windows(scaler.transform(values), 4).inputs
    )


def test_a_scaler_fitted_on_one_column_applies_to_any_shape() -> None:
    scaler = StandardScaler().fit(np.array([1.0, 3.0]))  # mean 2, std 1

    np.testing.assert_array_equal(scaler.transform(np.array([[2.0], [4.0]])), [[0], [2]])
    np.testing.assert_array_equal(scaler.inverse_transform(np.array([-1.0, 0.5])), [1, 2.5])


def test_float32_stays_float32_and_integers_become_float64() -> None:
    scaler = StandardScaler().fit(np.arange(10))
    assert scaler.transform(np.arange(3, dtype=np.float32)).dtype == np.float32
    assert scaler.inverse_transform(np.arange(3, dtype=np.float32)).dtype == np.float32
    assert scaler.transform(np.arange(3)).dtype == np.float64


def test_log_transform_with_offset_one_is_log1p_and_its_inverse_expm1() -> None:
    values = np.array([0.0, 0.5, 9.0, 1e5])
    transform = LogTransform(offset=1.0).fit(values)

    np.testing.assert_allclose(transform.transform(values), np.log1p(values))
    np.testing.assert_allclose(transform.inverse_transform(np.log1p(values)), values)
    np.testing.assert_allclose(LogTransform().transform(np.array([1.0, math.e])), [0.0, 1.0])


def test_log_transform_refuses_what_it_cannot_log_and_inverts_any_prediction() -> None:
    with pytest.raises(ValueError, match=r"value of 0\.0 .*offset above -0\.0"):
        LogTransform().fit(np.array([3.0, 0.0]))
    with pytest.raises(ValueError, match=r"value of -3\.0 .*offset above 3\.0"):
        LogTransform(offset=2.0).transform(np.array([-3.0]))

    np.testing.assert_allclose(
        LogTransform(offset=2.0).inverse_transform(np.array([-50.0, 0.0])), [np.exp(-50) - 2, -1]
    )


def test_the_inverse_of_log_then_standardise_is_unstandardise_then_exp() -> None:
    values = np.exp(np.array([0.0, 1.0, 2.0]))  # logs 0, 1, 2: mean 1, std sqrt(2/3)
    chain = TransformChain([LogTransform(), StandardScaler()]).fit(values)
    std = math.sqrt(2 / 3)
    predictions = np.array([-1.0, 0.0, 0.25, 3.0])

    np.testing.assert_allclose(chain.transform(values), [-1 / std, 0, 1 / std])
    np.testing.assert_allclose(chain.inverse_transform(predictions), np.exp(predictions * std + 1))
    np.testing.assert_allclose(chain.inverse_transform(chain.transform(values)), values)


def test_the_scaler_fits_the_training_period_and_not_the_trend_of_the_test_period() -> None:
    steps = np.arange(200.0)
    series = 10 + 0.5 * steps + np.sin(steps)  # trends upwards
    split = chronological_split(make_windows(series, 8).target_index)
    train_only = StandardScaler().fit(series[: split.train_end])
    everything = StandardScaler().fit(series)

    assert train_only.mean is not None and everything.mean is not None
    assert train_only.mean == pytest.approx(series[: split.train_end].mean())
    assert everything.mean - train_only.mean > 10
    # the test period lies above the training range, as it would for a deployed model
    assert train_only.transform(series[split.test_start :]).min() > 1.5


@given(
    values=series_of(3),
    later=st.floats(-1e6, 1e6),
)
def test_fitted_statistics_ignore_everything_after_the_training_period(
    values: np.ndarray, later: float
) -> None:
    train_end = max(1, len(values) // 2)
    changed = values.copy()
    changed[train_end:] = later

    for make in (StandardScaler, MinMaxScaler):
        fitted = make().fit(values[:train_end]).state_dict()
        assert make().fit(changed[:train_end]).state_dict() == fitted


def chains() -> st.SearchStrategy[list[Transform]]:
    """An optional log (first: a log of a log is too ill-conditioned to invert), then scalers."""
    logs = st.lists(st.builds(LogTransform, offset=st.just(1e6 + 1)), max_size=1)
    scalers = st.lists(
        st.sampled_from([StandardScaler, lambda: MinMaxScaler((-1.0, 1.0))]).map(lambda f: f()),
        max_size=2,
    )
    return st.tuples(logs, scalers).map(lambda parts: [*parts[0], *parts[1]])


@given(values=series_of(2), steps=chains())
def test_inverse_transform_undoes_transform(values: np.ndarray, steps: list[Transform]) -> None:
    chain = TransformChain(steps).fit(values)
    restored = chain.inverse_transform(chain.transform(values))

    np.testing.assert_allclose(restored, values, rtol=1e-7, atol=1e-6 * (1 + np.abs(values).max()))


@given(values=series_of(2), steps=chains(), predictions=series_of(2))
def test_saved_state_rebuilds_the_same_transform_through_json(
    values: np.ndarray, steps: list[Transform], predictions: np.ndarray
) -> None:
    chain = TransformChain(steps).fit(values)
    state = json.loads(json.dumps(chain.state_dict()))
    rebuilt = transform_from_state(state)

    assert isinstance(rebuilt, TransformChain)
    assert rebuilt.state_dict() == chain.state_dict()
    np.testing.assert_array_equal(rebuilt.transform(values), chain.transform(values))
    np.testing.assert_array_equal(
        rebuilt.inverse_transform(predictions / 1e6), chain.inverse_transform(predictions / 1e6)
    )


def test_one_column_state_is_scalars() -> None:
    state = StandardScaler().fit(np.array([1.0, 3.0])).state_dict()
    assert state == {"type": "StandardScaler", "mean": 2.0, "scale": 1.0}
    assert StandardScaler.from_state(state).transform(np.array([5.0])).tolist() == [3.0]


def test_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="not fitted: call fit"):
        StandardScaler().transform(np.zeros(3))
    with pytest.raises(RuntimeError, match="not fitted: call fit"):
        MinMaxScaler().state_dict()
    with pytest.raises(ValueError, match=r"fitted on 2 features .* shape \(4, 3\)"):
        MinMaxScaler().fit(np.zeros((5, 2))).transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        StandardScaler().fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="at least one value"):
        StandardScaler().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScaler((1.0, 1.0))
    with pytest.raises(ValueError, match="unknown transform type 'Bogus'"):
        transform_from_state({"type": "Bogus"})
    with pytest.raises(ValueError, match=r"state is of a 'LogTransform'.*transform_from_state"):
        StandardScaler.from_state(LogTransform().state_dict())
