"""From a source's ``Series`` to the network's windows: gaps, features, the split, the scaling.

Every step is leak-free and stated in the report: gaps are filled in the open (``fill_gaps``),
calendar features are computed from the timestamps alone, windows are split by time with the
test part last, and every scaler is fitted on the training period only. The target is the
series' first column; the others (and the calendar features) are inputs only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from forge_learner.data import TensorDataset
from forge_learner.sources import Series
from forge_learner.timeseries import (
    ChronologicalSplit,
    LogTransform,
    MinMaxScaler,
    StandardScaler,
    Transform,
    TransformChain,
    Windows,
    chronological_split,
    make_windows,
)

from .config import TimeSeriesConfig

__all__ = [
    "CALENDAR_COLUMNS",
    "PreparedSeries",
    "calendar_features",
    "fill_gaps",
    "prepare",
    "scale_inputs",
]

Array = npt.NDArray[np.float64]

CALENDAR_COLUMNS = ("day-of-year sine", "day-of-year cosine")
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class PreparedSeries:
    """What ``load_data`` made of the series, kept in ``PipelineData.extras["series"]``.

    ``series`` is gap-free and in its own units, its target in the first column. ``inputs``
    ``(T, F)`` are the network's input columns in their own units, named by ``columns``: the
    target, the series' other variables, then any calendar features. ``windows`` are cut from
    ``inputs`` unscaled, and ``split`` says which of them train, validate and test.
    ``transform`` maps the target to what the network sees and back; ``feature_transform``
    scales the other input columns (None when there are none). Both are fitted on the training
    period.
    """

    series: Series
    inputs: Array
    columns: tuple[str, ...]
    windows: Windows
    split: ChronologicalSplit
    transform: Transform
    feature_transform: Transform | None
    season: int | None
    gaps: str

    @property
    def target(self) -> Array:
        """The target column in its own units, ``(T,)``: what the baselines read."""
        return self.inputs[:, 0]


def prepare(
    config: TimeSeriesConfig, raw: Series, *, calendar: bool, season: int | None
) -> PreparedSeries:
    """``raw`` gap-filled, windowed, split by time, with its transforms fitted on training."""
    series, gaps = fill_gaps(raw, config.max_gap, calendar=calendar)
    values = series.values if series.values.ndim == 2 else series.values[:, None]
    columns = series.columns or (
        series.name,
        *(f"{series.name} column {i + 1}" for i in range(1, values.shape[1])),
    )
    if config.calendar_features:
        values = np.concatenate([values, calendar_features(series.timestamps)], axis=1)
        columns = (*columns, *CALENDAR_COLUMNS)
    windows = make_windows(values, config.lookback, config.horizon)
    split = chronological_split(
        windows.target_index, val_fraction=config.val_fraction, test_fraction=config.test_fraction
    )
    training = values[: split.train_end]
    feature_transform = None
    if values.shape[1] > 1:
        feature_transform = StandardScaler().fit(training[:, 1:])
    return PreparedSeries(
        series=series,
        inputs=values,
        columns=columns,
        windows=windows,
        split=split,
        transform=_target_transform(config, series.name, training[:, 0], values[:, 0]),
        feature_transform=feature_transform,
        season=season,
        gaps=gaps,
    )


def calendar_features(timestamps: npt.NDArray[np.datetime64]) -> Array:
    """The day of the year as a point on the unit circle, ``(T, 2)``: sine, cosine.

    A circle, not a number, so that 31 December sits next to 1 January.
    """
    days = timestamps.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype("datetime64[D]")
    angle = 2 * np.pi * (days - years).astype(np.float64) / DAYS_PER_YEAR
    return np.stack([np.sin(angle), np.cos(angle)], axis=1)


def scale_inputs(prepared: PreparedSeries, inputs: npt.NDArray[np.floating]) -> Array:
    """Raw input windows ``(N, lookback, F)`` as the network sees them."""
    scaled = np.empty(inputs.shape, dtype=np.float64)
    scaled[..., 0] = prepared.transform.transform(inputs[..., 0].astype(np.float64))
    if prepared.feature_transform is not None:
        scaled[..., 1:] = prepared.feature_transform.transform(inputs[..., 1:].astype(np.float64))
    return scaled


def dataset(prepared: PreparedSeries, windows: Windows) -> TensorDataset:
    """The network's scaled inputs, and its transformed target as a column."""
    targets = prepared.transform.transform(windows.targets)
    return TensorDataset(scale_inputs(prepared, windows.inputs), targets[:, None])


def fill_gaps(series: Series, max_gap: int, *, calendar: bool = True) -> tuple[Series, str]:
    """``series`` without missing steps, and a sentence saying what was done to it.

    With ``calendar``, a timestamp missing from the grid of ``series.frequency`` is a missing
    reading, as a NaN value is (without it, rows are steps as they come, like a market's
    bars). A step is missing when any of its variables is. Runs of at most ``max_gap`` missing
    steps inside the series are filled by linear interpolation between their neighbours;
    missing steps at either end are dropped (nothing lies beyond them to interpolate to). A
    longer run is a ``ValueError`` that names it: inventing a day of readings would flatter or
    hurt the model unseen.
    """
    values, timestamps = series.values, series.timestamps
    if calendar:
        values, timestamps = _on_grid(series)
    finite = np.isfinite(values).reshape(len(values), -1)
    missing = np.logical_not(finite.all(axis=1))
    present = np.flatnonzero(~missing)
    if present.size < 2:
        raise ValueError(
            f"{series.name} has {present.size} reading(s) from {series.source}; "
            "a forecaster needs a series: choose a longer period"
        )
    keep = slice(int(present[0]), int(present[-1]) + 1)
    dropped = len(values) - (keep.stop - keep.start)
    values, timestamps, missing = values[keep], timestamps[keep], missing[keep]

    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, lengths = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = lengths - starts
    if lengths.size and lengths.max() > max_gap:
        worst = int(np.argmax(lengths))
        first, length = int(starts[worst]), int(lengths[worst])
        raise ValueError(
            f"{series.name} has no reading for {length} steps in a row, from "
            f"{format_time(series, timestamps[first])} to "
            f"{format_time(series, timestamps[first + length - 1])}, more than "
            f"max_gap={max_gap}: raise max_gap to interpolate across it, or choose a period "
            "without it"
        )
    if missing.any():
        steps = np.arange(len(values))
        columns = values.copy().reshape(len(values), -1)
        for column in columns.T:
            column[missing] = np.interp(steps[missing], steps[~missing], column[~missing])
        values = columns.reshape(values.shape)
    notes = []
    if lengths.size:
        notes.append(
            f"{int(lengths.sum())} missing step(s) filled by linear interpolation "
            f"(longest gap {int(lengths.max())})"
        )
    if dropped:
        notes.append(f"{dropped} missing step(s) at the ends dropped")
    gaps = "; ".join(notes) if notes else "none"
    return dataclasses.replace(series, timestamps=timestamps, values=values), gaps


def format_time(series: Series, timestamp: np.datetime64) -> str:
    """A timestamp to the minute, or to the day for a series that has no time of day."""
    days = series.timestamps.astype("datetime64[D]")
    unit: Literal["D", "m"] = "D" if (days == series.timestamps).all() else "m"
    return str(np.datetime_as_string(timestamp, unit=unit)).replace("T", " ")


def _on_grid(series: Series) -> tuple[Array, npt.NDArray[np.datetime64]]:
    """The values on every step of the series' frequency from its first to its last, NaN where
    a timestamp is missing."""
    import pandas as pd  # lazily: listing pipelines imports this module and need not wait

    grid = pd.date_range(series.timestamps[0], series.timestamps[-1], freq=series.frequency)
    steps = grid.to_numpy().astype("datetime64[ns]")
    position = np.minimum(np.searchsorted(steps, series.timestamps), len(steps) - 1)
    off_grid = np.flatnonzero(steps[position] != series.timestamps)
    if off_grid.size:
        raise ValueError(
            f"{series.name}: the reading at {format_time(series, series.timestamps[off_grid[0]])}"
            f" is not on the {series.frequency!r} grid that starts at "
            f"{format_time(series, steps[0])}; {off_grid.size} reading(s) are off it"
        )
    values = np.full((len(steps), *series.values.shape[1:]), np.nan)
    values[position] = series.values
    return values, steps


def _target_transform(
    config: TimeSeriesConfig, name: str, training: Array, target: Array
) -> Transform:
    """The log (if asked) and scaler of the target, fitted on its training period."""
    steps: list[Transform] = [LogTransform()] if config.log_target else []
    if config.scaling == "standard":
        steps.append(StandardScaler())
    elif config.scaling == "minmax":
        steps.append(MinMaxScaler())
    if config.log_target and not target.min() > 0:
        raise ValueError(
            f"log_target needs a positive series, but {name} goes down to "
            f"{target.min():g}: set log_target=false"
        )
    return TransformChain(steps).fit(training)
