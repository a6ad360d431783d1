"""The image classifier's evidence: with its defaults it reads scikit-learn's digits at >= 97 %.

The defaults run is the real app, exactly as `forge run image_classifier` runs it (it takes some
ten seconds of CPU), and every test of what a run leaves reads that one run. MNIST is tested
end to end on small files in the real IDX format that the test writes, for one epoch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import forge_core
from apps.image_classifier.pipeline import ImageClassifier, ImageClassifierConfig, digit_cnn
from apps.image_classifier.sources import MNIST_FILES, MnistSplit
from forge_cli.main import main
from forge_core import nn
from forge_learner.config import ConfigError, parse_config_strings
from forge_learner.pipeline import RunResult
from forge_learner.registry import get_pipeline
from tests.apps.image_classifier.idx_files import mnist_like, write_idx

DIGITS = [str(digit) for digit in range(10)]


@pytest.fixture(scope="module")
def defaults_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return ImageClassifier().run({}, run_dir=tmp_path_factory.mktemp("digits"))


def saved_metrics(result: RunResult) -> dict[str, Any]:
    metrics: dict[str, Any] = json.loads(result.metrics_path.read_text())
    return metrics


# ----- the evidence bar -----


def test_the_defaults_reach_97_percent_on_held_out_digits(defaults_run: RunResult) -> None:
    metrics = defaults_run.evaluation.metrics
    baselines = defaults_run.evaluation.baselines

    assert defaults_run.status == "completed"
    assert defaults_run.evaluation.split == "test"
    assert metrics["accuracy"] >= 0.97, f"test accuracy {metrics['accuracy']:.2%}"
    assert metrics["macro_f1"] >= 0.97
    assert baselines["majority class"]["accuracy"] == pytest.approx(0.1, abs=0.01)
    assert metrics["accuracy"] > baselines["nearest class mean"]["accuracy"] + 0.05


def test_metrics_json_holds_per_class_scores_and_the_confusion_matrix(
    defaults_run: RunResult,
) -> None:
    saved = saved_metrics(defaults_run)
    details = saved["details"]
    matrix = np.array(details["confusion_matrix"])

    assert saved["metrics"]["accuracy"] == defaults_run.evaluation.metrics["accuracy"]
    assert details["classes"] == DIGITS
    assert list(details["per_class"]) == DIGITS
    assert set(details["per_class"]["7"]) == {"precision", "recall", "f1", "support"}
    assert matrix.shape == (10, 10)
    assert matrix.sum() == 359 and np.trace(matrix) / 359 == saved["metrics"]["accuracy"]
    assert [int(row.sum()) for row in matrix] == [
        details["per_class"][d]["support"] for d in DIGITS
    ]
    assert set(saved["baselines"]) == {"majority class", "nearest class mean"}


def test_the_report_shows_the_data_the_scores_and_the_plots(defaults_run: RunResult) -> None:
    report = defaults_run.report_path.read_text(encoding="utf-8")
    run_dir = defaults_run.run_dir

    assert "| source | 1797 handwritten digits, one per row: an 8x8 image" in report
    assert "UCI Optical Recognition of Handwritten Digits data set" in report
    assert "| image size | 1x8x8 (channels x height x width) |" in report
    assert "| classes | 10: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 |" in report
    assert "| training samples | 1259 |" in report
    assert "| validation samples | 179 |" in report
    assert "| test samples | 359 |" in report
    assert "| metric | model | majority class | nearest class mean |" in report
    assert "## Per-class scores" in report
    for digit in DIGITS:
        assert f"\n| {digit} | " in report
    assert "| **macro average** |" in report
    assert "![Confusion matrix: confusion_matrix](confusion_matrix.png)" in report
    for name in ["loss.png", "confusion_matrix.png"]:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if defaults_run.evaluation.metrics["accuracy"] < 1.0:
        assert "![Misclassified test images: misclassified](misclassified.png)" in report
        assert (run_dir / "misclassified.png").is_file()


def test_the_saved_weights_load_into_the_same_network(defaults_run: RunResult) -> None:
    config = ImageClassifierConfig()
    model = digit_cnn(1, (8, 8), config.channels, config.dropout, 10)

    model.load_state_dict(forge_core.load(defaults_run.weights_path))
    assert (defaults_run.run_dir / "checkpoints" / "best.npz").is_file()
    assert (defaults_run.run_dir / "normalizer.json").is_file()


# ----- MNIST from IDX files -----


def write_mnist(directory: Path, train: int = 40, test: int = 20) -> Path:
    directory.mkdir()
    counts: dict[MnistSplit, int] = {"train": train, "test": test}
    for split, count in counts.items():
        images, labels = mnist_like(count, seed=count)
        labels[:10] = np.arange(10)  # every digit in every split
        image_name, label_name = MNIST_FILES[split]
        write_idx(directory / f"{image_name}.gz", images)
        write_idx(directory / label_name, labels)
    return directory


def test_mnist_trains_end_to_end_and_tests_on_its_own_test_files(tmp_path: Path) -> None:
    mnist = write_mnist(tmp_path / "mnist")
    config = {"source": "mnist", "mnist_dir": str(mnist), "epochs": 1, "channels": [4, 8]}

    result = ImageClassifier().run(config, run_dir=tmp_path / "run")

    saved = saved_metrics(result)
    assert (result.status, result.epochs_run) == ("completed", 1)
    assert np.array(saved["details"]["confusion_matrix"]).sum() == 20
    report = result.report_path.read_text(encoding="utf-8")
    assert "| image size | 1x28x28 (channels x height x width) |" in report
    assert "| test samples | 20 |" in report
    assert "| training samples | 30 |" in report
    assert "| test set | given by the source: MNIST test split: 20 handwritten digits" in report
    state = forge_core.load(result.weights_path)
    assert state["3.weight"].shape == (8, 4, 3, 3)
    assert state["8.weight"].shape == (10, 8 * 7 * 7)


def test_a_missing_mnist_folder_says_what_to_download(tmp_path: Path) -> None:
    config = {"source": "mnist", "mnist_dir": str(tmp_path), "epochs": 1}

    with pytest.raises(FileNotFoundError, match="Download MNIST's four IDX files"):
        ImageClassifier().run(config, run_dir=tmp_path / "run")


# ----- the model -----


@pytest.mark.parametrize(
    ("size", "channels", "pools", "features"),
    [
        ((8, 8), (16, 32), 1, 32 * 4 * 4),
        ((28, 28), (16, 32), 2, 32 * 7 * 7),
        ((28, 28), (8,), 1, 8 * 14 * 14),
    ],
)
def test_large_images_are_pooled_early_and_small_ones_late(
    size: tuple[int, int], channels: tuple[int, ...], pools: int, features: int
) -> None:
    model = digit_cnn(1, size, channels, 0.25, 10)

    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == pools
    assert [m.in_features for m in model.modules() if isinstance(m, nn.Linear)] == [features]
    x = forge_core.Tensor(np.zeros((2, 1, *size), dtype=np.float32))
    assert model(x).shape == (2, 10)


# ----- configuration -----


def test_mnist_without_a_folder_is_an_error_naming_mnist_dir() -> None:
    with pytest.raises(ConfigError) as caught:
        ImageClassifier.parse_config({"source": "mnist"})

    [error] = caught.value.errors
    assert (error.field, error.rule) == ("mnist_dir", "missing_for_source")
    assert error.message.startswith("mnist_dir: is required when source is mnist")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"test_fraction": "0.9"}, "test_fraction"),
        ({"val_fraction": "-0.1"}, "val_fraction"),
        ({"source": "cifar"}, "source"),
        ({"channels": "[16, 0]"}, "channels.1"),
        ({"channels": "[]"}, "channels"),
        ({"dropout": "1"}, "dropout"),
    ],
)
def test_bad_settings_are_errors_naming_the_field(settings: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_strings(ImageClassifierConfig, settings)

    assert [error.field for error in caught.value.errors] == [field]


def test_settings_from_the_command_line_parse() -> None:
    config = parse_config_strings(
        ImageClassifierConfig,
        {"source": "mnist", "mnist_dir": "~/mnist", "channels": "[8,16,32]", "dropout": "0"},
    )

    assert (config.source, config.mnist_dir, config.channels) == ("mnist", "~/mnist", (8, 16, 32))


def test_the_app_is_registered_and_the_cli_refuses_a_bad_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert get_pipeline("image_classifier") is ImageClassifier

    assert main(["run", "image_classifier", "--set", "source=mnist"]) == 2
    assert "mnist_dir: is required when source is mnist" in capsys.readouterr().err
