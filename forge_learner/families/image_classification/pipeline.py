"""``ImageClassificationPipeline``: train a classifier, score it beside baselines and a reference.

Cross-entropy training with the accuracy logged each epoch; evaluation on the test images: the
loss, accuracy and macro/weighted precision, recall and F1 beside two baselines the network
must beat (the majority class, and the nearest class mean, an honest linear-time classifier on
the same normalised pixels) and a reference model (a multinomial logistic regression on the
same pixels, the linear model a CNN is usually measured against), with per-class scores, the
confusion matrix and the most confident mistakes in ``Evaluation.details``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from forge_core import nn
from forge_learner.classification import (
    ClassificationReport,
    confusion_matrix,
    per_class_report,
)
from forge_learner.data import DataLoader, Dataset, TensorDataset
from forge_learner.learner import Learner, LossFn
from forge_learner.metrics import Accuracy, Metric
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunContext
from forge_learner.report import ReportSection
from forge_learner.sources import LabelledImages

from . import report
from .preparation import ImageClassificationConfig, ImageConfigT, ImageData, image_data, prepare

__all__ = ["ImageClassificationPipeline"]

Array = np.ndarray

MISTAKES_SHOWN = 12
"""How many misclassified test images the report shows (the most confident mistakes first)."""
REFERENCE_ITERATIONS = 500
"""L-BFGS steps for the logistic regression: enough to converge on 8x8 digits."""


class ImageClassificationPipeline(BasePipeline[ImageConfigT]):
    """A pipeline that classifies images; subclasses give ``load_images`` and ``create_model``.

    ``create_model(config, data)`` reads the input shape and the class count from
    ``image_data(data)``; the model maps ``(N, C, H, W)`` float32 images to ``(N, classes)``
    scores (logits).
    """

    Config = ImageClassificationConfig

    @abstractmethod
    def load_images(self, config: ImageConfigT) -> LabelledImages:
        """The labelled images to train on (and to test on, unless ``load_test_images`` gives)."""

    def load_test_images(self, config: ImageConfigT) -> LabelledImages | None:
        """The source's own test images, if it has them; None splits the test set off instead."""
        return None

    def load_data(self, config: ImageConfigT) -> PipelineData:
        return prepare(config, self.load_images(config), self.load_test_images(config))

    def create_loss(self, config: ImageConfigT) -> LossFn:
        """Cross-entropy on the logits: the model's last layer applies no softmax."""
        return nn.CrossEntropyLoss()

    def create_metrics(self, config: ImageConfigT) -> list[Metric | str]:
        return [Accuracy()]

    def evaluate(self, config: ImageConfigT, learner: Learner, data: PipelineData) -> Evaluation:
        """Test loss and scores, the baselines' scores, and per-class details for metrics.json."""
        info = image_data(data)
        assert data.test is not None  # load_data always makes one
        loss = learner.evaluate(DataLoader(data.test, batch_size=config.batch_size))["loss"]
        x_train, x_test = _inputs(data.train), _inputs(data.test)
        logits = learner.predict(x_test, batch_size=max(config.batch_size, 256))
        matrix = confusion_matrix(info.test_labels, logits.argmax(axis=1), info.num_classes)
        report = per_class_report(matrix)
        baselines = {
            "majority class": _majority_class(info.train_labels, len(x_test)),
            "nearest class mean": _nearest_class_mean(x_train, info.train_labels, x_test),
        }
        details = {
            "classes": list(info.class_names),
            "per_class": {
                name: {
                    "precision": float(report.precision[i]),
                    "recall": float(report.recall[i]),
                    "f1": float(report.f1[i]),
                    "support": int(report.support[i]),
                }
                for i, name in enumerate(info.class_names)
            },
            "macro_average": report.macro._asdict(),
            "weighted_average": report.weighted._asdict(),
            "confusion_matrix": matrix.tolist(),
            "misclassified": _mistakes(logits, info),
        }
        return Evaluation(
            metrics={"loss": loss, **_scores(report)},
            baselines={
                name: _scores(
                    per_class_report(confusion_matrix(info.test_labels, guess, info.num_classes))
                )
                for name, guess in baselines.items()
            },
            details=details,
            references={
                "logistic regression": _scores(
                    per_class_report(
                        confusion_matrix(
                            info.test_labels,
                            _logistic_regression(x_train, info.train_labels, x_test),
                            info.num_classes,
                        )
                    )
                )
            },
        )

    def report_sections(self, context: RunContext[ImageConfigT]) -> list[ReportSection]:
        return report.sections(context)


def _scores(report: ClassificationReport) -> dict[str, float]:
    """The summary numbers of the metrics table, for the model and each baseline alike."""
    return {
        "accuracy": report.accuracy,
        "macro_precision": report.macro.precision,
        "macro_recall": report.macro.recall,
        "macro_f1": report.macro.f1,
        "weighted_f1": report.weighted.f1,
    }


def _majority_class(train_labels: Array, count: int) -> Array:
    """The most common training class for every test image: what knowing the class balance buys."""
    return np.full(count, np.bincount(train_labels).argmax(), dtype=np.int64)


def _nearest_class_mean(x_train: Array, y_train: Array, x_test: Array) -> Array:
    """The class whose mean training image is nearest (Euclidean) to each test image.

    One template per class and no training loop: a network that does not beat it has learnt
    little beyond the average shape of each class. A class absent from training is never
    predicted.
    """
    flat_train = x_train.reshape(len(x_train), -1)
    present = np.unique(y_train)
    means = np.stack([flat_train[y_train == c].mean(axis=0, dtype=np.float64) for c in present])
    # |x - m|^2 = |x|^2 - 2 x.m + |m|^2, and |x|^2 is the same for every class of one image.
    distances = (means**2).sum(axis=1) - 2.0 * (x_test.reshape(len(x_test), -1) @ means.T)
    return present[distances.argmin(axis=1)].astype(np.int64)


def _inputs(dataset: Dataset) -> Array:
    """The images of a dataset that ``load_data`` made, all at once."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays[0]
    return dataset.batch(np.arange(len(dataset)))[0]


def _mistakes(logits: Array, info: ImageData) -> list[dict[str, Any]]:
    """The misclassified test images the model gave the highest probability, surest first."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != info.test_labels)
    confidence = probabilities[wrong, predicted[wrong]]
    chosen = wrong[np.argsort(-confidence, kind="stable")[:MISTAKES_SHOWN]]
    return [
        {
            "test_position": int(i),
            "source_index": int(info.test_ids[i]),
            "true": info.class_names[info.test_labels[i]],
            "predicted": info.class_names[predicted[i]],
            "probability": float(probabilities[i, predicted[i]]),
        }
        for i in chosen
    ]


def _logistic_regression(x_train: Array, y_train: Array, x_test: Array) -> Array:
    """scikit-learn's multinomial logistic regression on the flattened normalised pixels."""
    from sklearn.linear_model import LogisticRegression  # lazily: slow to import

    model = LogisticRegression(max_iter=REFERENCE_ITERATIONS)
    model.fit(x_train.reshape(len(x_train), -1), y_train)
    predicted: Array = model.predict(x_test.reshape(len(x_test), -1)).astype(np.int64)
    return predicted
