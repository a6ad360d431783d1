"""The maths under the time-series pipelines: windows, the split, scalers, baselines, errors.

The order of use, each step leak-free:

1. ``make_windows(values, lookback, horizon, target)`` cuts the raw series into samples and
   records where each target lies;
2. ``chronological_split(windows.target_index)`` splits them by time, train first, test last;
3. scalers and target transforms ``fit`` on ``values[:split.train_end]`` only;
4. after training, predictions go back to original units with ``inverse_transform``, and
   ``rmse``/``mae``/… compare them, and the ``persistence``/``seasonal_naive`` baselines on the
   same test windows, with the true values ``series[test.target_index]``; ``climatology`` is
   a baseline for data with a yearly cycle, and ``linear_autoregression`` a reference model.
"""

from forge_learner.timeseries.baselines import (
    climatology,
    persistence,
    rolling_mean,
    seasonal_naive,
    train_mean,
)
from forge_learner.timeseries.metrics import improvement, mae, mape, rmse, smape
from forge_learner.timeseries.references import linear_autoregression
from forge_learner.timeseries.scaling import (
    TRANSFORMS,
    LogTransform,
    MinMaxScaler,
    StandardScaler,
    Transform,
    TransformChain,
    transform_from_state,
)
from forge_learner.timeseries.splitting import ChronologicalSplit, chronological_split
from forge_learner.timeseries.windows import Windows, make_windows

__all__ = [
    "TRANSFORMS",
    "ChronologicalSplit",
    "LogTransform",
    "MinMaxScaler",
    "StandardScaler",
    "Transform",
    "TransformChain",
    "Windows",
    "chronological_split",
    "climatology",
    "improvement",
    "linear_autoregression",
    "mae",
    "make_windows",
    "mape",
    "persistence",
    "rmse",
    "rolling_mean",
    "seasonal_naive",
    "smape",
    "train_mean",
    "transform_from_state",
]
