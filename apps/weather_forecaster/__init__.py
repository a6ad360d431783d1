"""The weather forecaster: an LSTM that predicts tomorrow's maximum temperature from recent days.

Its data comes from ``apps.weather_forecaster.sources``: NOAA's daily Seattle observations of
2012 to 2015, which ship with ``vega_datasets`` (the offline default), Seattle's smoothed hourly
2010 sample (for demos), or the Open-Meteo archive for any place.
``pipeline.WeatherForecaster`` is the pipeline, registered as ``weather_forecaster``.
"""
