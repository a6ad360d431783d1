"""The stock predictor: an LSTM that predicts a ticker's next adjusted close from the last ones.

Its data comes from ``apps.stock_predictor.sources``: monthly prices of five tickers that ship
with ``vega_datasets`` (the offline default), or any ticker's bars from Yahoo Finance.
``pipeline.StockPredictor`` is the pipeline, registered as ``stock_predictor``.
"""
