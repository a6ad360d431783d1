"""The time-series family on small synthetic series: gaps, leak-free scaling, exact inverses, the
baselines on the model's own test targets, and the report."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from forge_core import Tensor, nn, optim
from forge_learner.config import ConfigError
from forge_learner.families.time_series import (
    Competitor,
    LSTMForecaster,
    PreparedSeries,
    TimeSeriesConfig,
    TimeSeriesPipeline,
    fill_gaps,
    next_forecast_inputs,
)
from forge_learner.families.time_series.preparation import calendar_features, scale_inputs
from forge_learner.learner import Learner
from forge_learner.pipeline import PipelineData
from forge_learner.sources import Series
from forge_learner.timeseries import Windows, rmse, transform_from_state

HOUR = np.timedelta64(1, "h")


def hourly(values: np.ndarray | list[float], start: str = "2021-03-01T00") -> Series:
    values = np.asarray(values, dtype=np.float64)
    timestamps = np.datetime64(start, "ns") + np.arange(len(values)) * HOUR
    return Series(
        timestamps=timestamps.astype("datetime64[ns]"),
        values=values,
        name="level",
        unit="m",
        frequency="h",
        source="synthetic",
        description="A daily cycle on a rising trend, with noise.",
    )


def daily_cycle(days: int = 20, seed: int = 0) -> Series:
    """Positive hourly values: a 24-hour cycle on a trend, so the test period is the highest."""
    steps = np.arange(days * 24)
    rng = np.random.default_rng(seed)
    values = (
        10 + 0.01 * steps + 2 * np.sin(2 * np.pi * steps / 24) + 0.1 * rng.normal(size=steps.size)
    )
    return hourly(values)


def drop(series: Series, rows: list[int]) -> Series:
    keep = np.setdiff1d(np.arange(len(series)), rows)
    return dataclasses.replace(
        series, timestamps=series.timestamps[keep], values=series.values[keep]
    )


class LastValue(nn.Module):
    """Forecasts the window's last (transformed) value: persistence, run through the network path.

    Its one parameter gets a zero gradient, so training leaves the forecast as it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(np.zeros(1, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        last: Tensor = x[:, -1, :] + self.unused * 0.0
        return last


def pipeline_for(
    series: Series,
    model: Callable[[], nn.Module] = lambda: LSTMForecaster(1, 4),
    **attributes: object,
) -> TimeSeriesPipeline[TimeSeriesConfig]:
    """A pipeline of the family that forecasts ``series`` with ``model()``."""

    class Synthetic(TimeSeriesPipeline[TimeSeriesConfig]):
        name = "synthetic"
        summary = "Forecasts a synthetic hourly series."

        def load_series(self, config: TimeSeriesConfig) -> Series:
            return series

        def season(self, config: TimeSeriesConfig, series: Series) -> int | None:
            return 24

        def create_model(self, config: TimeSeriesConfig, data: PipelineData) -> nn.Module:
            return model()

    for name, value in attributes.items():
        setattr(Synthetic, name, value)
    return Synthetic()


def prepared(data: PipelineData) -> PreparedSeries:
    result = data.extras["series"]
    assert isinstance(result, PreparedSeries)
    return result


# ----- gaps -----


def test_a_missing_hour_and_a_nan_are_filled_by_linear_interpolation():
    series = hourly(np.arange(10.0))
    series.values[6] = np.nan
    filled, note = fill_gaps(drop(series, [3]), max_gap=1)
    np.testing.assert_array_equal(filled.values, np.arange(10.0))
    np.testing.assert_array_equal(filled.timestamps, series.timestamps)
    assert note == "2 missing step(s) filled by linear interpolation (longest gap 1)"


def test_a_gap_longer_than_max_gap_is_an_error_that_names_it():
    series = drop(hourly(np.arange(12.0)), [4, 5, 6])
    with pytest.raises(
        ValueError, match=r"3 steps in a row, from 2021-03-01 04:00 to 2021-03-01 06:00.*max_gap=2"
    ):
        fill_gaps(series, max_gap=2)
    assert fill_gaps(series, max_gap=3)[0].values[5] == 5.0


def test_missing_steps_at_the_ends_are_dropped():
    series = hourly([np.nan, np.nan, 1.0, 2.0, 3.0, np.nan])
    filled, note = fill_gaps(series, max_gap=0)
    np.testing.assert_array_equal(filled.values, [1.0, 2.0, 3.0])
    assert filled.timestamps[0] == series.timestamps[2]
    assert note == "3 missing step(s) at the ends dropped"


def test_a_reading_off_the_frequency_grid_is_an_error():
    series = hourly(np.arange(4.0))
    shifted = series.timestamps.copy()
    shifted[2] += np.timedelta64(30, "m")
    with pytest.raises(ValueError, match="2021-03-01 02:30 is not on the 'h' grid"):
        fill_gaps(dataclasses.replace(series, timestamps=shifted), max_gap=6)


def test_bars_are_steps_as_they_come_when_steps_are_not_calendar_steps():
    weekdays = np.array(["2021-03-04", "2021-03-05", "2021-03-08"], dtype="datetime64[ns]")
    bars = dataclasses.replace(hourly([1.0, 2.0, 3.0]), timestamps=weekdays, frequency="D")
    filled, note = fill_gaps(bars, max_gap=0, calendar=False)
    np.testing.assert_array_equal(filled.values, [1.0, 2.0, 3.0])
    assert note == "none"
    with pytest.raises(ValueError, match="2 steps in a row"):
        fill_gaps(bars, max_gap=0)


# ----- data -----


def test_windows_split_by_time_and_the_scaler_sees_the_training_period_only():
    series = daily_cycle()
    data = pipeline_for(series).load_data(TimeSeriesConfig(lookback=24, val_fraction=0.1))
    ready = prepared(data)
    train_end = ready.split.train_end
    state = ready.transform.state_dict()["steps"][0]
    assert state["mean"] == pytest.approx(series.values[:train_end].mean())
    assert state["scale"] == pytest.approx(series.values[:train_end].std())
    assert state["mean"] < series.values.mean()  # the trend: all-data statistics would differ
    test_targets = ready.windows.take(ready.split.test).target_index
    assert test_targets.min() == ready.split.test_start
    assert len(series) - ready.split.test_start == round(0.2 * (len(series) - 24))
    assert data.test is not None and len(data.test) == len(test_targets)


def with_feature(series: Series) -> Series:
    """``series`` with a second, leading variable: its own value one step later, shifted up."""
    lead = np.roll(series.values, -1) + 100.0
    return dataclasses.replace(
        series,
        values=np.stack([series.values, lead], axis=1),
        columns=(series.name, "lead"),
    )


def test_other_columns_and_the_calendar_are_inputs_scaled_on_the_training_period():
    series = with_feature(daily_cycle())
    pipeline = pipeline_for(series, lambda: LSTMForecaster(4, 4))
    data = pipeline.load_data(TimeSeriesConfig(lookback=24, calendar_features=True))
    ready = prepared(data)
    train_end = ready.split.train_end
    assert ready.columns == ("level", "lead", "day-of-year sine", "day-of-year cosine")
    assert data.train.arrays[0].shape[1:] == (24, 4)  # type: ignore[attr-defined]
    features = ready.feature_transform
    assert features is not None
    state = features.state_dict()
    assert state["mean"][0] == pytest.approx(series.values[:train_end, 1].mean())
    target = ready.transform.state_dict()["steps"][0]
    assert target["mean"] == pytest.approx(series.values[:train_end, 0].mean())
    assert "level, lead, day-of-year sine, day-of-year cosine" in str(data.summary)


def test_calendar_features_put_the_day_of_the_year_on_a_circle():
    days = np.array(["2021-01-01", "2021-07-02", "2021-12-31"], dtype="datetime64[ns]")
    sine, cosine = calendar_features(days).T
    np.testing.assert_allclose(cosine[0], 1.0)
    assert cosine[1] == pytest.approx(-1.0, abs=1e-3)
    assert np.hypot(sine, cosine) == pytest.approx(1.0)
    assert sine[2] == pytest.approx(-0.0215, abs=1e-3)  # 1.25 days short of a full turn


def test_a_series_with_columns_that_do_not_name_it_is_refused():
    series = daily_cycle()
    with pytest.raises(ValueError, match="columns must name its 2 variable"):
        dataclasses.replace(
            series, values=np.stack([series.values] * 2, axis=1), columns=("other", "x")
        )


def test_log_target_on_a_series_that_reaches_zero_says_what_to_do():
    series = hourly(np.sin(np.arange(200.0)))
    with pytest.raises(
        ValueError, match=r"log_target needs a positive series.*set log_target=false"
    ):
        pipeline_for(series).load_data(TimeSeriesConfig(log_target=True))


def test_the_config_refuses_a_test_fraction_of_zero():
    with pytest.raises(ConfigError, match=r"test_fraction: must be at least 0\.05"):
        TimeSeriesPipeline.parse_config({"test_fraction": 0})


# ----- evaluation -----


@pytest.mark.parametrize(
    ("scaling", "log_target"),
    [("standard", False), ("standard", True), ("minmax", True), ("none", True), ("none", False)],
)
def test_a_last_value_model_reproduces_persistence_through_every_transform(
    tmp_path: Path, scaling: str, log_target: bool
):
    pipeline = pipeline_for(daily_cycle(), LastValue)
    config = {"epochs": 1, "scaling": scaling, "log_target": log_target}
    result = pipeline.run(config, run_dir=tmp_path)
    persistence = result.evaluation.baselines["persistence"]
    for metric in ("rmse", "mae", "mape"):
        assert result.evaluation.metrics[metric] == pytest.approx(persistence[metric], rel=1e-5)
    assert result.evaluation.details["improvement"]["persistence"]["rmse"] == pytest.approx(
        0.0, abs=1e-5
    )


def test_forecasts_come_back_in_the_series_units_on_the_test_targets():
    series = daily_cycle()
    pipeline = pipeline_for(series)
    data = pipeline.load_data(pipeline.parse_config({"log_target": True}))
    model = LastValue()
    forecast = pipeline.forecast(Learner(model, nn.MSELoss(), optim.SGD(model.parameters())), data)
    ready = prepared(data)
    test = ready.windows.take(ready.split.test)
    np.testing.assert_allclose(forecast.predicted, series.values[test.origin], rtol=1e-6)
    np.testing.assert_array_equal(forecast.actual, series.values[test.target_index])
    np.testing.assert_array_equal(forecast.timestamps, series.timestamps[test.target_index])


def test_baselines_forecast_the_model_targets_several_steps_ahead(tmp_path: Path):
    series = daily_cycle()
    pipeline = pipeline_for(series)
    result = pipeline.run({"epochs": 1, "horizon": 3, "lookback": 12}, run_dir=tmp_path)
    # The test targets recomputed from the series alone: the last 20 % of the target steps.
    first_target = 12 + 3 - 1
    span = len(series) - first_target
    targets = np.arange(len(series) - round(0.2 * span), len(series))
    y = series.values
    baselines = result.evaluation.baselines
    assert baselines["persistence"]["rmse"] == pytest.approx(rmse(y[targets], y[targets - 3]))
    assert baselines["seasonal naive"]["rmse"] == pytest.approx(rmse(y[targets], y[targets - 24]))


def test_a_season_longer_than_the_history_before_the_test_targets_gives_no_seasonal_baseline(
    tmp_path: Path,
):
    pipeline = pipeline_for(daily_cycle(days=3), season=lambda self, config, series: 60)
    result = pipeline.run({"epochs": 1, "lookback": 6}, run_dir=tmp_path)
    assert list(result.evaluation.baselines) == ["persistence"]


# ----- report -----


def test_the_report_shows_the_baselines_plots_periods_and_the_saved_transform(tmp_path: Path):
    pipeline = pipeline_for(daily_cycle(), persistence_name="random walk", percentage_errors=False)
    result = pipeline.run({"epochs": 2, "log_target": True}, run_dir=tmp_path)
    report = result.report_path.read_text()
    for text in (
        "## Forecasts against the baselines",
        "| random walk | the last value seen when the forecast is made |",
        "| seasonal naive | the value one season (24 hours) earlier |",
        "![Forecasts against the baselines: prediction](prediction.png)",
        "## Residuals",
        "![Residuals: residuals](residuals.png)",
        "takes the natural log and then standardises",
        "| training period | 2021-03-01 00:00 to ",
        "| test period (targets) | ",
        "| missing readings | none |",
    ):
        assert text in report
    assert "mape" not in result.evaluation.metrics
    verdict = (
        "beats"
        if result.evaluation.details["improvement"]["random walk"]["rmse"] > 0
        else "does not beat"
    )
    assert f"The model {verdict} the random walk baseline" in report

    metrics = json.loads(result.metrics_path.read_text())
    assert set(metrics["baselines"]) == {"random walk", "seasonal naive"}
    saved = transform_from_state(json.loads((tmp_path / "transform.json").read_text()))
    fitted = prepared(pipeline.load_data(pipeline.parse_config({"log_target": True}))).transform
    values = daily_cycle().values
    np.testing.assert_allclose(saved.transform(values), fitted.transform(values))


# ----- references and what a run saves -----


def with_reference(
    pipeline: TimeSeriesPipeline[TimeSeriesConfig],
) -> TimeSeriesPipeline[TimeSeriesConfig]:
    def references(
        self: TimeSeriesPipeline[TimeSeriesConfig],
        config: TimeSeriesConfig,
        prepared: PreparedSeries,
        test: Windows,
    ) -> dict[str, Competitor]:
        return {"linear autoregression": self.linear_autoregression(prepared, test)}

    type(pipeline).references = references  # type: ignore[method-assign]
    return pipeline


def test_a_reference_model_is_scored_on_the_same_targets_and_reported(tmp_path: Path):
    series = daily_cycle()
    pipeline = with_reference(pipeline_for(series, LastValue))
    result = pipeline.run({"epochs": 1, "lookback": 24}, run_dir=tmp_path)
    references = result.evaluation.references
    assert set(references) == {"linear autoregression"}
    # A linear model of the last day of a noisy daily cycle forecasts far better than
    # the last value; the report says the network (persistence here) does not beat it.
    assert references["linear autoregression"]["rmse"] < 0.5 * result.evaluation.metrics["rmse"]
    metrics = json.loads(result.metrics_path.read_text())
    assert metrics["references"] == references
    report = result.report_path.read_text()
    assert (
        "| metric | model | persistence | seasonal naive | linear autoregression (reference) |"
        in (report)
    )
    assert "The model does not beat the linear autoregression reference" in report
    assert "| linear autoregression | least squares on the same 1 input column(s)" in report


def test_the_saved_files_rebuild_the_input_of_the_forecast_after_the_data(tmp_path: Path):
    series = with_feature(daily_cycle())
    pipeline = pipeline_for(series, lambda: LSTMForecaster(4, 4))
    config = {"epochs": 1, "lookback": 12, "calendar_features": True, "log_target": True}
    pipeline.run(config, run_dir=tmp_path)

    saved = next_forecast_inputs(tmp_path)
    ready = prepared(pipeline.load_data(pipeline.parse_config(config)))
    expected = scale_inputs(ready, ready.inputs[None, -12:])
    np.testing.assert_allclose(saved.inputs, expected, rtol=1e-5, atol=1e-6)
    assert saved.after == series.timestamps[-1]
    assert (saved.horizon, saved.frequency) == (1, "h")
    np.testing.assert_allclose(
        saved.transform.inverse_transform(expected[0, :, 0]), series.values[-12:, 0]
    )
