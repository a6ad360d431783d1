"""Image classification: the family of pipelines that sort labelled images into classes.

A pipeline of this family says where its images come from (``load_images``, and
``load_test_images`` when the source ships its own test split) and which network reads them
(``create_model``). Everything a reader of the report should be able to trust is done here, the
same way for every image classifier:

- a stratified split by ``config.seed``, so each class keeps its share in every part and a rare
  class cannot vanish from the test set;
- per-channel normalisation fitted on the training images only: test images are treated
  exactly as new images will be;
- cross-entropy training with the accuracy logged each epoch;
- evaluation on the test images: the loss, accuracy and macro/weighted precision, recall and
  F1 beside two baselines the network must beat (the majority class, and the nearest class
  mean, an honest linear-time classifier on the same normalised pixels), with per-class
  scores, the confusion matrix and the most confident mistakes in ``Evaluation.details``;
- report sections: per-class scores, the confusion matrix plot, the mistakes plot, and how to
  reuse the model (``normalizer.json`` beside ``model.npz``).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import Field

from forge_core import nn
from forge_learner.artifacts import METRICS_NAME
from forge_learner.classification import (
    ClassificationReport,
    Normalizer,
    confusion_matrix,
    per_class_report,
    stratified_split,
)
from forge_learner.config import PipelineConfig
from forge_learner.data import DataLoader, Dataset, TensorDataset
from forge_learner.families import image_prediction
from forge_learner.learner import Learner, LossFn
from forge_learner.metrics import Accuracy, Metric
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunContext
from forge_learner.plots import confusion_matrix_plot
from forge_learner.prediction import (
    PredictionRequest,
    PredictionUnavailable,
    read_json,
    saved_config,
)
from forge_learner.report import ReportSection, format_number, markdown_table
from forge_learner.sources import LabelledImages

__all__ = [
    "ImageClassificationConfig",
    "ImageClassificationPipeline",
    "ImageData",
    "image_data",
]

Array = np.ndarray

NORMALIZER_NAME = "normalizer.json"
MISTAKES_SHOWN = 12
"""How many misclassified test images the report shows (the most confident mistakes first)."""
CONFUSIONS_LISTED = 5
"""How many (true, predicted) pairs the confusion matrix section names."""


class ImageClassificationConfig(PipelineConfig):
    """The settings every image classifier shares: how the images are split."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "source": "Data",
        "test_fraction": "Split",
        "val_fraction": "Split",
    }

    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        le=0.5,
        description=(
            "Share of each class held out to test the final model. Unused when the source "
            "has a test split of its own (MNIST's t10k files)."
        ),
    )
    val_fraction: float = Field(
        default=0.1,
        ge=0.0,
        le=0.4,
        description=(
            "Share of each class held out to validate after every epoch (val_loss, the best "
            "checkpoint); 0 validates nothing."
        ),
    )


ImageConfigT = TypeVar("ImageConfigT", bound=ImageClassificationConfig)


@dataclass(frozen=True, eq=False)
class ImageData:
    """What the family's hooks need beyond the datasets; ``image_data(data)`` returns it.

    ``test_images`` are the test images as loaded (in [0, 1], not normalised), to be shown;
    ``test_ids`` and ``train_labels`` index and label the source's images.
    """

    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    normalizer: Normalizer
    train_labels: Array
    test_images: Array
    test_labels: Array
    test_ids: Array

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def image_data(data: PipelineData) -> ImageData:
    """The ``ImageData`` that ``ImageClassificationPipeline.load_data`` put in ``data.extras``."""
    found = data.extras.get("images")
    if not isinstance(found, ImageData):
        raise TypeError("this PipelineData was not loaded by an ImageClassificationPipeline")
    return found


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
        source = self.load_images(config)
        own_test = self.load_test_images(config)
        if own_test is not None and own_test.class_names != source.class_names:
            raise ValueError(
                f"the test images name their classes {own_test.class_names}, the training "
                f"images {source.class_names}; both must use the same classes in the same order"
            )
        split = stratified_split(
            source.labels,
            test_fraction=0.0 if own_test is not None else config.test_fraction,
            val_fraction=config.val_fraction,
            seed=config.seed,
        )
        if own_test is None:
            test_ids = split.test
            test_images, test_labels = source.images[test_ids], source.labels[test_ids]
        else:
            test_ids = np.arange(len(own_test))
            test_images, test_labels = own_test.images, own_test.labels
        normalizer = Normalizer().fit(source.images[split.train])

        def dataset(images: Array, labels: Array) -> TensorDataset:
            return TensorDataset(normalizer.transform(images), labels)

        _, channels, height, width = source.images.shape
        info = ImageData(
            class_names=source.class_names,
            image_shape=(channels, height, width),
            normalizer=normalizer,
            train_labels=source.labels[split.train],
            test_images=test_images,
            test_labels=test_labels,
            test_ids=test_ids,
        )
        val = dataset(source.images[split.val], source.labels[split.val])
        return PipelineData(
            train=dataset(source.images[split.train], info.train_labels),
            val=val if len(val) else None,
            test=dataset(test_images, test_labels),
            summary=_summary(config, source, own_test, normalizer),
            extras={"images": info},
        )

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
            "image_shape": list(info.image_shape),
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
        )

    def report_sections(self, context: RunContext[ImageConfigT]) -> list[ReportSection]:
        info = image_data(context.data)
        details = context.evaluation.details
        run_dir = context.run_dir
        matrix = np.asarray(details["confusion_matrix"])
        normalizer_path = run_dir / NORMALIZER_NAME
        normalizer_path.write_text(json.dumps(info.normalizer.state_dict(), indent=2) + "\n")
        sections = [
            ReportSection("Per-class scores", _per_class_markdown(details)),
            ReportSection(
                "Confusion matrix",
                _confusions_markdown(matrix, info.class_names),
                [confusion_matrix_plot(matrix, info.class_names, run_dir / "confusion_matrix.png")],
            ),
        ]
        mistakes = details["misclassified"]
        if mistakes:
            total = int(matrix.sum() - np.trace(matrix))
            sections.append(
                ReportSection(
                    "Misclassified test images",
                    _mistakes_markdown(len(mistakes), total, int(matrix.sum())),
                    [_mistakes_plot(mistakes, info, run_dir / "misclassified.png")],
                )
            )
        sections.append(ReportSection("Using the model", _usage_markdown(info)))
        return sections

    # ----- prediction (forge_learner.families.image_prediction) -----
    def predict(self, run_dir: Path, request: PredictionRequest) -> dict[str, Any]:
        """Class probabilities for the caller's images, from the run's files alone."""
        config = self.parse_config(saved_config(run_dir))
        details = read_json(run_dir, METRICS_NAME).get("details", {})
        if "image_shape" not in details:
            raise PredictionUnavailable(
                "the run's metrics.json does not record the image shape (an older run): "
                "train the experiment again to predict with it"
            )
        channels, height, width = (int(n) for n in details["image_shape"])
        normalizer = Normalizer.from_state(read_json(run_dir, NORMALIZER_NAME))
        info = ImageData(
            class_names=tuple(details["classes"]),
            image_shape=(channels, height, width),
            normalizer=normalizer,
            train_labels=np.empty(0, dtype=np.int64),
            test_images=np.empty((0, channels, height, width), dtype=np.float32),
            test_labels=np.empty(0, dtype=np.int64),
            test_ids=np.empty(0, dtype=np.int64),
        )
        # create_model reads the shape and classes; no image is loaded to rebuild it.
        data = PipelineData(train=TensorDataset(info.test_images), extras={"images": info})
        saved = image_prediction.SavedClassifier(
            model=self.trained_model(config, data, run_dir),
            normalizer=normalizer,
            class_names=info.class_names,
            image_shape=info.image_shape,
        )
        return image_prediction.classify(saved, request)


# ----- data -----


def _summary(
    config: ImageClassificationConfig,
    images: LabelledImages,
    own_test: LabelledImages | None,
    normalizer: Normalizer,
) -> dict[str, str | int | float]:
    _, channels, height, width = images.images.shape
    counts = np.bincount(images.labels, minlength=len(images.class_names))
    classes = ", ".join(images.class_names)
    if own_test is not None:
        test = f"given by the source: {own_test.description}"
    else:
        test = f"{config.test_fraction:.0%} of each class, drawn with seed {config.seed}"
    assert normalizer.mean is not None and normalizer.std is not None
    return {
        "source": images.description,
        "image size": f"{channels}x{height}x{width} (channels x height x width)",
        "classes": f"{len(images.class_names)}: {classes}",
        "images per class": f"{counts.min()} to {counts.max()}",
        "test set": test,
        "validation set": (
            f"{config.val_fraction:.0%} of each class, drawn with seed {config.seed}"
            if config.val_fraction
            else "none"
        ),
        "normalisation": (
            "per channel, fitted on the training images: mean "
            + ", ".join(f"{m:.4g}" for m in normalizer.mean)
            + ", std "
            + ", ".join(f"{s:.4g}" for s in normalizer.std)
        ),
    }


# ----- scores and baselines -----


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


# ----- report -----


def _per_class_markdown(details: dict[str, Any]) -> str:
    def row(name: str, scores: dict[str, Any]) -> list[str]:
        return [name, *(format_number(scores[key]) for key in ("precision", "recall", "f1"))]

    rows = [[*row(name, s), str(s["support"])] for name, s in details["per_class"].items()]
    total = sum(s["support"] for s in details["per_class"].values())
    rows.append([*row("**macro average**", details["macro_average"]), str(total)])
    rows.append([*row("**weighted average**", details["weighted_average"]), str(total)])
    weakest = min(details["per_class"].items(), key=lambda item: item[1]["f1"])
    return (
        "Precision: of the images predicted as the class, the share that are. Recall: of the "
        "images of the class, the share found. F1: their harmonic mean. Support: test images "
        "of the class. The macro average weighs every class alike; the weighted one by "
        "support.\n\n"
        + markdown_table(["class", "precision", "recall", "F1", "support"], rows)
        + f"\n\nThe weakest class is {weakest[0]} (F1 {format_number(weakest[1]['f1'])})."
    )


def _confusions_markdown(matrix: Array, class_names: Sequence[str]) -> str:
    text = (
        "Rows are the true classes, columns the predicted ones; the diagonal counts the right "
        "answers, and each cell's shade is its share of the row."
    )
    off = matrix - np.diag(np.diag(matrix))
    if off.sum() == 0:
        return text + " Every test image is classified right."
    pairs = np.argwhere(off > 0)
    pairs = pairs[np.argsort(-off[pairs[:, 0], pairs[:, 1]], kind="stable")]
    listed = "; ".join(
        f"{class_names[t]} read as {class_names[p]} {_times(int(off[t, p]))}"
        for t, p in pairs[:CONFUSIONS_LISTED]
    )
    more = len(pairs) - CONFUSIONS_LISTED
    rest = f"; and {more} more pair{'s' if more > 1 else ''}" if more > 0 else ""
    return f"{text} The mistakes by pair, most frequent first: {listed}{rest}."


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _mistakes_markdown(shown: int, wrong: int, total: int) -> str:
    which = f"all {shown} are" if shown == wrong else f"the {shown} the model was surest of are"
    return (
        f"{wrong} of {total} test images are misclassified; {which} shown, surest first, "
        "each titled with its true class, the predicted one and the probability the model "
        "gave that."
    )


def _usage_markdown(info: ImageData) -> str:
    channels, height, width = info.image_shape
    return (
        f"`model.npz` holds the weights (`forge_core.load`) and `{NORMALIZER_NAME}` the "
        "training images' channel statistics (`Normalizer.from_state` in "
        "`forge_learner.classification`). To classify new images, scale them to [0, 1] as "
        f"float32 of shape (N, {channels}, {height}, {width}), normalise them, and take the "
        "highest of the model's scores: score `i` is for the `i`-th class of the per-class "
        "table."
    )


def _mistakes_plot(mistakes: list[dict[str, Any]], info: ImageData, path: Path) -> Path:
    """A grid of the given misclassified test images, each titled true -> predicted (p)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazily: slow to import
    from matplotlib.figure import Figure

    columns = min(6, len(mistakes))
    rows = -(-len(mistakes) // columns)
    figure = Figure(figsize=(1.6 * columns, 1.9 * rows + 0.4), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle("Misclassified test images: true → predicted (probability)")
    for k, mistake in enumerate(mistakes):
        axes = figure.add_subplot(rows, columns, k + 1)
        image = info.test_images[mistake["test_position"]]
        if image.shape[0] == 3:
            axes.imshow(np.transpose(image, (1, 2, 0)), vmin=0.0, vmax=1.0)
        else:
            axes.imshow(image[0], cmap="gray_r", vmin=0.0, vmax=1.0)
        axes.set_title(
            f"{mistake['true']} → {mistake['predicted']} ({mistake['probability']:.2f})",
            fontsize=9,
        )
        axes.set_axis_off()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
