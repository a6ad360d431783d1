"""The settings every forecaster shares: the windows, the split, the scaling and the network.

Kept apart from the pipeline so that a program which only rebuilds a trained forecaster (from
``metrics.json``'s config and ``model.npz``, with ``models.forecaster``) needs neither the data
preparation nor the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal, TypeVar

from pydantic import Field, ValidationInfo, field_validator

from forge_learner.config import BatchSize, Epochs, LearningRate, PipelineConfig

__all__ = ["TimeSeriesConfig", "TimeSeriesConfigT"]


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
        "model": "Model",
        "hidden_size": "Model",
        "num_layers": "Model",
        "attention_heads": "Model",
        "position_encoding": "Model",
        "kernel_size": "Model",
        "val_fraction": "Split",
        "test_fraction": "Split",
    }
    advanced_fields: ClassVar[frozenset[str]] = frozenset(
        {"scaling", "max_gap", "position_encoding", "kernel_size"}
    )

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
    model: Literal["lstm", "gru", "transformer", "tcn"] = Field(
        default="lstm",
        description=(
            "The network: lstm or gru (recurrent), transformer (self-attention over the "
            "window) or tcn (dilated causal convolutions)."
        ),
    )
    hidden_size: int = Field(
        default=32,
        ge=1,
        le=1024,
        description=(
            "The network's width: units per recurrent layer, the transformer's features, or "
            "the TCN's channels."
        ),
    )
    num_layers: int = Field(default=1, ge=1, le=4, description="Layers of the network.")
    attention_heads: int = Field(
        default=2,
        ge=1,
        le=16,
        description="transformer: attention heads; hidden_size must be a multiple of it.",
    )
    position_encoding: Literal["sinusoidal", "learned"] = Field(
        default="sinusoidal",
        description="transformer: how each step's place in the window is encoded.",
    )
    kernel_size: int = Field(
        default=3, ge=2, le=16, description="tcn: steps each convolution reads."
    )
    max_gap: int = Field(
        default=6,
        ge=0,
        le=10_000,
        description=(
            "Longest run of missing steps filled by linear interpolation; a longer gap stops "
            "the run with an error naming it."
        ),
    )

    @field_validator("attention_heads")
    @classmethod
    def _heads_divide_the_width(cls, heads: int, info: ValidationInfo) -> int:
        width = info.data.get("hidden_size")
        if info.data.get("model") == "transformer" and width and width % heads:
            raise ValueError(f"must divide hidden_size ({width}) for the transformer")
        return heads


TimeSeriesConfigT = TypeVar("TimeSeriesConfigT", bound=TimeSeriesConfig)
