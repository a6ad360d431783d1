"""The image-classification family's report sections: per-class scores, the confusion matrix,
the most confident mistakes, the reference model, and how to reuse the model."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forge_learner.pipeline import RunContext
from forge_learner.plots import confusion_matrix_plot
from forge_learner.report import ReportSection, format_number, markdown_table

from .preparation import ImageData, image_data

__all__ = ["NORMALIZER_NAME", "sections"]

Array = np.ndarray

NORMALIZER_NAME = "normalizer.json"
CONFUSIONS_LISTED = 5
"""How many (true, predicted) pairs the confusion matrix section names."""


def sections(context: RunContext[Any]) -> list[ReportSection]:
    """Per-class scores, the confusion matrix, the mistakes, the reference, and reuse."""
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
    references = context.evaluation.references
    if references:
        sections.append(
            ReportSection(
                "Reference model", _reference_markdown(context.evaluation.metrics, references)
            )
        )
    sections.append(ReportSection("Using the model", _usage_markdown(info)))
    return sections


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


def _reference_markdown(
    model: Mapping[str, float], references: Mapping[str, Mapping[str, float]]
) -> str:
    sentences = []
    for name, scores in references.items():
        ours, theirs = model["accuracy"], scores["accuracy"]
        verdict = "beats" if ours > theirs else "does not beat"
        sentences.append(
            f"The network {verdict} the {name} reference: {100 * ours:.1f} % accuracy against "
            f"{100 * theirs:.1f} %, on the same test images."
        )
    return (
        "A reference model is a simple classifier fitted on the same normalised training "
        "pixels: what the network's convolutions have to improve on to be worth their cost. "
        + " ".join(sentences)
    )
