"""Training-step speed of the forge engine against PyTorch on the models AzuraForge ships.

Each workload is built twice, in forge and in PyTorch, with the same initial weights (PyTorch's
are copied into forge), the same data and the same optimizer (Adam). Both run on 2 threads in
float32 in this one process, in alternating rounds so that machine noise hits both alike, and
the script prints the median time of one training step (forward, loss, backward, optimizer
step) and the forge/PyTorch ratio. A ratio below 1 means forge is faster.

Run it with ``make bench`` (or ``.venv/bin/python bench/engine.py --help`` for options). With
``BENCH_THREADS=1`` both sides run single-threaded: that compares the work each does, and other
load on a shared machine disturbs it far less than two threads waiting on each other.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("MKL_NUM_THREADS", os.environ.get("BENCH_THREADS", "2"))

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

import forge_core as fc
from forge_core import nn, optim
from forge_core.nn import functional as F

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
Step = Callable[[], float]


@dataclass
class Workload:
    name: str
    description: str
    build: Callable[[], tuple[Step, Step]]


@dataclass
class Result:
    workload: str
    description: str
    forge_ms: float
    torch_ms: float
    ratio: float
    forge_loss: float
    torch_loss: float


def _copy_weights(forge_model: nn.Module, torch_model: torch.nn.Module) -> None:
    forge_model.load_state_dict(
        {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    )


def _steps(
    forge_model: nn.Module,
    torch_model: torch.nn.Module,
    forge_loss: nn.Module,
    torch_loss: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[Step, Step]:
    """One training step of each framework as a closure that returns the loss."""
    _copy_weights(forge_model, torch_model)
    forge_opt = optim.Adam(forge_model.parameters(), lr=1e-3)
    torch_opt = torch.optim.Adam(torch_model.parameters(), lr=1e-3)
    fx, fy = fc.from_numpy(x), fc.from_numpy(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def forge_step() -> float:
        forge_opt.zero_grad()
        loss = forge_loss(forge_model(fx), fy)
        loss.backward()
        forge_opt.step()
        return float(loss.item())

    def torch_step() -> float:
        torch_opt.zero_grad()
        loss = torch_loss(torch_model(tx), ty)
        loss.backward()
        torch_opt.step()
        return float(loss.item())

    return forge_step, torch_step


class ForgeRegressor(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class TorchRegressor(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(1, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def _lstm(batch: int, seq: int, hidden: int) -> Callable[[], tuple[Step, Step]]:
    def build() -> tuple[Step, Step]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, seq, 1)).astype(np.float32)
        y = rng.standard_normal((batch, 1)).astype(np.float32)
        return _steps(
            ForgeRegressor(hidden), TorchRegressor(hidden), nn.MSELoss(), torch.nn.MSELoss(), x, y
        )

    return build


def _cnn() -> tuple[Step, Step]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=64)
    forge_model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    torch_model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 7 * 7, 10),
    )
    return _steps(
        forge_model, torch_model, nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, y
    )


def _mlp() -> tuple[Step, Step]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=128)
    forge_model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    return _steps(
        forge_model, torch_model, nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, y
    )


class ForgeTCN(nn.Module):
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


class TorchTCN(torch.nn.Module):
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


def _tcn() -> tuple[Step, Step]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 32, 128)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    return _steps(ForgeTCN(32, 3, 3), TorchTCN(32, 3, 3), nn.MSELoss(), torch.nn.MSELoss(), x, y)


class ForgeEncoderRegressor(nn.Module):
    def __init__(self, d_model: int, heads: int, layers: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: fc.Tensor) -> fc.Tensor:
        return self.head(self.encoder(x)[:, -1])


class TorchEncoderRegressor(torch.nn.Module):
    def __init__(self, d_model: int, heads: int, layers: int) -> None:
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=4 * d_model, dropout=0.0, batch_first=True
        )
        self.encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = torch.nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[:, -1])


def _transformer(
    batch: int, seq: int, d_model: int, heads: int, layers: int
) -> Callable[[], tuple[Step, Step]]:
    """A sequence regressor: the encoder reads ``d_model`` features per step, a Linear head
    reads the last step. Dropout is 0 so that both frameworks take the same steps."""

    def build() -> tuple[Step, Step]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, seq, d_model)).astype(np.float32)
        y = rng.standard_normal((batch, 1)).astype(np.float32)
        return _steps(
            ForgeEncoderRegressor(d_model, heads, layers),
            TorchEncoderRegressor(d_model, heads, layers),
            nn.MSELoss(),
            torch.nn.MSELoss(),
            x,
            y,
        )

    return build


WORKLOADS = {
    "lstm": Workload("lstm", "LSTM b64 s48 in1 h64 + Linear, MSE", _lstm(64, 48, 64)),
    "cnn": Workload("cnn", "CNN b64 1x28x28 conv16-pool-conv32-pool-fc10, CE", _cnn),
    "mlp": Workload("mlp", "MLP 784-256-256-10 b128, CE", _mlp),
    "lstm_large": Workload(
        "lstm_large", "LSTM b32 s128 in1 h256 + Linear, MSE", _lstm(32, 128, 256)
    ),
    "tcn": Workload("tcn", "TCN b32 32ch s128, 3 dilated causal Conv1d k3 + Linear, MSE", _tcn),
    "transformer": Workload(
        "transformer",
        "TransformerEncoder b64 s48 d64 h4 ff256 x2 + Linear, MSE",
        _transformer(64, 48, 64, 4, 2),
    ),
}


def _time_steps(step: Step, count: int) -> tuple[float, float]:
    start = time.perf_counter()
    loss = 0.0
    for _ in range(count):
        loss = step()
    return (time.perf_counter() - start) / count, loss


def measure(workload: Workload, rounds: int, steps: int, warmup: int) -> Result:
    """Median seconds per step of each framework over alternating rounds."""
    forge_step, torch_step = workload.build()
    _time_steps(forge_step, warmup)
    _time_steps(torch_step, warmup)
    forge_times, torch_times = [], []
    forge_loss = torch_loss = float("nan")
    for _ in range(rounds):
        seconds, forge_loss = _time_steps(forge_step, steps)
        forge_times.append(seconds)
        seconds, torch_loss = _time_steps(torch_step, steps)
        torch_times.append(seconds)
    forge_s, torch_s = statistics.median(forge_times), statistics.median(torch_times)
    return Result(
        workload.name,
        workload.description,
        forge_s * 1e3,
        torch_s * 1e3,
        forge_s / torch_s,
        forge_loss,
        torch_loss,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per workload")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    torch.set_num_threads(THREADS)
    fc.manual_seed(0)
    torch.manual_seed(0)
    print(
        f"forge {fc.__version__} (numpy {np.__version__}) vs torch {torch.__version__}, "
        f"{THREADS} threads, float32, {platform.processor() or platform.machine()}"
    )
    print(f"{'workload':<12}{'forge ms/step':>15}{'torch ms/step':>15}{'ratio':>8}  losses")
    results: list[dict[str, Any]] = []
    for name in args.workloads:
        r = measure(WORKLOADS[name], args.rounds, args.steps, args.warmup)
        print(
            f"{r.workload:<12}{r.forge_ms:>15.2f}{r.torch_ms:>15.2f}{r.ratio:>8.2f}  "
            f"forge {r.forge_loss:.4f} / torch {r.torch_loss:.4f}",
            flush=True,
        )
        results.append(asdict(r))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
