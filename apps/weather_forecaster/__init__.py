"""The weather forecaster: an LSTM that predicts the next hours' temperature from the last ones.

Its data comes from ``apps.weather_forecaster.sources``: Seattle's 2010 hourly temperatures, which
ship with ``vega_datasets`` (the offline default), or the Open-Meteo archive for any place.
``pipeline.WeatherForecaster`` is the pipeline, registered as ``weather_forecaster``.
"""
