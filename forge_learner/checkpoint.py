"""The checkpoint: everything a run needs to continue exactly where it stopped, in one file.

A checkpoint is taken at the end of an epoch and holds the model's weights and buffers, the
optimizer's state, the engine's and the data loaders' random generator states, each stateful
callback's state (history, early-stopping patience, the best metric so far, the LR schedule),
the epoch's number and its logs.

The file is a NumPy ``.npz`` archive: every array under a readable path (``model/fc.weight``,
``optimizer/state/0/exp_avg``) and the rest as JSON in the member ``checkpoint.json``. So
``numpy.load`` reads a checkpoint with no forge code, nothing is pickled (loading runs no code
from the file), and a checkpoint written by one trainer machine loads on another. It is written
to a temporary file that then replaces the target, so a crash mid-write never leaves a torn
checkpoint behind: a reader sees the old one or the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from forge_core import Tensor
from forge_core.files import atomic_write
from forge_learner.events import Logs

FORMAT = "azuraforge.checkpoint"
VERSION = 1
META = "checkpoint.json"


@dataclass
class Checkpoint:
    """A training run's state at the end of epoch ``epoch`` (0-based)."""

    epoch: int
    model: dict[str, np.ndarray]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    loaders: dict[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: Logs = field(default_factory=dict)


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically (a ``.npz`` archive, see the module doc)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    # Not dataclasses.asdict: it rebuilds every dict through its type, which turns a Counter
    # (MultiStepLR's milestones) into a count of its (key, value) pairs.
    parts = {f.name: getattr(checkpoint, f.name) for f in fields(checkpoint)}
    meta = {"format": FORMAT, "version": VERSION, **_pack(parts, "", arrays)}
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path) as handle:
        np.savez(handle, allow_pickle=False, **arrays)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``."""
    with np.load(Path(path), allow_pickle=False) as archive:
        if META not in archive.files:
            raise ValueError(f"{path} is not a forge checkpoint: it has no {META}")
        meta = json.loads(archive[META].tobytes())
        if meta.pop("format", None) != FORMAT or meta.pop("version", None) != VERSION:
            raise ValueError(
                f"{path} is not a version-{VERSION} forge checkpoint; it was written by "
                "another (newer?) forge: load it with that version"
            )
        state = _unpack(meta, archive)
    return Checkpoint(**state)


# JSON cannot hold arrays, tuples or non-string keys, and optimizer states have all three. They
# are written as one-key objects with a tag; loading turns them back, so that a state dict
# comes back as it went in (a tuple of betas stays a tuple; a dict subclass such as a Counter
# comes back as a plain dict with the same items).
_TENSOR, _ARRAY, _SCALAR, _TUPLE, _DICT = "$tensor", "$array", "$scalar", "$tuple", "$dict"


def _pack(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON data; arrays go into ``arrays`` under their path and leave a tag."""
    if isinstance(value, Tensor | np.ndarray | np.generic):
        if path in arrays:
            raise ValueError(f"two arrays of the checkpoint would be stored as {path!r}")
        arrays[path] = np.asarray(value.data if isinstance(value, Tensor) else value)
        tag = _TENSOR if isinstance(value, Tensor) else _ARRAY
        return {_SCALAR if isinstance(value, np.generic) else tag: path}
    if isinstance(value, tuple):
        return {_TUPLE: [_pack(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_pack(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, dict):
        prefix = f"{path}/" if path else ""
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _pack(v, f"{prefix}{k}", arrays) for k, v in value.items()}
        return {
            _DICT: [[_pack(k, "", {}), _pack(v, f"{prefix}{k}", arrays)] for k, v in value.items()]
        }
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"a checkpoint cannot store {type(value).__name__} (at {path!r}): state dicts must "
        "hold arrays, tensors, numbers, strings, lists, tuples and dicts"
    )


def _unpack(value: Any, archive: Any) -> Any:
    if isinstance(value, list):
        return [_unpack(v, archive) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, content),) = value.items()
        if tag == _TENSOR:
            return Tensor(archive[content])
        if tag == _ARRAY:
            return archive[content]
        if tag == _SCALAR:
            return archive[content][()]
        if tag == _TUPLE:
            return tuple(_unpack(v, archive) for v in content)
        if tag == _DICT:
            return {_unpack(k, archive): _unpack(v, archive) for k, v in content}
    return {k: _unpack(v, archive) for k, v in value.items()}
