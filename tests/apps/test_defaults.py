"""Every bundled app, run with its defaults on its bundled data, beats every naive baseline.

The evidence the apps exist to show: a network that loses to "tomorrow is like today" teaches
nothing. Reference models (fitted ones) are reported, not required to lose. The defaults were
chosen on the validation part; the test part decides only this test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.image_classifier.pipeline import ImageClassifier
from apps.stock_predictor.pipeline import StockPredictor
from apps.weather_forecaster.pipeline import WeatherForecaster
from forge_learner.families.time_series import TimeSeriesPipeline

LOWER_IS_BETTER = ("rmse", "mae")


@pytest.mark.parametrize("pipeline", [WeatherForecaster, StockPredictor], ids=["weather", "stock"])
def test_a_default_forecaster_beats_every_naive_baseline_on_the_test_part(
    pipeline: type[TimeSeriesPipeline[Any]], tmp_path: Path
):
    evaluation = pipeline().run({}, run_dir=tmp_path).evaluation
    assert evaluation.baselines and evaluation.references
    for name, scores in evaluation.baselines.items():
        for metric in LOWER_IS_BETTER:
            assert evaluation.metrics[metric] < scores[metric], (name, metric)


def test_the_default_digit_reader_beats_its_baselines_and_reaches_97_percent(tmp_path: Path):
    evaluation = ImageClassifier().run({}, run_dir=tmp_path).evaluation
    assert evaluation.metrics["accuracy"] >= 0.97
    for scores in evaluation.baselines.values():
        assert evaluation.metrics["accuracy"] > scores["accuracy"]
    assert set(evaluation.references) == {"logistic regression"}
