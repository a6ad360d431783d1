"""The maths under the image-classification pipelines: split, normalisation, the report.

In order of use: ``stratified_split(labels)`` cuts the dataset into parts with the same class
proportions; a ``Normalizer`` fits on the training images only; after training,
``confusion_matrix`` and ``per_class_report`` say how well each class is recognised.
"""

from forge_learner.classification.metrics import (
    Average,
    ClassificationReport,
    confusion_matrix,
    per_class_report,
)
from forge_learner.classification.normalization import Normalizer
from forge_learner.classification.splitting import StratifiedSplit, stratified_split

__all__ = [
    "Average",
    "ClassificationReport",
    "Normalizer",
    "StratifiedSplit",
    "confusion_matrix",
    "per_class_report",
    "stratified_split",
]
