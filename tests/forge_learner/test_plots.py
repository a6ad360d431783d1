"""The report's plots: each writes a real PNG, headless, and refuses data it would misdraw."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from forge_learner import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, written: Path) -> tuple[int, int]:
    """Check ``path`` is the PNG written and return its (width, height) in pixels."""
    assert written == path
    content = path.read_bytes()
    assert content[:8] == PNG_SIGNATURE
    assert content[12:16] == b"IHDR"
    width, height = int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    assert width > 200 and height > 200
    assert len(content) > 5_000, "a plot with axes, lines and labels is more than a few bytes"
    return width, height


def test_loss_curves(tmp_path: Path) -> None:
    history = [
        {"epoch": 0, "loss": 1.0, "val_loss": 1.2},
        {"epoch": 1, "loss": 0.5},
        {"epoch": 2, "loss": 0.001, "val_loss": 0.002},
    ]

    assert_png(tmp_path / "loss.png", plots.loss_curves(history, tmp_path / "loss.png"))


def test_loss_curves_without_a_finished_epoch_still_draws(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "loss.png"

    assert_png(path, plots.loss_curves([], path))


def test_prediction_vs_actual_with_baselines_and_dates(tmp_path: Path) -> None:
    days = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
    actual = np.sin(np.arange(len(days)) / 5)
    path = tmp_path / "prediction.png"

    written = plots.prediction_vs_actual(
        actual,
        actual[:, None] + 0.1,
        path,
        baselines={"persistence": np.roll(actual, 1), "mean": np.full(len(days), 0.0)},
        index=days,
        title="Close price",
    )

    assert_png(path, written)


def test_prediction_vs_actual_refuses_series_of_other_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'naive' has 3 values, actual 4"):
        plots.prediction_vs_actual(
            [1, 2, 3, 4], [1, 2, 3, 4], tmp_path / "p.png", baselines={"naive": [1, 2, 3]}
        )


def test_residual_histogram_ignores_non_finite_values(tmp_path: Path) -> None:
    residuals = np.random.default_rng(0).normal(size=500)
    residuals[:3] = [math.nan, math.inf, -math.inf]

    assert_png(tmp_path / "r.png", plots.residual_histogram(residuals, tmp_path / "r.png"))
    assert_png(tmp_path / "e.png", plots.residual_histogram([], tmp_path / "e.png"))


def test_confusion_matrix_grows_with_the_number_of_classes(tmp_path: Path) -> None:
    small = plots.confusion_matrix_plot([[5, 1], [0, 4]], ["no", "yes"], tmp_path / "2.png")
    counts = np.random.default_rng(0).integers(0, 50, size=(10, 10))
    big = plots.confusion_matrix_plot(counts, list(range(10)), tmp_path / "10.png")

    assert assert_png(big, big)[1] > assert_png(small, small)[1]


def test_confusion_matrix_refuses_a_matrix_that_does_not_fit_the_labels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="square with one row and column per label"):
        plots.confusion_matrix_plot([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path / "c.png")


def test_plots_do_not_touch_pyplot(tmp_path: Path) -> None:
    plots.loss_curves([{"epoch": 0, "loss": 1.0}], tmp_path / "loss.png")

    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums(), "a figure leaked into pyplot's state"
