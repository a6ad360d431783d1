"""Predictions from a finished run: what a caller asks, and the errors a pipeline answers with.

A run leaves its folder behind (``model.npz``, ``metrics.json`` with the config, and whatever
its family saved beside them: ``transform.json``, ``normalizer.json``). ``BasePipeline.predict``
rebuilds the model and its input transform from that folder alone and answers a
``PredictionRequest`` with a JSON-ready dict; the trainer serves it to users, and a local
``forge run`` folder works the same way. A family decides what its inputs and answers look
like (docs/api.md#predictions): a forecaster takes a window of rows, an image classifier
images.

Two errors tell the caller what to fix: ``PredictionInputError`` for inputs the model cannot
use (naming the field, as a config error does), and ``PredictionUnavailable`` for a run that
cannot predict at all (a pipeline without ``predict``, a folder missing a file).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forge_learner.artifacts import METRICS_NAME

__all__ = [
    "PredictionInputError",
    "PredictionRequest",
    "PredictionUnavailable",
    "read_json",
    "saved_config",
]


@dataclass(frozen=True)
class PredictionRequest:
    """What a caller sends: ``inputs`` as parsed JSON (None when absent) and encoded images.

    ``inputs`` is the family's to read: rows of a window for a forecaster, 2-D pixel arrays
    for an image classifier. ``images`` are PNG or JPEG files, for the families that read them.
    """

    inputs: Any = None
    images: Sequence[bytes] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return self.inputs is None and not self.images


class PredictionInputError(ValueError):
    """Inputs the model cannot use; ``field`` is where in the request (``inputs[3].temp``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PredictionUnavailable(Exception):
    """The run cannot predict: its pipeline has no ``predict``, or a file it needs is missing."""


def read_json(run_dir: Path, name: str) -> Any:
    """A JSON file of the run folder; ``PredictionUnavailable`` naming it when it is missing."""
    path = run_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PredictionUnavailable(
            f"the run has no {name}: it was written by a version that did not save it, or the "
            "run did not finish; train the experiment again to predict with it"
        ) from None


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The config the run trained with, as ``metrics.json`` recorded it."""
    metrics = read_json(run_dir, METRICS_NAME)
    config = metrics.get("config") if isinstance(metrics, dict) else None
    if not isinstance(config, dict):
        raise PredictionUnavailable(f"the run's {METRICS_NAME} holds no config")
    return config
