"""Time-series forecasting: the family of pipelines that predict a series' next values.

A pipeline of this family says where its series comes from (``load_series``, returning a
``forge_learner.sources.Series``) and which network forecasts it (``create_model``, usually
``LSTMForecaster``). Everything a reader of the report should be able to trust is done here,
the same way for every forecaster, with ``forge_learner.timeseries``:

- gaps are handled in the open: the series is put on its nominal time grid (unless its steps
  are a market's bars, ``calendar_steps``), runs of up to ``max_gap`` missing steps are filled
  by linear interpolation, missing steps at either end are dropped, and a longer gap is an
  error; the report says what was filled;
- windows of ``lookback`` steps forecast the value ``horizon`` steps after their last, and are
  split by time, the test part last;
- the transform (an optional log, then a scaler) is fitted on the training period only: fitted
  on all the data, as the earlier system did, it tells the model the test period's level;
- forecasts go back through the transform's exact inverse, so every error is in the series'
  own units, and the naive baselines (persistence, and seasonal naive where the app names a
  season) forecast the very same test targets;
- the report shows the baselines with the model's improvement on each, the end of the test
  period with persistence beside the model, the residuals, and the fitted transform, which is
  saved as ``transform.json`` beside the weights.

The series is univariate: the network sees the target's own past.
"""

from __future__ import annotations

import dataclasses
import json
import math
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from forge_core import Tensor, nn
from forge_learner.config import BatchSize, Epochs, LearningRate, PipelineConfig
from forge_learner.data import TensorDataset
from forge_learner.families import forecast_prediction
from forge_learner.learner import Learner
from forge_learner.pipeline import (
    BasePipeline,
    Evaluation,
    PipelineData,
    RunContext,
    seed_everything,
)
from forge_learner.plots import prediction_vs_actual, residual_histogram
from forge_learner.prediction import PredictionRequest, saved_config
from forge_learner.report import ReportSection, format_number, markdown_table
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
    improvement,
    mae,
    make_windows,
    mape,
    persistence,
    rmse,
    seasonal_naive,
)

__all__ = [
    "Forecast",
    "LSTMForecaster",
    "PreparedSeries",
    "TimeSeriesConfig",
    "TimeSeriesPipeline",
    "fill_gaps",
]

TRANSFORM_NAME = "transform.json"
PLOT_STEPS = 336
"""Forecasts in the prediction plot: two weeks of hours, the test period's end; fewer are all."""

_STEP_NAMES = {"h": "hour", "D": "day", "B": "business day", "W-MON": "week", "MS": "month"}


class TimeSeriesConfig(PipelineConfig):
    """Settings every forecaster shares: the windows, the split, the scaling and the network."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "lookback": "Data",
        "horizon": "Data",
        "scaling": "Data",
        "log_target": "Data",
        "max_gap": "Data",
        "source": "Data",
        "start": "Data",
        "end": "Data",
        "hidden_size": "Model",
        "num_layers": "Model",
        "val_fraction": "Split",
        "test_fraction": "Split",
    }
    advanced_fields: ClassVar[frozenset[str]] = frozenset({"scaling", "max_gap"})

    epochs: Epochs = 20
    batch_size: BatchSize = 64
    learning_rate: LearningRate = 0.01

    lookback: int = Field(
        default=24, ge=1, le=1000, description="Past steps the network sees for each forecast."
    )
    horizon: int = Field(
        default=1, ge=1, le=1000, description="How many steps ahead to forecast: 1 is the next."
    )
    val_fraction: float = Field(
        default=0.1,
        ge=0.0,
        le=0.4,
        description=(
            "Share of the series, just before the test part, that validates every epoch "
            "(0: no validation)."
        ),
    )
    test_fraction: float = Field(
        default=0.2,
        ge=0.05,
        le=0.5,
        description="Share at the end of the series held out to score the model and baselines.",
    )
    scaling: Literal["standard", "minmax", "none"] = Field(
        default="standard",
        description=(
            "How the series is scaled for the network, fitted on the training part only: "
            "standard (mean 0, std 1), minmax (0 to 1) or none."
        ),
    )
    log_target: bool = Field(
        default=False,
        description=(
            "Model the log of the series, for positive data that changes by ratios (prices); "
            "forecasts are turned back into the series' units."
        ),
    )
    hidden_size: int = Field(
        default=32, ge=1, le=1024, description="Units in each recurrent layer."
    )
    num_layers: int = Field(default=1, ge=1, le=4, description="Stacked recurrent layers.")
    max_gap: int = Field(
        default=6,
        ge=0,
        le=10_000,
        description=(
            "Longest run of missing steps filled by linear interpolation; a longer gap stops "
            "the run with an error naming it."
        ),
    )


TimeSeriesConfigT = TypeVar("TimeSeriesConfigT", bound=TimeSeriesConfig)


class LSTMForecaster(nn.Module):
    """An LSTM over the window with a linear head on its last step, as in PyTorch's examples.

    Input ``(batch, lookback, input_size)``, output ``(batch, 1)``: the transformed value
    ``horizon`` steps after the window.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.lstm(x)
        last: Tensor = self.head(output[:, -1, :])
        return last


@dataclass(frozen=True)
class PreparedSeries:
    """What ``load_data`` made of the series, kept in ``PipelineData.extras["series"]``.

    ``series`` is gap-free and in its own units; ``windows`` are cut from it unscaled, and
    ``split`` says which of them train, validate and test; ``transform`` is fitted on the
    training period and maps the series to what the network sees.
    """

    series: Series
    windows: Windows
    split: ChronologicalSplit
    transform: Transform
    season: int | None
    gaps: str


@dataclass(frozen=True)
class Forecast:
    """The model's and the baselines' forecasts of the test targets, in the series' units.

    ``timestamps`` are the targets' times; ``baselines`` map each baseline's name to its
    forecasts of the same targets.
    """

    timestamps: npt.NDArray[np.datetime64]
    actual: npt.NDArray[np.float64]
    predicted: npt.NDArray[np.float64]
    baselines: dict[str, npt.NDArray[np.float64]]


class TimeSeriesPipeline(BasePipeline[TimeSeriesConfigT]):
    """Forecast one series; a subclass gives ``load_series`` and ``create_model``.

    The class attributes describe the app's data: whether its steps are calendar steps, what
    its persistence baseline is called, and whether percentage errors mean anything for it.
    """

    Config: ClassVar[type[PipelineConfig]] = TimeSeriesConfig
    calendar_steps: ClassVar[bool] = True
    """Steps are the series' frequency on the calendar, so a missing timestamp is a missing
    reading. False for a market's bars: a closed day is no step, not a gap."""
    persistence_name: ClassVar[str] = "persistence"
    """The name of the last-value baseline in the report (for prices: "random walk")."""
    percentage_errors: ClassVar[bool] = True
    """Whether to report MAPE. Not for a scale with an arbitrary zero, such as °C."""

    @abstractmethod
    def load_series(self, config: TimeSeriesConfigT) -> Series:
        """The series to forecast, in its own units; gaps and NaN are the family's to handle."""

    def season(self, config: TimeSeriesConfigT, series: Series) -> int | None:
        """Steps in one season of ``series`` (24 for hours in a day), for the seasonal-naive
        baseline; None for no such baseline."""
        return None

    # ----- data -----
    def load_data(self, config: TimeSeriesConfigT) -> PipelineData:
        raw = self.load_series(config)
        if raw.values.ndim != 1:
            raise ValueError(
                f"{self.name} forecasts one variable, but the series {raw.name!r} has "
                f"{raw.values.shape[1]}; load its target column only"
            )
        series, gaps = fill_gaps(raw, config.max_gap, calendar=self.calendar_steps)
        windows = make_windows(series.values, config.lookback, config.horizon)
        split = chronological_split(
            windows.target_index,
            val_fraction=config.val_fraction,
            test_fraction=config.test_fraction,
        )
        transform = _fit_transform(config, series, split.train_end)
        prepared = PreparedSeries(
            series, windows, split, transform, self.season(config, series), gaps
        )
        train, val, test = (
            None if part.size == 0 else _dataset(windows.take(part), transform)
            for part in (split.train, split.val, split.test)
        )
        assert train is not None, "chronological_split always leaves training windows"
        return PipelineData(
            train, val, test, summary=_summary(prepared), extras={"series": prepared}
        )

    # ----- evaluation -----
    def forecast(self, learner: Learner, data: PipelineData) -> Forecast:
        """The trained model's and the baselines' forecasts of every test target."""
        prepared: PreparedSeries = data.extras["series"]
        test = prepared.windows.take(prepared.split.test)
        values = prepared.series.values
        scaled = learner.predict(prepared.transform.transform(test.inputs))
        predicted = prepared.transform.inverse_transform(scaled.astype(np.float64)[:, 0])
        baselines = {self.persistence_name: persistence(values, test)}
        season = prepared.season
        if season is not None and _reaches_back(test, season):
            baselines["seasonal naive"] = seasonal_naive(values, test, season)
        return Forecast(
            timestamps=prepared.series.timestamps[test.target_index],
            actual=values[test.target_index],
            predicted=predicted,
            baselines=baselines,
        )

    def evaluate(
        self, config: TimeSeriesConfigT, learner: Learner, data: PipelineData
    ) -> Evaluation:
        """Errors on the test targets in the series' units, beside the baselines' errors.

        ``details["improvement"]`` holds, per baseline, the share of its RMSE and MAE that
        the model saves (0.25: 25 % lower; negative: worse).
        """
        result = self.forecast(learner, data)
        metrics = self._errors(result.actual, result.predicted)
        baselines = {
            name: self._errors(result.actual, values) for name, values in result.baselines.items()
        }
        gains = {
            name: {key: improvement(metrics[key], scores[key]) for key in ("rmse", "mae")}
            for name, scores in baselines.items()
        }
        return Evaluation(metrics, baselines, "test", details={"improvement": gains})

    def _errors(
        self, actual: npt.NDArray[np.float64], forecast: npt.NDArray[np.float64]
    ) -> dict[str, float]:
        errors = {"rmse": rmse(actual, forecast), "mae": mae(actual, forecast)}
        if self.percentage_errors:
            errors["mape"] = mape(actual, forecast)
        return errors

    # ----- prediction (forge_learner.families.forecast_prediction) -----
    def predict(self, run_dir: Path, request: PredictionRequest) -> dict[str, Any]:
        """Forecast past the series' end, or from the caller's window, with the run's model."""
        config = self.parse_config(saved_config(run_dir))
        seed_everything(config.seed)
        data = self.load_data(config)
        prepared: PreparedSeries = data.extras["series"]
        saved = forecast_prediction.SavedForecaster(
            model=self.trained_model(config, data, run_dir),
            transform=forecast_prediction.load_transform(run_dir, TRANSFORM_NAME),
            series=prepared.series,
            season=prepared.season,
            persistence_name=self.persistence_name,
        )
        return forecast_prediction.forecast(saved, config, request)

    # ----- report -----
    def report_sections(self, context: RunContext[TimeSeriesConfigT]) -> list[ReportSection]:
        prepared: PreparedSeries = context.data.extras["series"]
        result = self.forecast(context.learner, context.data)
        context.run_dir.joinpath(TRANSFORM_NAME).write_text(
            json.dumps(prepared.transform.state_dict(), indent=2) + "\n", encoding="utf-8"
        )
        return [
            self._baselines_section(context, prepared, result),
            _residuals_section(context, prepared, result),
            _transform_section(context.config, prepared),
        ]

    def _baselines_section(
        self,
        context: RunContext[TimeSeriesConfigT],
        prepared: PreparedSeries,
        result: Forecast,
    ) -> ReportSection:
        config, evaluation = context.config, context.evaluation
        series = prepared.series
        step = _step_name(series)
        meaning = {
            self.persistence_name: "the last value seen when the forecast is made",
            "seasonal naive": f"the value one season ({prepared.season} {step}s) earlier",
        }
        unit = series.unit
        model = evaluation.metrics
        rows = [
            [
                name,
                meaning[name],
                format_number(scores["rmse"]),
                _relative(model["rmse"], scores["rmse"]),
                format_number(scores["mae"]),
                _relative(model["mae"], scores["mae"]),
            ]
            for name, scores in evaluation.baselines.items()
        ]
        table = markdown_table(
            [
                "baseline",
                "forecasts",
                f"its RMSE ({unit})",
                "the model's RMSE",
                f"its MAE ({unit})",
                "the model's MAE",
            ],
            rows,
        )
        shown = min(PLOT_STEPS, len(result.actual))
        ahead = _count(config.horizon, step)
        plot = prediction_vs_actual(
            result.actual[-shown:],
            result.predicted[-shown:],
            context.run_dir / "prediction.png",
            baselines={self.persistence_name: result.baselines[self.persistence_name][-shown:]},
            index=result.timestamps[-shown:],
            title=f"Forecasts {ahead} ahead: {_shown(shown, len(result.actual), step)}",
            ylabel=f"{series.name} ({series.unit})",
        )
        text = (
            f"Each forecast is made from the {_count(config.lookback, step)} before it, "
            f"{ahead} ahead, for the {len(result.actual)} test targets "
            f"({_period(series, prepared.split.test_start, len(series), count=False)}). Every "
            "baseline "
            f"forecasts the very same targets. The model's RMSE is "
            f"{format_number(evaluation.metrics['rmse'])} {series.unit}.\n\n"
            f"{table}\n\n{self._verdict(evaluation)}{_beyond_training(prepared, result)}\n\n"
            f"The plot shows {_shown(shown, len(result.actual), step)}, with the "
            f"{self.persistence_name} forecast beside the model's."
        )
        return ReportSection("Forecasts against the baselines", text, [plot])

    def _verdict(self, evaluation: Evaluation) -> str:
        """One plain sentence per baseline: does the model beat it on RMSE, and by how much."""
        sentences = []
        for name, scores in evaluation.baselines.items():
            model, baseline = evaluation.metrics["rmse"], scores["rmse"]
            if model < baseline:
                sentences.append(
                    f"The model beats the {name} baseline: its RMSE is "
                    f"{_relative(model, baseline)}."
                )
            else:
                sentences.append(
                    f"The model does not beat the {name} baseline: its RMSE is "
                    f"{_relative(model, baseline)}, so on this test period the {name} baseline "
                    "is the better forecast."
                )
        return " ".join(sentences)


def fill_gaps(series: Series, max_gap: int, *, calendar: bool = True) -> tuple[Series, str]:
    """``series`` without missing steps, and a sentence saying what was done to it.

    With ``calendar``, a timestamp missing from the grid of ``series.frequency`` is a missing
    reading, as a NaN value is (without it, rows are steps as they come, like a market's
    bars). Runs of at most ``max_gap`` missing steps inside the series are filled by linear
    interpolation between their neighbours; missing steps at either end are dropped (nothing
    lies beyond them to interpolate to). A longer run is a ``ValueError`` that names it:
    inventing a day of readings would flatter or hurt the model unseen.
    """
    values, timestamps = series.values, series.timestamps
    if calendar:
        values, timestamps = _on_grid(series)
    missing = ~np.isfinite(values)
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
            f"{_time(series, timestamps[first])} to {_time(series, timestamps[first + length - 1])}"
            f", more than max_gap={max_gap}: raise max_gap to interpolate across it, or choose "
            "a period without it"
        )
    if missing.any():
        steps = np.arange(len(values))
        values = values.copy()
        values[missing] = np.interp(steps[missing], steps[~missing], values[~missing])
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


def _on_grid(series: Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.datetime64]]:
    """The values on every step of the series' frequency from its first to its last, NaN where
    a timestamp is missing."""
    import pandas as pd  # lazily: listing pipelines imports this module and need not wait

    grid = pd.date_range(series.timestamps[0], series.timestamps[-1], freq=series.frequency)
    steps = grid.to_numpy().astype("datetime64[ns]")
    position = np.minimum(np.searchsorted(steps, series.timestamps), len(steps) - 1)
    off_grid = np.flatnonzero(steps[position] != series.timestamps)
    if off_grid.size:
        raise ValueError(
            f"{series.name}: the reading at {_time(series, series.timestamps[off_grid[0]])} is "
            f"not on the {series.frequency!r} grid that starts at "
            f"{_time(series, steps[0])}; {off_grid.size} reading(s) are off it"
        )
    values = np.full(len(steps), np.nan)
    values[position] = series.values
    return values, steps


def _fit_transform(config: TimeSeriesConfig, series: Series, train_end: int) -> Transform:
    """The log (if asked) and scaler, fitted on the training period ``values[:train_end]``."""
    steps: list[Transform] = [LogTransform()] if config.log_target else []
    if config.scaling == "standard":
        steps.append(StandardScaler())
    elif config.scaling == "minmax":
        steps.append(MinMaxScaler())
    if config.log_target and not series.values.min() > 0:
        raise ValueError(
            f"log_target needs a positive series, but {series.name} goes down to "
            f"{series.values.min():g} {series.unit}: set log_target=false"
        )
    return TransformChain(steps).fit(series.values[:train_end])


def _dataset(windows: Windows, transform: Transform) -> TensorDataset:
    """The network's transformed inputs, and its target as a column."""
    inputs, targets = transform.transform(windows.inputs), transform.transform(windows.targets)
    return TensorDataset(inputs, targets[:, None])


def _reaches_back(windows: Windows, season: int) -> bool:
    """Whether every window's target has a value whole seasons earlier at or before its origin."""
    ahead = windows.target_index - windows.origin
    return bool((windows.target_index - season * -(-ahead // season)).min() >= 0)


# ----- report helpers -----


def _summary(prepared: PreparedSeries) -> dict[str, str | int | float]:
    series, split = prepared.series, prepared.split
    steps = len(series)
    summary: dict[str, str | int | float] = {
        "source": series.source,
        "description": series.description,
        "series": f"{series.name} in {series.unit}",
        "frequency": f"{series.frequency} (one {_step_name(series)} per step)",
        "steps": steps,
        "period": _period(series, 0, steps),
        "missing readings": prepared.gaps,
        "training period": _period(series, 0, split.train_end),
    }
    if split.val.size:
        summary["validation period"] = _period(series, split.train_end, split.test_start)
    summary["test period (targets)"] = _period(series, split.test_start, steps)
    return summary


def _beyond_training(prepared: PreparedSeries, result: Forecast) -> str:
    """A warning when test targets leave the training period's range, which a network that
    forecasts levels through a scaler fitted on that period can hardly reach; else nothing."""
    seen = prepared.series.values[: prepared.split.train_end]
    low, high = float(seen.min()), float(seen.max())
    outside = int(np.count_nonzero((result.actual < low) | (result.actual > high)))
    if not outside:
        return ""
    return (
        f"\n\n{outside} of the {len(result.actual)} test targets lie outside the range of the "
        f"training period ({format_number(low)} to {format_number(high)} "
        f"{prepared.series.unit}): a network that forecasts levels seldom reaches far beyond "
        "the values it was trained on, while the last-value baselines follow the series anywhere."
    )


def _residuals_section(
    context: RunContext[Any], prepared: PreparedSeries, result: Forecast
) -> ReportSection:
    residuals = result.actual - result.predicted
    unit = prepared.series.unit
    # Rice's rule, 2 n^(1/3) bins: some 24 for a year of hours, 6 for two years of months.
    bins = max(5, round(2 * len(residuals) ** (1 / 3)))
    plot = residual_histogram(residuals, context.run_dir / "residuals.png", bins=bins)
    bias = float(residuals.mean())
    text = (
        f"Actual minus forecast over all {len(residuals)} test targets, in {unit}. Their mean, "
        f"{format_number(bias)} {unit}, is the model's bias (positive: it forecasts too low on "
        f"average; negative: too high); their standard deviation is "
        f"{format_number(float(residuals.std()))} {unit}, and the largest miss is "
        f"{format_number(float(np.abs(residuals).max()))} {unit}."
    )
    return ReportSection("Residuals", text, [plot])


def _transform_section(config: TimeSeriesConfig, prepared: PreparedSeries) -> ReportSection:
    series, unit = prepared.series, prepared.series.unit
    steps = []
    if config.log_target:
        steps.append("takes the natural log")
    if config.scaling == "standard":
        steps.append("standardises with the training period's mean and standard deviation")
    elif config.scaling == "minmax":
        steps.append("maps the training period's minimum and maximum to 0 and 1")
    done = " and then ".join(steps) if steps else "leaves the values as they are"
    text = (
        f"The network sees {series.name} as it comes out of a transform that {done}, fitted on "
        f"the training period only ({_period(series, 0, prepared.split.train_end)}), so that "
        f"nothing of the validation or test periods leaks into training. Its forecasts go back "
        f"through the exact inverse into {unit} before any error is measured. The fitted "
        f"transform is saved as `{TRANSFORM_NAME}`; "
        "`forge_learner.timeseries.transform_from_state` rebuilds it to forecast with "
        "`model.npz`."
    )
    return ReportSection("Scaling", text)


def _step_name(series: Series) -> str:
    return _STEP_NAMES.get(series.frequency, "step")


def _shown(shown: int, total: int, step: str) -> str:
    if shown == total:
        return f"the whole test period ({_count(total, step)})"
    return f"the last {_count(shown, step)} of the test period"


def _count(count: int, name: str) -> str:
    return f"{count} {name}" if count == 1 else f"{count} {name}s"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %" if math.isfinite(fraction) else str(fraction)


def _relative(model: float, baseline: float) -> str:
    """The model's error beside a baseline's: "12.3 % lower", "4.0 % higher" or "equal"."""
    gain = improvement(model, baseline)
    if gain == 0:
        return "equal"
    return f"{_percent(abs(gain))} {'lower' if gain > 0 else 'higher'}"


def _time(series: Series, timestamp: np.datetime64) -> str:
    """A timestamp to the minute, or to the day for a series that has no time of day."""
    days = series.timestamps.astype("datetime64[D]")
    unit: Literal["D", "m"] = "D" if (days == series.timestamps).all() else "m"
    return str(np.datetime_as_string(timestamp, unit=unit)).replace("T", " ")


def _period(series: Series, start: int, stop: int, *, count: bool = True) -> str:
    """The steps ``start`` to ``stop - 1`` of the series: "first to last (n steps)"."""
    first, last = series.timestamps[start], series.timestamps[stop - 1]
    period = f"{_time(series, first)} to {_time(series, last)}"
    return f"{period} ({_count(stop - start, _step_name(series))})" if count else period
