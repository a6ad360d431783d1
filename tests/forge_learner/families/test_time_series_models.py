"""The networks a forecaster can choose with ``model``: shapes, causality, the config's checks,
and each one trained on the bundled weather observations, named in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from apps.weather_forecaster.pipeline import WeatherForecaster
from forge_core import Tensor, no_grad
from forge_learner.config import ConfigError
from forge_learner.families.time_series import (
    GRUForecaster,
    LSTMForecaster,
    TCNForecaster,
    TransformerForecaster,
    forecaster,
)
from forge_learner.families.time_series.models import sinusoidal_positions
from forge_learner.prediction import PredictionRequest

KINDS = {
    "lstm": LSTMForecaster,
    "gru": GRUForecaster,
    "transformer": TransformerForecaster,
    "tcn": TCNForecaster,
}


def window(batch: int = 3, steps: int = 12, inputs: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, steps, inputs)).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_each_network_reads_a_window_and_forecasts_one_value_per_row(kind: str) -> None:
    config = WeatherForecaster().parse_config(
        {"model": kind, "hidden_size": 8, "num_layers": 2, "lookback": 12}
    )

    model = forecaster(config, input_size=5)
    with no_grad():
        output = model(Tensor(window()))

    assert isinstance(model, KINDS[kind])
    assert output.shape == (3, 1)
    assert np.all(np.isfinite(output.numpy()))


def test_a_tcn_sees_only_its_receptive_field_of_past_steps() -> None:
    model = TCNForecaster(input_size=2, channels=4, layers=2, kernel_size=3)
    x = window(batch=1, steps=12, inputs=2)
    older = x.copy()
    older[:, : 12 - model.receptive_field] += 5.0  # only steps out of its sight
    recent = x.copy()
    recent[:, -1] += 5.0

    with no_grad():
        base, far, near = (model(Tensor(a)).numpy() for a in (x, older, recent))

    assert model.receptive_field == 7  # 1 + (3 - 1) * (1 + 2)
    np.testing.assert_allclose(far, base, rtol=1e-6)
    assert not np.allclose(near, base)


def test_sinusoidal_positions_differ_by_step_and_stay_in_range() -> None:
    table = sinusoidal_positions(14, 8)

    assert table.shape == (14, 8)
    assert np.abs(table).max() <= 1.0
    np.testing.assert_allclose(table[0, 0::2], 0.0)
    np.testing.assert_allclose(table[0, 1::2], 1.0)
    assert len({row.tobytes() for row in table}) == 14


def test_learned_positions_are_a_trained_parameter_sinusoidal_ones_are_not() -> None:
    learned = TransformerForecaster(3, 8, 2, 1, lookback=6, position="learned")
    fixed = TransformerForecaster(3, 8, 2, 1, lookback=6, position="sinusoidal")

    assert "position" in dict(learned.named_parameters())
    assert "position" not in dict(fixed.named_parameters())
    assert "position" in fixed.state_dict()


def test_heads_that_do_not_divide_the_width_are_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError) as refused:
        WeatherForecaster().parse_config(
            {"model": "transformer", "hidden_size": 10, "attention_heads": 4}
        )

    (error,) = refused.value.errors
    assert error.field == "attention_heads"
    assert "must divide hidden_size (10)" in error.message
    # Only the transformer has heads: the same numbers are fine for another network.
    WeatherForecaster().parse_config({"model": "gru", "hidden_size": 10, "attention_heads": 4})


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("lstm", "An LSTM (1 layer of 16 units)"),
        ("gru", "A GRU (1 layer of 16 units)"),
        ("transformer", "A Transformer encoder (1 layer, 16 features, 2 attention heads"),
        ("tcn", "A temporal convolutional network (1 layer of 16 channels, kernel 3"),
    ],
)
def test_each_network_trains_on_the_bundled_observations_and_the_report_names_it(
    kind: str, words: str, tmp_path: Path
) -> None:
    result = WeatherForecaster().run({"model": kind, "epochs": 2}, run_dir=tmp_path)

    report = (tmp_path / "report.md").read_text()
    assert "## Network" in report
    assert words in report
    assert np.isfinite(result.evaluation.metrics["rmse"])
    # It predicts again from its files, whatever the network.
    assert WeatherForecaster().predict(tmp_path, PredictionRequest())["forecast"]["values"]
