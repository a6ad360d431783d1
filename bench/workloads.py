"""The engine benchmark's workloads: their names, what each trains, and their data.

Each framework builds its own model for a workload (``bench/forge_models.py``,
``bench/torch_models.py``) on the data made here, so that both train on the same arrays.
Nothing here imports either framework: the benchmark runs each in a process of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Data = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    data: Callable[[], Data]


def _regression(*input_shape: int) -> Callable[[], Data]:
    def data() -> Data:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(input_shape).astype(np.float32)
        y = rng.standard_normal((input_shape[0], 1)).astype(np.float32)
        return x, y

    return data


def _classification(*input_shape: int) -> Callable[[], Data]:
    def data() -> Data:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(input_shape).astype(np.float32)
        return x, rng.integers(0, 10, size=input_shape[0])

    return data


WORKLOADS = {
    w.name: w
    for w in (
        Workload("lstm", "LSTM b64 s48 in1 h64 + Linear, MSE", _regression(64, 48, 1)),
        Workload(
            "cnn",
            "CNN b64 1x28x28 conv16-pool-conv32-pool-fc10, CE",
            _classification(64, 1, 28, 28),
        ),
        Workload("mlp", "MLP 784-256-256-10 b128, CE", _classification(128, 784)),
        Workload("lstm_large", "LSTM b32 s128 in1 h256 + Linear, MSE", _regression(32, 128, 1)),
        Workload(
            "tcn",
            "TCN b32 32ch s128, 3 dilated causal Conv1d k3 + Linear, MSE",
            _regression(32, 32, 128),
        ),
        Workload(
            "transformer",
            "TransformerEncoder b64 s48 d64 h4 ff256 x2 + Linear, MSE",
            _regression(64, 48, 64),
        ),
    )
}
