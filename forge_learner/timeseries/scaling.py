"""Scalers and target transforms, fitted on the training period only, with exact inverses.

A model trains on scaled inputs and a scaled (perhaps log-transformed) target, so its
predictions come out in that space; every error a user reads must be in the series' own units.
Each ``Transform`` therefore has an ``inverse_transform`` that undoes ``transform`` exactly, and
``TransformChain`` composes them so the inverse runs the steps backwards: the inverse of "log,
then standardise" is "un-standardise, then exp".

Fit on ``values[:split.train_end]`` (see ``chronological_split``): statistics taken over the
whole series would carry the test period's level into training.

Features are the last axis. A transform fitted on ``(T, F)`` keeps one statistic per feature and
applies to any array whose last axis is ``F`` (the ``(N, lookback, F)`` inputs of windows
included); one fitted on ``(T,)`` keeps scalars and applies to any shape (a target column,
predictions). Statistics are float64; the output keeps a floating input's dtype (float32 stays
float32) and turns integers into float64. ``state_dict()`` is plain JSON (floats and lists), so
it is saved beside the model and ``transform_from_state`` rebuilds the fitted transform.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


def _numbers(values: ArrayLike, who: str) -> Array:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{who}: values must be numbers, got dtype {array.dtype}")
    return array


def _output_dtype(array: Array) -> np.dtype[Any]:
    return np.result_type(array.dtype, np.float32)


def _per_feature(values: ArrayLike, who: str) -> Array:
    """``values`` as float64 ``(samples, F)``, or ``(samples,)`` for a 1-D array."""
    array = _numbers(values, who).astype(np.float64)
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{who}: fit needs at least one value, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{who}: cannot fit on NaN or infinity; fill or drop the gaps first")
    return array if array.ndim == 1 else array.reshape(-1, array.shape[-1])


def _check_features(stat: Array, array: Array, who: str) -> None:
    if stat.ndim and (array.ndim == 0 or array.shape[-1] != stat.shape[0]):
        raise ValueError(
            f"{who} was fitted on {stat.shape[0]} features (the last axis) and cannot apply to "
            f"an array of shape {array.shape}"
        )


def _check_type(cls: type, state: dict[str, Any]) -> None:
    if state.get("type") != cls.__name__:
        raise ValueError(
            f"{cls.__name__}.from_state: the state is of a {state.get('type')!r}; "
            "use transform_from_state to rebuild any transform"
        )


class Transform(ABC):
    """An invertible map fitted on training values: ``fit``, ``transform``, ``inverse_transform``.

    ``state_dict()`` holds what ``fit`` learned plus the class name under ``"type"``;
    ``from_state`` builds a fitted transform from it.
    """

    @abstractmethod
    def fit(self, values: ArrayLike) -> Self:
        """Learn the statistics of ``values`` (the training period only) and return ``self``."""

    @abstractmethod
    def transform(self, values: ArrayLike) -> Array: ...

    @abstractmethod
    def inverse_transform(self, values: ArrayLike) -> Array:
        """The values that ``transform`` maps to ``values``: back to original units."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]: ...

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Self: ...

    def fit_transform(self, values: ArrayLike) -> Array:
        return self.fit(values).transform(values)


class _Affine(Transform):
    """``(x - shift) / scale`` per feature; subclasses choose ``shift`` and ``scale`` in ``fit``."""

    _shift: Array | None = None
    _scale: Array | None = None

    def _fitted(self, array: Array) -> tuple[Array, Array]:
        if self._shift is None or self._scale is None:
            raise RuntimeError(
                f"{type(self).__name__} is not fitted: call fit(training values) first"
            )
        _check_features(self._shift, array, type(self).__name__)
        return self._shift, self._scale

    def transform(self, values: ArrayLike) -> Array:
        array = _numbers(values, type(self).__name__)
        shift, scale = self._fitted(array)
        return ((array - shift) / scale).astype(_output_dtype(array))

    def inverse_transform(self, values: ArrayLike) -> Array:
        array = _numbers(values, type(self).__name__)
        shift, scale = self._fitted(array)
        return (array * scale + shift).astype(_output_dtype(array))


class StandardScaler(_Affine):
    """Per feature, subtract the training mean and divide by the training standard deviation.

    The standard deviation is the population one (``ddof=0``, as scikit-learn's). A feature that
    is constant over the training period (its min equals its max, or its spread is too small for
    a float64 variance) gets a scale of 1, so it maps to 0 instead of dividing by zero.
    """

    @property
    def mean(self) -> Array | None:
        """The training mean per feature (a 0-d array for 1-D data), ``None`` before ``fit``."""
        return self._shift

    @property
    def scale(self) -> Array | None:
        """The divisor per feature: the standard deviation, 1 for a constant feature."""
        return self._scale

    def fit(self, values: ArrayLike) -> Self:
        array = _per_feature(values, type(self).__name__)
        std = array.std(axis=0)
        # A constant feature's std may round to a tiny non-zero value, and a tiny spread's
        # variance may underflow to 0: both would divide by (nearly) zero.
        constant = (array.min(axis=0) == array.max(axis=0)) | (std == 0)
        self._shift = np.asarray(array.mean(axis=0))
        self._scale = np.asarray(np.where(constant, 1.0, std))
        return self

    def state_dict(self) -> dict[str, Any]:
        if self._shift is None or self._scale is None:
            raise RuntimeError("StandardScaler is not fitted: call fit(training values) first")
        return {
            "type": "StandardScaler",
            "mean": self._shift.tolist(),
            "scale": self._scale.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        _check_type(cls, state)
        scaler = cls()
        scaler._shift = np.asarray(state["mean"], dtype=np.float64)
        scaler._scale = np.asarray(state["scale"], dtype=np.float64)
        return scaler


class MinMaxScaler(_Affine):
    """Per feature, map the training minimum to ``feature_range[0]`` and maximum to ``[1]``.

    Values outside the training range (a trending test period) map outside ``feature_range``;
    they are not clipped, so the inverse stays exact. A constant feature maps to
    ``feature_range[0]``, as in scikit-learn.
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        low, high = feature_range
        if not low < high:
            raise ValueError(
                f"MinMaxScaler: feature_range must be (low, high) with low < high, "
                f"got {feature_range}"
            )
        self.feature_range = (float(low), float(high))
        self.data_min: Array | None = None
        self.data_max: Array | None = None

    def fit(self, values: ArrayLike) -> Self:
        array = _per_feature(values, type(self).__name__)
        self._set(array.min(axis=0), array.max(axis=0))
        return self

    def _set(self, data_min: ArrayLike, data_max: ArrayLike) -> None:
        self.data_min = np.asarray(data_min, dtype=np.float64)
        self.data_max = np.asarray(data_max, dtype=np.float64)
        low, high = self.feature_range
        data_range = self.data_max - self.data_min
        # x' = low + (x - data_min) * (high - low) / data_range, written as (x - shift) / scale.
        self._scale = np.where(data_range == 0, 1.0, data_range) / (high - low)
        self._shift = self.data_min - low * self._scale

    def state_dict(self) -> dict[str, Any]:
        if self.data_min is None or self.data_max is None:
            raise RuntimeError("MinMaxScaler is not fitted: call fit(training values) first")
        return {
            "type": "MinMaxScaler",
            "feature_range": list(self.feature_range),
            "data_min": self.data_min.tolist(),
            "data_max": self.data_max.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        _check_type(cls, state)
        low, high = state["feature_range"]
        scaler = cls((low, high))
        scaler._set(state["data_min"], state["data_max"])
        return scaler


class LogTransform(Transform):
    """``log(x + offset)``, inverted by ``exp(y) - offset``: for positive, skewed data.

    A log makes multiplicative change additive (prices, counts), and a model that predicts the
    log can never forecast a negative price. ``offset=0`` is the plain log, for positive data;
    ``offset=1`` is ``log1p``, for data that may be 0 (rainfall, counts); data that may be
    negative needs an offset above minus its smallest possible value. The offset is chosen by the
    user, not fitted: a value fitted on the training minimum would fail on the first test value
    below it. ``transform`` refuses values at or below ``-offset``; ``inverse_transform`` takes
    any prediction.
    """

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = float(offset)

    def fit(self, values: ArrayLike) -> Self:
        """Check that ``values`` can be logged; there is nothing to learn."""
        self.transform(values)
        return self

    def transform(self, values: ArrayLike) -> Array:
        array = _numbers(values, "LogTransform")
        shifted = array + self.offset
        if shifted.size and not shifted.min() > 0:
            raise ValueError(
                f"LogTransform(offset={self.offset}) cannot take the log of a value of "
                f"{array.min()} (x + offset must be above 0); use an offset above "
                f"{-array.min()}, or no log transform for data that crosses zero"
            )
        return np.log(shifted).astype(_output_dtype(array))

    def inverse_transform(self, values: ArrayLike) -> Array:
        array = _numbers(values, "LogTransform")
        return (np.exp(array) - self.offset).astype(_output_dtype(array))

    def state_dict(self) -> dict[str, Any]:
        return {"type": "LogTransform", "offset": self.offset}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        _check_type(cls, state)
        return cls(state["offset"])


class TransformChain(Transform):
    """Transforms applied in order; the inverse applies their inverses in reverse order.

    ``fit`` fits each step on the output of the steps before it, so
    ``TransformChain([LogTransform(), StandardScaler()])`` standardises the log of the target,
    and its inverse of a prediction ``p`` is ``exp(p * std + mean)``.
    """

    def __init__(self, steps: Sequence[Transform]) -> None:
        self.steps = list(steps)

    def fit(self, values: ArrayLike) -> Self:
        array = np.asarray(values)
        for step in self.steps:
            array = step.fit_transform(array)
        return self

    def transform(self, values: ArrayLike) -> Array:
        array = np.asarray(values)
        for step in self.steps:
            array = step.transform(array)
        return array

    def inverse_transform(self, values: ArrayLike) -> Array:
        array = np.asarray(values)
        for step in reversed(self.steps):
            array = step.inverse_transform(array)
        return array

    def state_dict(self) -> dict[str, Any]:
        return {"type": "TransformChain", "steps": [step.state_dict() for step in self.steps]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        _check_type(cls, state)
        return cls([transform_from_state(step) for step in state["steps"]])


TRANSFORMS: dict[str, type[Transform]] = {
    cls.__name__: cls for cls in (StandardScaler, MinMaxScaler, LogTransform, TransformChain)
}
"""Every transform by the name its ``state_dict`` records under ``"type"``."""


def transform_from_state(state: dict[str, Any]) -> Transform:
    """The fitted transform that ``state`` (any transform's ``state_dict()``) describes."""
    kind = state.get("type")
    if kind not in TRANSFORMS:
        raise ValueError(
            f"transform_from_state: unknown transform type {kind!r}; expected one of "
            f"{sorted(TRANSFORMS)}"
        )
    return TRANSFORMS[kind].from_state(state)
