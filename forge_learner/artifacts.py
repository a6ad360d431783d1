"""What a run leaves behind: its folder's name and place, and ``metrics.json``.

A run folder is ``$FORGE_DATA_DIR/runs/<pipeline>-<YYYYmmdd-HHMMSS>`` unless the caller names
one (``forge run --out``, a trainer's work dir). ``metrics.json`` holds the report's numbers
for programs: strict JSON, so a value that is not finite (a loss that diverged, an epoch that
did not validate) is written as ``null`` rather than as the ``NaN`` that JSON parsers reject.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from forge_learner.callbacks.history import History
from forge_learner.data_dir import data_dir

METRICS_NAME = "metrics.json"
WEIGHTS_NAME = "model.npz"
CHECKPOINTS_DIR = "checkpoints"


def runs_root() -> Path:
    """Where runs go by default: ``$FORGE_DATA_DIR/runs``, with ``./var`` as the data dir."""
    return data_dir() / "runs"


def new_run_dir(pipeline: str, root: Path | None = None, now: datetime | None = None) -> Path:
    """Create and return ``root/<pipeline>-<YYYYmmdd-HHMMSS>`` (local time).

    Two runs started in the same second get ``-2``, ``-3``, ... rather than sharing a folder.
    """
    root = runs_root() if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    for count in itertools.count(1):
        path = root / (f"{pipeline}-{stamp}" if count == 1 else f"{pipeline}-{stamp}-{count}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def history_records(history: History) -> list[dict[str, Any]]:
    """One dict per finished epoch: ``epoch`` (0-based) and what that epoch logged.

    ``History`` pads what an epoch did not log with NaN to keep its lists aligned; a record
    leaves such values out instead.
    """
    records = []
    for i, epoch in enumerate(history.epoch):
        record: dict[str, Any] = {"epoch": epoch}
        for key, values in history.history.items():
            value = values[i]
            if not (isinstance(value, float) and math.isnan(value)):
                record[key] = value
        records.append(record)
    return records


def write_metrics(path: Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` as strict, indented JSON (non-finite numbers become ``null``)."""
    path.write_text(json.dumps(_finite(content), indent=2, allow_nan=False) + "\n")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value
