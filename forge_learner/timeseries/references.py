"""Reference models: simple fitted forecasters a network is compared with, beside the baselines.

A baseline needs no fitting; a reference is fitted, on the training part only, and is the
cheapest honest model of its kind. A network that does not beat its reference costs more and
buys nothing, and the report says so.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


def linear_autoregression(
    train_inputs: ArrayLike, train_targets: ArrayLike, inputs: ArrayLike
) -> Array:
    """Least squares from each window's flattened inputs (plus an intercept) to its target.

    ``train_inputs`` are ``(N, lookback, F)`` windows and ``train_targets`` ``(N,)``, in the
    same (scaled) space as the network's; returns the forecasts of ``inputs`` ``(M, lookback,
    F)`` in that space. The minimum-norm solution, so collinear columns (a constant feature)
    do no harm.
    """
    x_train = _design(train_inputs)
    y_train = np.asarray(train_targets, dtype=np.float64)
    if x_train.shape[0] != y_train.shape[0]:
        raise ValueError(
            f"linear_autoregression: {x_train.shape[0]} training windows but "
            f"{y_train.shape[0]} targets"
        )
    coefficients, *_ = np.linalg.lstsq(x_train, y_train, rcond=None)
    forecasts: Array = _design(inputs) @ coefficients
    return forecasts


def _design(windows: ArrayLike) -> Array:
    array = np.asarray(windows, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(
            f"linear_autoregression: windows must be (N, lookback, features), got {array.shape}"
        )
    flat = array.reshape(len(array), -1)
    return np.concatenate([flat, np.ones((len(array), 1))], axis=1)
