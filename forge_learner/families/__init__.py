"""Pipeline families: the shared recipe of a kind of task, which an app finishes with its data.

A family subclasses ``BasePipeline`` and fills in every hook but where the data comes from and
which network learns it, so that every app of its kind is split, evaluated against baselines and
reported the same way: ``image_classification.ImageClassificationPipeline`` sorts labelled
images into classes, ``time_series.TimeSeriesPipeline`` forecasts a series.
"""
