"""The image-classification family on small synthetic images: split, normalisation, scores, report.

The images are 1x6x6 (or 3x6x6) noise with a bright row whose position is the class, so a
linear model learns them in a few epochs and a run takes about a second. The classes have
40, 30 and 20 images, so the majority class is a real baseline and stratification shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.neighbors import NearestCentroid

from forge_core import nn, optim
from forge_learner.classification import Normalizer
from forge_learner.config import ConfigError, parse_config
from forge_learner.families.image_classification import (
    ImageClassificationConfig,
    ImageClassificationPipeline,
    image_data,
)
from forge_learner.learner import Learner
from forge_learner.pipeline import PipelineData
from forge_learner.sources import LabelledImages

CLASSES = ("top", "middle", "bottom")
COUNTS = (40, 30, 20)


def stripes(counts: tuple[int, ...] = COUNTS, channels: int = 1, seed: int = 0) -> LabelledImages:
    """Noise in [0, 0.5] with row 1, 3 or 5 lit: the class is which row."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts).astype(np.int64)
    images = rng.uniform(0.0, 0.5, size=(len(labels), channels, 6, 6)).astype(np.float32)
    images[np.arange(len(labels)), :, 2 * labels + 1, :] = 1.0
    return LabelledImages(images, labels, CLASSES, "synthetic", "rows of light")


class StripesConfig(ImageClassificationConfig):
    channels: int = 1
    own_test: bool = False


class Stripes(ImageClassificationPipeline[StripesConfig]):
    name = "stripes"
    summary = "Tells which row of a small image is lit."
    Config = StripesConfig

    def load_images(self, config: StripesConfig) -> LabelledImages:
        return stripes(channels=config.channels)

    def load_test_images(self, config: StripesConfig) -> LabelledImages | None:
        return stripes((5, 4, 3), config.channels, seed=1) if config.own_test else None

    def create_model(self, config: StripesConfig, data: PipelineData) -> nn.Module:
        channels, height, width = image_data(data).image_shape
        return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, 3))


def load(**config: Any) -> tuple[StripesConfig, PipelineData]:
    cfg = Stripes.parse_config(config)
    return cfg, Stripes().load_data(cfg)


def untrained_evaluation(**config: Any) -> tuple[PipelineData, np.ndarray, Any]:
    """The family's evaluation of an untrained model (its mistakes are many and fixed)."""
    pipeline = Stripes()
    cfg, data = load(**config)
    model = pipeline.create_model(cfg, data)
    learner = Learner(model, pipeline.create_loss(cfg), optim.SGD(model.parameters(), lr=0.1))
    logits = learner.predict(image_data(data).normalizer.transform(image_data(data).test_images))
    return data, logits, pipeline.evaluate(cfg, learner, data)


# ----- data -----


def test_the_split_is_stratified_and_the_normaliser_sees_training_images_only() -> None:
    _, data = load(test_fraction=0.2, val_fraction=0.1)
    info = image_data(data)

    assert data.val is not None and data.test is not None
    assert (len(data.train), len(data.val), len(data.test)) == (63, 9, 18)
    assert np.bincount(info.test_labels).tolist() == [8, 6, 4]
    assert np.bincount(info.train_labels).tolist() == [28, 21, 14]
    # Standardised exactly only if the statistics are the training images' own.
    x_train = data.train.batch(np.arange(len(data.train)))[0]
    assert x_train.dtype == np.float32
    assert x_train.mean() == pytest.approx(0.0, abs=1e-5)
    assert x_train.std() == pytest.approx(1.0, abs=1e-4)
    x_test = data.test.batch(np.arange(len(data.test)))[0]
    assert abs(x_test.mean()) > 1e-3


def test_the_split_follows_the_seed() -> None:
    ids = [image_data(load(seed=seed)[1]).test_ids.tolist() for seed in (0, 0, 1)]

    assert ids[0] == ids[1] != ids[2]


def test_no_validation_set_when_its_fraction_is_zero() -> None:
    _, data = load(val_fraction=0.0)

    assert data.val is None
    assert len(data.train) + len(image_data(data).test_labels) == sum(COUNTS)


def test_a_source_with_its_own_test_split_is_tested_on_it() -> None:
    _, data = load(own_test=True, val_fraction=0.1)
    info = image_data(data)

    assert data.test is not None and len(data.test) == 12
    assert info.test_ids.tolist() == list(range(12))
    assert data.val is not None and len(data.train) + len(data.val) == sum(COUNTS)
    assert str(data.summary["test set"]) == "given by the source: rows of light"


def test_the_data_summary_tells_size_classes_and_split() -> None:
    _, data = load(channels=3)

    assert data.summary["image size"] == "3x6x6 (channels x height x width)"
    assert data.summary["classes"] == "3: top, middle, bottom"
    assert data.summary["images per class"] == "20 to 40"
    assert data.summary["test set"] == "20% of each class, drawn with seed 0"
    assert str(data.summary["normalisation"]).count("std") == 1


def test_test_images_must_name_the_same_classes() -> None:
    class Renamed(Stripes):
        def load_test_images(self, config: StripesConfig) -> LabelledImages | None:
            test = stripes((2, 2, 2))
            return LabelledImages(test.images, test.labels, ("a", "b", "c"), "x", "y")

    with pytest.raises(ValueError, match="same classes in the same order"):
        Renamed().load_data(Stripes.parse_config({}))


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("test_fraction", 0.0, "greater_than"),
        ("test_fraction", 0.6, "less_than_equal"),
        ("val_fraction", -0.1, "greater_than_equal"),
        ("val_fraction", 0.5, "less_than_equal"),
    ],
)
def test_a_fraction_out_of_bounds_is_an_error_naming_it(
    setting: str, value: float, rule: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(ImageClassificationConfig, {setting: value})

    assert [(e.field, e.rule) for e in caught.value.errors] == [(setting, rule)]
    assert caught.value.errors[0].message.startswith(f"{setting}: must be")


# ----- evaluation -----


def test_scores_and_details_agree_with_scikit_learn() -> None:
    data, logits, evaluation = untrained_evaluation()
    info = image_data(data)
    predicted = logits.argmax(axis=1)
    expected = classification_report(info.test_labels, predicted, output_dict=True)

    assert evaluation.split == "test"
    assert evaluation.metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert evaluation.metrics["macro_f1"] == pytest.approx(expected["macro avg"]["f1-score"])
    assert evaluation.metrics["weighted_f1"] == pytest.approx(expected["weighted avg"]["f1-score"])
    assert evaluation.metrics["loss"] > 0
    details = evaluation.details
    assert details["classes"] == list(CLASSES)
    assert details["confusion_matrix"] == sk_confusion_matrix(info.test_labels, predicted).tolist()
    for i, name in enumerate(CLASSES):
        assert details["per_class"][name]["recall"] == pytest.approx(expected[str(i)]["recall"])
        assert details["per_class"][name]["support"] == expected[str(i)]["support"]
    assert json.loads(json.dumps(details)) == details


def test_the_most_confident_mistakes_come_first() -> None:
    data, logits, evaluation = untrained_evaluation()
    info = image_data(data)
    mistakes = evaluation.details["misclassified"]
    wrong = int((logits.argmax(axis=1) != info.test_labels).sum())

    assert 0 < len(mistakes) == min(wrong, 12)
    probabilities = [m["probability"] for m in mistakes]
    assert probabilities == sorted(probabilities, reverse=True)
    first = mistakes[0]
    assert first["true"] == CLASSES[info.test_labels[first["test_position"]]] != first["predicted"]
    assert first["source_index"] == info.test_ids[first["test_position"]]


def test_the_baselines_are_the_majority_class_and_the_nearest_class_mean() -> None:
    data, _, evaluation = untrained_evaluation()
    info = image_data(data)
    x_train = data.train.batch(np.arange(len(data.train)))[0].reshape(len(data.train), -1)
    x_test = info.normalizer.transform(info.test_images).reshape(len(info.test_labels), -1)
    centroid = NearestCentroid().fit(x_train, info.train_labels).predict(x_test)

    majority = evaluation.baselines["majority class"]
    assert majority["accuracy"] == pytest.approx(8 / 18)
    assert majority["macro_recall"] == pytest.approx(1 / 3)
    nearest = evaluation.baselines["nearest class mean"]
    assert nearest["accuracy"] == pytest.approx(float((centroid == info.test_labels).mean()))
    assert set(majority) == set(nearest) == set(evaluation.metrics) - {"loss"}


def test_the_reference_is_a_logistic_regression_on_the_same_pixels() -> None:
    data, _, evaluation = untrained_evaluation()
    info = image_data(data)
    x_train = data.train.batch(np.arange(len(data.train)))[0].reshape(len(data.train), -1)
    x_test = info.normalizer.transform(info.test_images).reshape(len(info.test_labels), -1)
    fitted = LogisticRegression(max_iter=500).fit(x_train, info.train_labels)

    reference = evaluation.references["logistic regression"]
    assert reference["accuracy"] == pytest.approx(fitted.score(x_test, info.test_labels))
    assert set(reference) == set(evaluation.baselines["majority class"])


# ----- a whole run -----


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stripes")
    config = {"epochs": 8, "learning_rate": 0.05, "batch_size": 16, "channels": 3}
    Stripes().run(config, run_dir=directory)
    return directory


def test_a_run_learns_and_beats_the_majority_class(run_dir: Path) -> None:
    saved = json.loads((run_dir / "metrics.json").read_text())

    assert saved["metrics"]["accuracy"] == 1.0
    assert saved["baselines"]["majority class"]["accuracy"] < 0.5
    assert saved["details"]["confusion_matrix"] == [[8, 0, 0], [0, 6, 0], [0, 0, 4]]
    assert saved["details"]["misclassified"] == []
    assert saved["final_epoch"]["val_accuracy"] == 1.0


def test_the_report_has_per_class_scores_and_the_confusion_matrix(run_dir: Path) -> None:
    report = (run_dir / "report.md").read_text()

    assert (
        "| metric | model | majority class | nearest class mean | logistic regression (reference) |"
        in report
    )
    # Both read every stripe right: a tie is no win, and the report does not call it one.
    assert (
        "The network does not beat the logistic regression reference: 100.0 % accuracy "
        "against 100.0 %, on the same test images."
    ) in report
    assert "| accuracy | 1 | 0.44444 |" in report
    assert "## Per-class scores" in report
    assert "| class | precision | recall | F1 | support |" in report
    assert "| middle | 1 | 1 | 1 | 6 |" in report
    assert "| **weighted average** | 1 | 1 | 1 | 18 |" in report
    assert "![Confusion matrix: confusion_matrix](confusion_matrix.png)" in report
    assert "Every test image is classified right." in report
    assert "## Misclassified test images" not in report
    assert "| image size | 3x6x6 (channels x height x width) |" in report
    assert (run_dir / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run_dir / "misclassified.png").exists()


def test_the_saved_normaliser_reproduces_the_training_one(run_dir: Path) -> None:
    state = json.loads((run_dir / "normalizer.json").read_text())
    normalizer = Normalizer.from_state(state)

    assert normalizer.mean is not None and normalizer.mean.shape == (3,)
    assert "- [normalizer.json](normalizer.json)" in (run_dir / "report.md").read_text()


def test_a_run_with_mistakes_plots_them(tmp_path: Path) -> None:
    result = Stripes().run({"epochs": 1, "learning_rate": 1e-4, "channels": 3}, run_dir=tmp_path)
    report = result.report_path.read_text()

    assert result.evaluation.metrics["accuracy"] < 1.0
    assert "## Misclassified test images" in report
    assert "![Misclassified test images: misclassified](misclassified.png)" in report
    assert "The mistakes by pair, most frequent first: " in report
    assert (tmp_path / "misclassified.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tmp_path / "misclassified.png" in result.plot_paths
