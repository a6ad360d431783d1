"""The stock predictor end to end on the offline monthly sample: an honest random walk beside it,
and prices that come back through the log transform exactly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.stock_predictor import pipeline as stocks
from apps.stock_predictor.pipeline import StockConfig, StockPredictor
from apps.stock_predictor.sources import load_prices
from forge_core import nn
from forge_learner.pipeline import PipelineData, RunResult
from forge_learner.registry import get_pipeline
from forge_learner.sources import Series
from forge_learner.timeseries import mae, mape, rmse
from tests.forge_learner.families.test_time_series import LastValue


class LastPrice(StockPredictor):
    """The stock predictor with a network that forecasts the last price it is shown."""

    def create_model(self, config: StockConfig, data: PipelineData) -> nn.Module:
        return LastValue()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run with every default: MSFT's monthly sample, log prices, the last 20 % held out."""
    return StockPredictor().run({}, run_dir=tmp_path_factory.mktemp("stocks"))


def test_it_is_registered_under_its_name():
    assert get_pipeline("stock_predictor") is StockPredictor


def test_the_random_walk_is_scored_on_the_model_test_months(default_run: RunResult):
    config = default_run.config
    assert (config["source"], config["ticker"], config["horizon"]) == ("sample", "MSFT", 1)
    assert config["log_target"] is True
    # The random walk recomputed from the prices alone: every one of the last 20 % of the
    # months that have a full window before them, forecast by the month before it.
    y = load_prices("sample", "MSFT").values
    span = len(y) - config["lookback"]
    months = np.arange(len(y) - round(config["test_fraction"] * span), len(y))
    random_walk = default_run.evaluation.baselines["random walk"]
    assert random_walk["rmse"] == pytest.approx(rmse(y[months], y[months - 1]))
    assert random_walk["mae"] == pytest.approx(mae(y[months], y[months - 1]))
    assert random_walk["mape"] == pytest.approx(mape(y[months], y[months - 1]))
    seasonal = default_run.evaluation.baselines["seasonal naive"]
    assert seasonal["rmse"] == pytest.approx(rmse(y[months], y[months - 12]))


def test_the_report_and_metrics_put_the_random_walk_beside_the_model(default_run: RunResult):
    metrics = json.loads(default_run.metrics_path.read_text())
    assert (
        set(metrics["metrics"])
        == set(metrics["baselines"]["random walk"])
        == {
            "rmse",
            "mae",
            "mape",
        }
    )
    model, random_walk = metrics["metrics"]["rmse"], metrics["baselines"]["random walk"]["rmse"]
    report = default_run.report_path.read_text()
    assert "| metric | model | random walk | seasonal naive |" in report
    assert "| random walk | the last value seen when the forecast is made |" in report
    # Whatever the numbers, the report states them plainly.
    if model < random_walk:
        assert "The model beats the random walk baseline" in report
    else:
        assert "The model does not beat the random walk baseline" in report
        assert "the random walk baseline is the better forecast" in report
    for name in ("prediction.png", "residuals.png", "loss.png", "model.npz", "transform.json"):
        assert (default_run.run_dir / name).is_file()


def test_a_last_price_network_reproduces_the_random_walk_in_usd(tmp_path: Path):
    result = LastPrice().run({"epochs": 1}, run_dir=tmp_path)
    assert result.config["log_target"] is True
    random_walk = result.evaluation.baselines["random walk"]
    for metric in ("rmse", "mae", "mape"):
        assert result.evaluation.metrics[metric] == pytest.approx(random_walk[metric], rel=1e-6)


def test_the_yfinance_settings_reach_the_source_and_bars_are_steps(
    monkeypatch: pytest.MonkeyPatch,
):
    asked: list[tuple[Any, ...]] = []
    weekdays = np.busday_offset("2024-01-01", np.arange(300), roll="forward")

    def fake_load_prices(*args: Any) -> Series:
        asked.append(args)
        return Series(
            timestamps=weekdays.astype("datetime64[ns]"),
            values=100 + np.cumsum(np.ones(300)),
            name="adj_close",
            unit="USD",
            frequency="D",
            source="yfinance",
            description="A stand-in for Yahoo's daily bars, weekdays only.",
        )

    monkeypatch.setattr(stocks, "load_prices", fake_load_prices)
    pipeline = StockPredictor()
    settings = {"source": "yfinance", "ticker": "BRK-B", "start": "2024-01-01", "end": "2025-02-07"}
    data = pipeline.load_data(pipeline.parse_config({**settings, "interval": "1d"}))
    assert asked == [("yfinance", "BRK-B", dt.date(2024, 1, 1), dt.date(2025, 2, 7), "1d")]
    assert data.summary["missing readings"] == "none"  # weekends are no gaps
    assert data.extras["series"].season == 5
