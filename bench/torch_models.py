"""The engine benchmark's workloads in PyTorch (``bench/workloads.py`` names them).

``build`` returns the model's initial weights as NumPy arrays too: forge's model of the
workload loads them, so both frameworks start from the same point.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from bench.workloads import WORKLOADS

Step = Callable[[], float]


class Regressor(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class TCN(torch.nn.Module):
    def __init__(self, channels: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.convs = torch.nn.ModuleList(
            [torch.nn.Conv1d(channels, channels, kernel, dilation=2**k) for k in range(layers)]
        )
        self.head = torch.nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.nn.functional.pad(x, ((conv.kernel_size[0] - 1) * conv.dilation[0], 0))
            x = torch.relu(conv(x))
        return self.head(x[:, :, -1])


class EncoderRegressor(torch.nn.Module):
    def __init__(self, d_model: int, heads: int, layers: int) -> None:
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[:, -1])


def _cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 7 * 7, 10),
    )


def _mlp() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )


MODELS: dict[str, tuple[Callable[[], torch.nn.Module], Callable[[], torch.nn.Module]]] = {
    # name: (model, loss)
    "lstm": (lambda: Regressor(64), torch.nn.MSELoss),
    "cnn": (_cnn, torch.nn.CrossEntropyLoss),
    "mlp": (_mlp, torch.nn.CrossEntropyLoss),
    "lstm_large": (lambda: Regressor(256), torch.nn.MSELoss),
    "tcn": (lambda: TCN(32, 3, 3), torch.nn.MSELoss),
    "transformer": (lambda: EncoderRegressor(64, 4, 2), torch.nn.MSELoss),
}


def build(name: str) -> tuple[Step, dict[str, np.ndarray]]:
    """One training step of the workload (Adam, lr 1e-3) as a closure that returns the loss,
    and the model's initial weights."""
    make_model, make_loss = MODELS[name]
    model, loss_fn = make_model(), make_loss()
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = WORKLOADS[name].data()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(tx), ty)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return step, weights
