"""The PNG plots of a run's report: losses for every pipeline, and the families' plots.

Plots are drawn on ``matplotlib.figure.Figure`` objects and saved with the Agg renderer, never
through ``pyplot``: pyplot keeps global figure state and may pick a GUI backend, while a trainer
draws headless, possibly from several threads. Every function writes one PNG to ``path`` and
returns ``path``, so a family can hand the result straight to a ``ReportSection``. Inputs are
anything ``numpy.asarray`` takes; series are flattened.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

SIZE = (8.0, 4.5)
DPI = 120
BASELINE_COLORS = ("tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:gray")
"""Baselines' colours: never the model's blue."""


def loss_curves(history: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Training and validation loss per epoch, from a run's per-epoch logs (``RunResult.history``).

    Epochs are shown 1-based, as the progress bar counts them. The axis turns logarithmic when
    the loss falls by more than two orders of magnitude, so the late epochs stay readable.
    """
    figure, axes = _figure("Loss per epoch")
    epochs = [int(logs.get("epoch", i)) + 1 for i, logs in enumerate(history)]
    values: list[float] = []
    for key, label, style in (("loss", "training", "-o"), ("val_loss", "validation", "-s")):
        series = [_number(logs.get(key)) for logs in history]
        if any(math.isfinite(v) for v in series):
            axes.plot(epochs, series, style, label=label, markersize=3)
            values += [v for v in series if math.isfinite(v)]
    if not values:
        _note(axes, "no epoch finished")
    else:
        axes.legend()
        if min(values) > 0 and max(values) / min(values) > 100:
            axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.xaxis.set_major_locator(_integer_ticks())
    return _save(figure, path)


def prediction_vs_actual(
    actual: Any,
    predicted: Any,
    path: str | Path,
    baselines: Mapping[str, Any] | None = None,
    index: Any = None,
    *,
    title: str = "Prediction vs actual",
    ylabel: str = "value",
) -> Path:
    """The actual series, the model's prediction and each baseline's, against ``index``.

    ``index`` (positions by default) may hold dates; every series has one value per index.
    Baselines are drawn dashed and thinner, so the model's line stands out beside them.
    """
    actual_values = _flat(actual)
    x = np.arange(len(actual_values)) if index is None else np.asarray(index)
    series = {"predicted": _flat(predicted), **{k: _flat(v) for k, v in (baselines or {}).items()}}
    for name, values in series.items():
        if len(values) != len(x) or len(actual_values) != len(x):
            raise ValueError(
                f"prediction_vs_actual: {name!r} has {len(values)} values, actual "
                f"{len(actual_values)} and index {len(x)}; every series needs one per index"
            )
    figure, axes = _figure(title)
    axes.plot(x, actual_values, color="black", linewidth=1.6, label="actual")
    axes.plot(x, series.pop("predicted"), color="tab:blue", linewidth=1.4, label="predicted")
    for (name, values), color in zip(series.items(), itertools.cycle(BASELINE_COLORS)):
        axes.plot(x, values, color=color, linestyle="--", linewidth=1.0, label=name)
    axes.set_xlabel("sample" if index is None else "")
    axes.set_ylabel(ylabel)
    axes.legend()
    if np.issubdtype(x.dtype, np.datetime64):
        figure.autofmt_xdate()
    return _save(figure, path)


def residual_histogram(residuals: Any, path: str | Path, *, bins: int = 40) -> Path:
    """The distribution of ``actual - predicted``, with zero and the mean marked.

    A histogram centred off zero shows a biased model; long tails show the errors that the
    RMSE weighs most.
    """
    values = _flat(residuals)
    values = values[np.isfinite(values)]
    figure, axes = _figure("Residuals (actual - predicted)")
    if values.size == 0:
        _note(axes, "no residuals")
        return _save(figure, path)
    axes.hist(values, bins=bins, color="tab:blue", alpha=0.75)
    mean, std = float(values.mean()), float(values.std())
    axes.axvline(0.0, color="black", linewidth=1.0)
    axes.axvline(mean, color="tab:red", linestyle="--", label=f"mean {mean:.4g} (std {std:.4g})")
    axes.set_xlabel("residual")
    axes.set_ylabel("count")
    axes.yaxis.set_major_locator(_integer_ticks())
    axes.legend()
    return _save(figure, path)


def confusion_matrix_plot(matrix: Any, labels: Sequence[Any], path: str | Path) -> Path:
    """Counts of each actual class (rows) predicted as each class (columns), annotated.

    Cells are shaded by the share of their row, so a rare class's mistakes show as clearly as
    a common one's.
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
        raise ValueError(
            f"confusion_matrix_plot: the matrix has shape {counts.shape} for {len(labels)} "
            "labels; it must be square with one row and column per label"
        )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = max(4.5, 0.5 * len(labels) + 2.0)
    figure, axes = _figure("Confusion matrix", size=(side + 1.0, side))
    axes.grid(False)
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the actual class")
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels])
    axes.set_yticks(ticks, [str(label) for label in labels])
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    if len(labels) <= 30:
        for row in range(len(labels)):
            for col in range(len(labels)):
                axes.text(
                    col,
                    row,
                    f"{counts[row, col]:g}",
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if shares[row, col] > 0.5 else "black",
                )
    return _save(figure, path)


def _figure(title: str, size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    # Imported here: matplotlib takes most of a second to import, and listing pipelines
    # (which imports every family that imports this module) should not wait for it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _integer_ticks() -> Locator:
    from matplotlib.ticker import MaxNLocator  # lazily, as in _figure

    return MaxNLocator(integer=True)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _note(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="gray")


def _flat(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _number(value: Any) -> float:
    """A logged value as a float; NaN for what is not a number (an epoch that did not log it)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if is_number else math.nan
