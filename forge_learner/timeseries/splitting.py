"""The chronological split: train on the past, validate on what follows, test on the end.

Shuffling windows before splitting lets a model train on targets that lie between its test
targets, and a scaler fitted on "all data" sees the test period's level and spread: both make
a forecast look better than it will ever be. Here the timeline of target steps is cut in three
consecutive periods and a window belongs to the period that holds *all* of its targets:

- the test period is the last ``test_fraction`` of the target steps, the validation period the
  ``val_fraction`` before it, the training period everything earlier;
- a window is in train when its last target is before ``train_end``, in val when its targets lie
  in ``[train_end, test_start)``, in test when its first target is at or after ``test_start``;
- a multi-step window whose targets straddle a boundary is in no part (a purge of
  ``horizon - 1`` windows at each boundary); one-step windows never straddle. A period shorter
  than ``horizon`` steps holds no multi-step window, and an empty part is refused.

So no test or validation target lies in the training period, and no training window sees a step
at or after ``train_end``, neither as input (inputs come before a window's targets) nor as a
target. ``values[:train_end]`` is exactly what the training windows see: fit scalers on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class ChronologicalSplit:
    """Which windows train, validate and test, and where the periods begin on the timeline.

    ``train``, ``val``, ``test`` are int64 indices into the windows, in the windows' order.
    ``train_end`` is the first step after the training period (fit scalers on
    ``values[:train_end]``), ``test_start`` the first step of the test period; the validation
    period is ``[train_end, test_start)``, empty without validation.
    """

    train: Array
    val: Array
    test: Array
    train_end: int
    test_start: int


def _steps(fraction: float, span: int) -> int:
    """Steps of ``span`` for ``fraction``, rounded half up, and at least one if it is not 0."""
    if fraction == 0:
        return 0
    return max(1, math.floor(fraction * span + 0.5))


def chronological_split(
    target_index: ArrayLike, *, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> ChronologicalSplit:
    """Split windows by time on their target steps (rule in the module docstring).

    ``target_index`` is ``Windows.target_index``: ``(N,)``, or ``(N, horizon)`` for multi-step
    windows. The fractions are of the target steps from the first to the last, each rounded half
    up and at least one step when not 0.
    """
    index = np.asarray(target_index)
    if index.ndim not in (1, 2) or index.size == 0 or index.dtype.kind not in "iu":
        raise ValueError(
            "chronological_split: give the windows' target_index, integers of shape (N,) or "
            f"(N, horizon); got dtype {index.dtype} and shape {index.shape}"
        )
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"chronological_split: val_fraction={val_fraction} and test_fraction={test_fraction} "
            "must be at least 0 and leave part of the series to train on (sum below 1)"
        )
    index = index.reshape(len(index), -1)
    first_target, last_target = index.min(axis=1), index.max(axis=1)
    start, stop = int(first_target.min()), int(last_target.max()) + 1
    span = stop - start
    test_start = stop - _steps(test_fraction, span)
    train_end = test_start - _steps(val_fraction, span)
    parts = {
        "train": np.flatnonzero(last_target < train_end),
        "val": np.flatnonzero((first_target >= train_end) & (last_target < test_start)),
        "test": np.flatnonzero(first_target >= test_start),
    }
    wanted = {"train": True, "val": val_fraction > 0, "test": test_fraction > 0}
    for name, part in parts.items():
        if wanted[name] and part.size == 0:
            raise ValueError(
                f"chronological_split: no window falls wholly in the {name} period of "
                f"{span} target steps (train ends at step {train_end}, test starts at "
                f"{test_start}); use a longer series, a shorter horizon or other fractions"
            )
    return ChronologicalSplit(
        train=parts["train"].astype(np.int64),
        val=parts["val"].astype(np.int64),
        test=parts["test"].astype(np.int64),
        train_end=train_end,
        test_start=test_start,
    )
