"""The image classifier: a small CNN that tells handwritten digits apart.

Its data comes from ``apps.image_classifier.sources``: scikit-learn's 8x8 digits (the offline
default), or MNIST's 28x28 digits from IDX files the user has downloaded.
``pipeline.ImageClassifier`` is the pipeline, registered as ``image_classifier``.
"""
