"""Time-series forecasting: the family of pipelines that predict a series' next values.

A pipeline of this family says where its series comes from (``load_series``, returning a
``forge_learner.sources.Series`` whose first column is the target) and which network forecasts
it (``create_model``, usually ``LSTMForecaster``). Everything a reader of the report should be
able to trust is done here, the same way for every forecaster, with ``forge_learner.timeseries``:

- gaps are handled in the open (``preparation``): the series is put on its nominal time grid
  (unless its steps are a market's bars, ``calendar_steps``), runs of up to ``max_gap``
  missing steps are filled by linear interpolation, missing steps at either end are dropped,
  and a longer gap is an error; the report says what was filled;
- the network may see several input columns: the target, the series' other variables and,
  with ``calendar_features``, the day of the year; windows of ``lookback`` steps forecast the
  target ``horizon`` steps after their last, and are split by time, the test part last;
- every transform (an optional log and a scaler for the target, a standard scaler for the
  other columns) is fitted on the training period only;
- forecasts go back through the transform's exact inverse, so every error is in the series'
  own units, and the baselines (naive forecasts) and references (simple fitted models) forecast
  the very same test targets (``pipeline``);
- the report (``report``) shows the competitors with the model's improvement on each, the end
  of the test period, the residuals and the fitted transform; ``saved`` writes what a later
  forecast needs beside the weights.
"""

from .config import LSTMForecaster, TimeSeriesConfig, TimeSeriesConfigT
from .pipeline import Competitor, Forecast, TimeSeriesPipeline
from .preparation import PreparedSeries, fill_gaps
from .saved import INPUTS_NAME, TRANSFORM_NAME, NextForecastInputs, next_forecast_inputs

__all__ = [
    "INPUTS_NAME",
    "TRANSFORM_NAME",
    "Competitor",
    "Forecast",
    "LSTMForecaster",
    "NextForecastInputs",
    "PreparedSeries",
    "TimeSeriesConfig",
    "TimeSeriesConfigT",
    "TimeSeriesPipeline",
    "fill_gaps",
    "next_forecast_inputs",
]
