"""The engine benchmark's workloads in forge (``bench/workloads.py`` names them).

``build`` takes the initial weights PyTorch's model of the workload drew, so both frameworks
start from the same point; it imports nothing of PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import forge_core as fc
from bench.workloads import WORKLOADS
from forge_core import nn, optim
from forge_core.nn import functional as F

Step = Callable[[], float]


class Regressor(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class TCN(nn.Module):
    """A temporal convolutional network: a stack of dilated causal Conv1d layers (each output
    step sees only past steps, by padding on the left), read out at the last step."""

    def __init__(self, channels: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv1d(channels, channels, kernel, dilation=2**k) for k in range(layers)]
        )
        self.head = nn.Linear(channels, 1)
        self.pads = [(kernel - 1) * 2**k for k in range(layers)]

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        for conv, pad in zip(self.convs, self.pads, strict=True):
            x = F.pad(x, (pad, 0))
            x = conv(x).relu()
        return self.head(x[:, :, -1])


class EncoderRegressor(nn.Module):
    """The encoder reads ``d_model`` features per step, a Linear head reads the last step.
    Dropout is 0 so that both frameworks take the same steps."""

    def __init__(self, d_model: int, heads: int, layers: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        return self.head(self.encoder(x)[:, -1])


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )


MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[], nn.Module]]] = {
    # name: (model, loss)
    "lstm": (lambda: Regressor(64), nn.MSELoss),
    "cnn": (_cnn, nn.CrossEntropyLoss),
    "mlp": (_mlp, nn.CrossEntropyLoss),
    "lstm_large": (lambda: Regressor(256), nn.MSELoss),
    "tcn": (lambda: TCN(32, 3, 3), nn.MSELoss),
    "transformer": (lambda: EncoderRegressor(64, 4, 2), nn.MSELoss),
}


def build(name: str, weights: dict[str, np.ndarray]) -> Step:
    """One training step of the workload (Adam, lr 1e-3) as a closure that returns the loss."""
    make_model, make_loss = MODELS[name]
    model, loss_fn = make_model(), make_loss()
    model.load_state_dict(weights)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    x, y = WORKLOADS[name].data()
    fx, fy = fc.from_numpy(x), fc.from_numpy(y)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(fx), fy)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step
