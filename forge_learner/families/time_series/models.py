"""The networks a forecaster may use, chosen by the config's ``model``; ``forecaster`` builds one.

Each reads a window ``(batch, lookback, inputs)`` and returns ``(batch, 1)``: the transformed
target ``horizon`` steps after the window's last step.

- ``lstm`` and ``gru``: a recurrent network over the window, a linear head on its last step.
- ``transformer``: each step's inputs projected to ``hidden_size`` features, a position
  encoding added (sinusoidal, or learned per step of the window), a pre-norm Transformer
  encoder over the whole window, and the head on the last step's output.
- ``tcn``: a temporal convolutional network. Each layer is a causal ``Conv1d`` (padded on the
  left only, so a step sees its past and never its future) whose dilation doubles from layer to
  layer, so the last step sees ``1 + (kernel - 1)(2^layers - 1)`` steps back; ReLU, and a
  residual connection from the second layer on.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from forge_core import Tensor, nn
from forge_core.nn import functional as F

from .config import TimeSeriesConfig

__all__ = [
    "GRUForecaster",
    "LSTMForecaster",
    "ModelKind",
    "TCNForecaster",
    "TransformerForecaster",
    "describe",
    "forecaster",
]

ModelKind = Literal["lstm", "gru", "transformer", "tcn"]


class LSTMForecaster(nn.Module):
    """An LSTM over the window with a linear head on its last step, as in PyTorch's examples."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.lstm(x)
        last: Tensor = self.head(output[:, -1, :])
        return last


class GRUForecaster(nn.Module):
    """A GRU over the window with a linear head on its last step."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        output, _ = self.gru(x)
        last: Tensor = self.head(output[:, -1, :])
        return last


class TransformerForecaster(nn.Module):
    """Self-attention over the window: projection, position encoding, encoder, head."""

    def __init__(
        self,
        input_size: int,
        d_model: int,
        heads: int,
        layers: int,
        lookback: int,
        position: Literal["sinusoidal", "learned"] = "sinusoidal",
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(input_size, d_model)
        if position == "learned":
            self.position = nn.Parameter(np.zeros((lookback, d_model), dtype=np.float32))
            nn.init.normal_(self.position, std=0.02)
        else:
            self.register_buffer("position", Tensor(sinusoidal_positions(lookback, d_model)))
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=4 * d_model,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: Tensor) -> Tensor:
        encoded = self.encoder(self.embed(x) + self.position)
        last: Tensor = self.head(encoded[:, -1, :])
        return last


def sinusoidal_positions(steps: int, width: int) -> np.ndarray:
    """``(steps, width)``: sines and cosines of the step at wavelengths from 2π to 10000·2π,
    the encoding of "Attention Is All You Need", so nearby steps get nearby codes."""
    positions = np.arange(steps, dtype=np.float64)[:, None]
    rates = np.exp(-math.log(10_000.0) * np.arange(0, width, 2) / width)
    table = np.zeros((steps, width))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: width // 2])
    return table.astype(np.float32)


class TCNForecaster(nn.Module):
    """Dilated causal convolutions over the window, the head on the last step."""

    def __init__(self, input_size: int, channels: int, layers: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [
                nn.Conv1d(input_size if k == 0 else channels, channels, kernel_size, dilation=2**k)
                for k in range(layers)
            ]
        )
        self.pads = [(kernel_size - 1) * 2**k for k in range(layers)]
        self.head = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        hidden = x.transpose(1, 2)  # (batch, inputs, steps): Conv1d's layout
        for k, (conv, pad) in enumerate(zip(self.convs, self.pads, strict=True)):
            out = conv(F.pad(hidden, (pad, 0))).relu()
            hidden = out if k == 0 else out + hidden
        last: Tensor = self.head(hidden[:, :, -1])
        return last

    @property
    def receptive_field(self) -> int:
        """How many steps back the last step's output sees, itself included."""
        return 1 + sum(self.pads)


def forecaster(config: TimeSeriesConfig, input_size: int) -> nn.Module:
    """The network ``config.model`` names, ``hidden_size`` wide and ``num_layers`` deep."""
    width, depth = config.hidden_size, config.num_layers
    if config.model == "gru":
        return GRUForecaster(input_size, width, depth)
    if config.model == "transformer":
        return TransformerForecaster(
            input_size,
            width,
            config.attention_heads,
            depth,
            config.lookback,
            config.position_encoding,
        )
    if config.model == "tcn":
        return TCNForecaster(input_size, width, depth, config.kernel_size)
    return LSTMForecaster(input_size, width, depth)


def describe(config: TimeSeriesConfig, model: nn.Module) -> str:
    """The network in a sentence, for the report."""
    layers = f"{config.num_layers} layer{'s' if config.num_layers > 1 else ''}"
    size = sum(parameter.numel() for parameter in model.parameters())
    if isinstance(model, TransformerForecaster):
        what = (
            f"A Transformer encoder ({layers}, {config.hidden_size} features, "
            f"{config.attention_heads} attention heads, {config.position_encoding} positions)"
        )
    elif isinstance(model, TCNForecaster):
        what = (
            f"A temporal convolutional network ({layers} of {config.hidden_size} channels, "
            f"kernel {config.kernel_size}, seeing {model.receptive_field} steps back)"
        )
    elif isinstance(model, GRUForecaster | LSTMForecaster):
        kind = "A GRU" if isinstance(model, GRUForecaster) else "An LSTM"
        what = f"{kind} ({layers} of {config.hidden_size} units)"
    else:
        what = f"The pipeline's own network ({type(model).__name__})"
    return (
        f"{what} reads each window of {config.lookback} steps; a linear head on the last step "
        f"forecasts the target. {size:,} trained parameters."
    )
