"""The settings every forecaster shares, and the network most of them use.

Kept apart from the pipeline so that a program which only rebuilds a trained forecaster (from
``metrics.json``'s config and ``model.npz``) needs neither the data preparation nor the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal, TypeVar

from pydantic import Field

from forge_core import Tensor, nn
from forge_learner.config import BatchSize, Epochs, LearningRate, PipelineConfig

__all__ = ["LSTMForecaster", "TimeSeriesConfig", "TimeSeriesConfigT"]


class TimeSeriesConfig(PipelineConfig):
    """Settings every forecaster shares: the windows, the split, the scaling and the network."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "lookback": "Data",
        "horizon": "Data",
        "scaling": "Data",
        "log_target": "Data",
        "calendar_features": "Data",
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
            "standard (mean 0, std 1), minmax (0 to 1) or none. Feature columns are always "
            "standardised."
        ),
    )
    log_target: bool = Field(
        default=False,
        description=(
            "Model the log of the series, for positive data that changes by ratios (prices); "
            "forecasts are turned back into the series' units."
        ),
    )
    calendar_features: bool = Field(
        default=False,
        description=(
            "Give the network the day of the year as a sine and a cosine beside the series, "
            "for data with a yearly cycle."
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
