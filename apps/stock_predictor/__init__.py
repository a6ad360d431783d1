"""The stock predictor: an LSTM that predicts an index's next-day volatility, or a next close.

Its data comes from ``apps.stock_predictor.sources``: daily S&P 500 and NASDAQ bars of 1999 to
2018 that ship with ``arch`` (the offline default), monthly prices of five tickers from
``vega_datasets``, or any ticker's bars from Yahoo Finance; ``volatility`` holds the measure and
its GARCH and HAR competitors. ``pipeline.StockPredictor`` is the pipeline, registered as
``stock_predictor``.
"""
