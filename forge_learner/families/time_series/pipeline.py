"""``TimeSeriesPipeline``: forecast a series, and score the forecast beside honest competitors.

Two kinds of competitor forecast the very same test targets, in the series' own units:

- **baselines**, naive forecasts a model must beat to have learnt anything (persistence, the
  same step one season earlier, and what an app adds: a climatology, a rolling mean);
- **references**, simple models fitted on the training part only (a linear autoregression on
  the network's own inputs, HAR for volatility): what a network should be compared with
  before its extra cost is worth paying. They are shown whether or not the network beats them.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from forge_learner.config import PipelineConfig
from forge_learner.learner import Learner
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunContext
from forge_learner.report import ReportSection
from forge_learner.sources import Series
from forge_learner.timeseries import (
    Windows,
    improvement,
    linear_autoregression,
    mae,
    mape,
    persistence,
    rmse,
    seasonal_naive,
)

from . import report
from .config import TimeSeriesConfig, TimeSeriesConfigT
from .preparation import PreparedSeries, dataset, prepare, scale_inputs
from .saved import save_for_prediction

__all__ = ["Competitor", "Forecast", "TimeSeriesPipeline"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Competitor:
    """A baseline's or reference model's forecasts of the test targets, and what they are.

    ``forecasts`` are in the series' units, one per test target; ``meaning`` completes "it
    forecasts ..." in the report.
    """

    meaning: str
    forecasts: Array


@dataclass(frozen=True)
class Forecast:
    """The model's, the baselines' and the references' forecasts of the test targets.

    ``timestamps`` are the targets' times; ``baselines`` and ``references`` map each name to
    its forecasts of the same targets, in the series' units.
    """

    timestamps: npt.NDArray[np.datetime64]
    actual: Array
    predicted: Array
    baselines: dict[str, Competitor]
    references: dict[str, Competitor]


class TimeSeriesPipeline(BasePipeline[TimeSeriesConfigT]):
    """Forecast a series; a subclass gives ``load_series`` and ``create_model``.

    The class attributes describe the app's data: whether its steps are calendar steps, what
    its persistence baseline is called, and whether percentage errors mean anything for it.
    ``baselines`` and ``references`` may be extended by an app with its own competitors.
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
        """The series to forecast, in its own units, the target in its first column; gaps and
        NaN are the family's to handle."""

    def season(self, config: TimeSeriesConfigT, series: Series) -> int | None:
        """Steps in one season of ``series`` (24 for hours in a day), for the seasonal-naive
        baseline; None for no such baseline."""
        return None

    def baselines(
        self, config: TimeSeriesConfigT, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        """The naive forecasts of the ``test`` windows' targets: persistence, and seasonal
        naive where the app names a season. An app adds its own by extending this dict."""
        found = {
            self.persistence_name: Competitor(
                "the last value seen when the forecast is made",
                persistence(prepared.target, test),
            )
        }
        season = prepared.season
        if season is not None and _reaches_back(test, season):
            found["seasonal naive"] = Competitor(
                f"the value one season ({report.count(season, report.step_name(prepared.series))})"
                " earlier",
                seasonal_naive(prepared.target, test, season),
            )
        return found

    def references(
        self, config: TimeSeriesConfigT, prepared: PreparedSeries, test: Windows
    ) -> dict[str, Competitor]:
        """Simple models fitted on the training part that forecast the ``test`` targets; none
        by default. ``self.linear_autoregression`` is one an app may return."""
        return {}

    def linear_autoregression(self, prepared: PreparedSeries, test: Windows) -> Competitor:
        """Least squares from the network's own scaled inputs to its target, fitted on the
        training windows: the linear model the network has to improve on."""
        train = prepared.windows.take(prepared.split.train)
        fitted = linear_autoregression(
            scale_inputs(prepared, train.inputs),
            prepared.transform.transform(train.targets),
            scale_inputs(prepared, test.inputs),
        )
        return Competitor(
            f"least squares on the same {len(prepared.columns)} input column(s) over the "
            "window, fitted on the training part",
            prepared.transform.inverse_transform(fitted),
        )

    # ----- data -----
    def load_data(self, config: TimeSeriesConfigT) -> PipelineData:
        raw = self.load_series(config)
        prepared = prepare(
            config, raw, calendar=self.calendar_steps, season=self.season(config, raw)
        )
        split = prepared.split
        train, val, test = (
            None if part.size == 0 else dataset(prepared, prepared.windows.take(part))
            for part in (split.train, split.val, split.test)
        )
        assert train is not None, "chronological_split always leaves training windows"
        return PipelineData(
            train,
            val,
            test,
            summary=report.summary(prepared),
            extras={"series": prepared, "config": config},
        )

    # ----- evaluation -----
    def forecast(self, learner: Learner, data: PipelineData) -> Forecast:
        """The trained model's, the baselines' and the references' forecasts of every test
        target."""
        prepared: PreparedSeries = data.extras["series"]
        config = self._config_of(data)
        test = prepared.windows.take(prepared.split.test)
        scaled = learner.predict(scale_inputs(prepared, test.inputs).astype(np.float32))
        predicted = prepared.transform.inverse_transform(scaled.astype(np.float64)[:, 0])
        return Forecast(
            timestamps=prepared.series.timestamps[test.target_index],
            actual=prepared.target[test.target_index],
            predicted=predicted,
            baselines=self.baselines(config, prepared, test),
            references=self.references(config, prepared, test),
        )

    def evaluate(
        self, config: TimeSeriesConfigT, learner: Learner, data: PipelineData
    ) -> Evaluation:
        """Errors on the test targets in the series' units, beside the competitors' errors.

        ``details["improvement"]`` holds, per baseline and reference, the share of its RMSE
        and MAE that the model saves (0.25: 25 % lower; negative: worse).
        """
        result = self.forecast(learner, data)
        metrics = self._errors(result.actual, result.predicted)
        baselines, references = (
            {name: self._errors(result.actual, c.forecasts) for name, c in group.items()}
            for group in (result.baselines, result.references)
        )
        gains = {
            name: {key: improvement(metrics[key], scores[key]) for key in ("rmse", "mae")}
            for name, scores in (baselines | references).items()
        }
        return Evaluation(
            metrics, baselines, "test", details={"improvement": gains}, references=references
        )

    def _errors(self, actual: Array, forecast: Array) -> dict[str, float]:
        errors = {"rmse": rmse(actual, forecast), "mae": mae(actual, forecast)}
        if self.percentage_errors:
            errors["mape"] = mape(actual, forecast)
        return errors

    def _config_of(self, data: PipelineData) -> TimeSeriesConfigT:
        config: TimeSeriesConfigT = data.extras["config"]
        return config

    # ----- report -----
    def report_sections(self, context: RunContext[TimeSeriesConfigT]) -> list[ReportSection]:
        prepared: PreparedSeries = context.data.extras["series"]
        result = self.forecast(context.learner, context.data)
        save_for_prediction(context.run_dir, context.config, prepared)
        sections = [
            report.competitors_section(context, prepared, result, self.persistence_name),
            report.residuals_section(context, prepared, result),
            report.transform_section(context.config, prepared),
        ]
        return sections


def _reaches_back(windows: Windows, season: int) -> bool:
    """Whether every window's target has a value whole seasons earlier at or before its origin."""
    ahead = windows.target_index - windows.origin
    return bool((windows.target_index - season * -(-ahead // season)).min() >= 0)
