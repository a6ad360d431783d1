"""Cutting a series into supervised samples: a window of past steps and the value to forecast.

A model sees ``lookback`` consecutive steps and learns the target column ``horizon`` steps after
the last of them. Each window also carries where it sits in the original series (the index of its
last input step, the *origin*, and the index of every target), because everything after training
needs that: the chronological split cuts on it, the baselines read the original series at it,
and a plot puts the forecast back on the time axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class Windows:
    """Supervised samples cut from one series; the i-th entry of every field is one window.

    ``inputs``
        ``(N, lookback, F)``, the values of every feature over the window's steps, oldest first.
        Floating point (integers become float64); ``TensorDataset`` casts it to the engine's
        float32.
    ``targets``
        ``(N,)``, the target column ``horizon`` steps after the origin; ``(N, horizon)`` for
        multi-step windows, the target at each of the ``horizon`` steps after the origin.
    ``target_index``
        int64, the shape of ``targets``: where each target value is in the original series.
    ``origin``
        int64 ``(N,)``: the index of each window's last input step, the moment a forecast is
        made from. ``target_index - origin`` is the number of steps ahead.
    """

    inputs: Array
    targets: Array
    target_index: Array
    origin: Array

    def __len__(self) -> int:
        return len(self.origin)

    def take(self, indices: ArrayLike) -> Windows:
        """The windows at ``indices`` (e.g. one part of a split), every field taken alike."""
        indices = np.asarray(indices, dtype=np.int64)
        return Windows(
            inputs=self.inputs[indices],
            targets=self.targets[indices],
            target_index=self.target_index[indices],
            origin=self.origin[indices],
        )


def make_windows(
    values: ArrayLike,
    lookback: int,
    horizon: int = 1,
    target: int = 0,
    *,
    multi_step: bool = False,
) -> Windows:
    """Every window of ``lookback`` steps of ``values`` with the target ``horizon`` steps later.

    ``values`` is ``(T,)`` for one feature or ``(T, F)``, rows in time order; ``target`` is the
    column to forecast (it is also an input feature: its own past is what a forecast starts
    from). Window ``i`` holds rows ``i … i + lookback - 1``, so its origin is
    ``i + lookback - 1`` and its target sits at ``origin + horizon`` (``horizon=1``: the next
    step). With ``multi_step`` the target is the whole next ``horizon`` steps, ``origin + 1 …
    origin + horizon``. Either way there are ``T - lookback - horizon + 1`` windows: the last one
    ends where its (furthest) target is the series' last row.
    """
    array = np.asarray(values)
    if array.ndim not in (1, 2):
        raise ValueError(
            f"make_windows: values must be (T,) or (T, features), got shape {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise ValueError(f"make_windows: values must be numbers, got dtype {array.dtype}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if array.ndim == 1:
        array = array[:, None]
    steps, features = array.shape
    if lookback < 1 or horizon < 1:
        raise ValueError(
            f"make_windows: lookback and horizon must be at least 1, got lookback={lookback} "
            f"and horizon={horizon}"
        )
    if not 0 <= target < features:
        raise ValueError(
            f"make_windows: target={target} is not a column of values with {features} "
            f"feature(s); give a column index from 0 to {features - 1}"
        )
    count = steps - lookback - horizon + 1
    if count < 1:
        raise ValueError(
            f"make_windows: a series of {steps} steps is too short for lookback={lookback} and "
            f"horizon={horizon}, which need at least {lookback + horizon} steps"
        )
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise ValueError(
            f"make_windows: values hold NaN or infinity in {bad_rows.size} row(s), the first at "
            f"row {bad_rows[0]}; fill or drop the gaps before cutting windows"
        )

    # sliding_window_view gives (T - lookback + 1, F, lookback): one view per start, no copy
    # until the final ascontiguousarray, which the model needs anyway.
    views = np.lib.stride_tricks.sliding_window_view(array, lookback, axis=0)[:count]
    inputs = np.ascontiguousarray(views.transpose(0, 2, 1))
    origin = np.arange(lookback - 1, lookback - 1 + count, dtype=np.int64)
    if multi_step:
        target_index = origin[:, None] + np.arange(1, horizon + 1, dtype=np.int64)
    else:
        target_index = origin + horizon
    return Windows(
        inputs=inputs,
        targets=array[target_index, target],
        target_index=target_index,
        origin=origin,
    )
