"""The stock predictor end to end: next-day volatility on twenty years of the S&P 500 against
persistence, the 22-day mean, GARCH(1,1) and HAR; and prices against an honest random walk."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from arch.data import sp500

from apps.stock_predictor import pipeline as stocks
from apps.stock_predictor.pipeline import StockConfig, StockPredictor
from apps.stock_predictor.sources import load_prices
from forge_core import nn
from forge_learner.config import ConfigError
from forge_learner.pipeline import PipelineData, RunResult
from forge_learner.registry import get_pipeline
from forge_learner.sources import DataRequestError, Series
from forge_learner.timeseries import mae, mape, rmse
from tests.forge_learner.families.test_time_series import LastValue


class LastValueStocks(StockPredictor):
    """The stock predictor with a network that forecasts the last value it is shown."""

    def create_model(self, config: StockConfig, data: PipelineData) -> nn.Module:
        return LastValue()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run with every default: the S&P 500's daily volatility, the last 20 % held out."""
    return StockPredictor().run({}, run_dir=tmp_path_factory.mktemp("stocks"))


def parkinson_from_the_table() -> np.ndarray:
    bars = sp500.load()
    ratio = (bars["High"] / bars["Low"]).to_numpy(dtype=np.float64)
    return (100 * np.log(ratio) / (2 * math.sqrt(math.log(2))))[1:]


def test_it_is_registered_under_its_name():
    assert get_pipeline("stock_predictor") is StockPredictor


def test_the_baselines_are_scored_on_the_model_test_days(default_run: RunResult):
    config = default_run.config
    assert (config["source"], config["ticker"], config["target"]) == (
        "indices",
        "^GSPC",
        "volatility",
    )
    y = parkinson_from_the_table()
    span = len(y) - config["lookback"]
    days = np.arange(len(y) - round(config["test_fraction"] * span), len(y))
    baselines = default_run.evaluation.baselines
    assert set(baselines) == {"persistence", "22-day mean", "GARCH(1,1)"}
    assert baselines["persistence"]["rmse"] == pytest.approx(rmse(y[days], y[days - 1]))
    month = np.array([y[day - 22 : day].mean() for day in days])
    assert baselines["22-day mean"]["mae"] == pytest.approx(mae(y[days], month))
    assert set(default_run.evaluation.references) == {"HAR"}


def test_the_report_states_the_measure_its_provenance_and_the_reference(
    default_run: RunResult,
):
    report = default_run.report_path.read_text()
    for text in (
        "Parkinson volatility",
        "S&P 500 (^GSPC)",
        "arch package",
        "| training period | 1999-01-05 to ",
        "| GARCH(1,1) | the conditional standard deviation of a GARCH(1,1)",
        "HAR (reference)",
        "The model beats the GARCH(1,1) baseline",
        "the HAR reference",
    ):
        assert text in report
    metrics = json.loads(default_run.metrics_path.read_text())
    assert set(metrics["references"]["HAR"]) == {"rmse", "mae", "mape"}
    for name in ("prediction.png", "residuals.png", "model.npz", "transform.json", "inputs.json"):
        assert (default_run.run_dir / name).is_file()


def test_a_last_value_network_reproduces_persistence_in_percent(tmp_path: Path):
    result = LastValueStocks().run({"epochs": 1}, run_dir=tmp_path)
    persistence = result.evaluation.baselines["persistence"]
    for metric in ("rmse", "mae", "mape"):
        assert result.evaluation.metrics[metric] == pytest.approx(persistence[metric], rel=1e-5)


def test_the_close_target_on_the_monthly_sample_is_held_against_the_random_walk(tmp_path: Path):
    settings = {"target": "close", "source": "sample", "ticker": "MSFT", "lookback": 12}
    result = LastValueStocks().run({**settings, "epochs": 1}, run_dir=tmp_path)
    y = load_prices("sample", "MSFT").values
    months = np.arange(len(y) - round(0.2 * (len(y) - 12)), len(y))
    random_walk = result.evaluation.baselines["random walk"]
    assert random_walk["mape"] == pytest.approx(mape(y[months], y[months - 1]))
    assert result.evaluation.baselines["seasonal naive"]["rmse"] == pytest.approx(
        rmse(y[months], y[months - 12])
    )
    for metric in ("rmse", "mae", "mape"):
        assert result.evaluation.metrics[metric] == pytest.approx(random_walk[metric], rel=1e-6)
    assert result.evaluation.references == {}
    assert "| metric | model | random walk | seasonal naive |" in result.report_path.read_text()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"target": "returns"}, "target: "),
        ({"source": "arch"}, "source: "),
        ({"ticker": "S&P 500"}, "ticker: "),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings: dict[str, Any], message: str):
    with pytest.raises(ConfigError, match=message):
        StockPredictor.parse_config(settings)


def test_volatility_from_the_monthly_sample_says_what_to_do():
    pipeline = StockPredictor()
    with pytest.raises(DataRequestError, match=r"closing prices only.*target='close'"):
        pipeline.load_data(pipeline.parse_config({"source": "sample", "ticker": "MSFT"}))


def test_an_index_that_is_not_bundled_names_the_ones_that_are():
    pipeline = StockPredictor()
    with pytest.raises(DataRequestError, match=r"\^GSPC, \^IXIC.*not MSFT.*yfinance"):
        pipeline.load_data(pipeline.parse_config({"ticker": "MSFT"}))


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
    config = pipeline.parse_config({**settings, "interval": "1d", "target": "close"})
    data = pipeline.load_data(config)
    assert asked == [("yfinance", "BRK-B", dt.date(2024, 1, 1), dt.date(2025, 2, 7), "1d")]
    assert data.summary["missing readings"] == "none"  # weekends are no gaps
    assert data.extras["series"].season == 5
