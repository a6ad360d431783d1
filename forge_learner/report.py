"""``report.md``: what a run did and how well, readable in a terminal, on GitHub and in the web UI.

The report is Markdown with its plots beside it, referenced by relative paths, so the run
folder can be moved, zipped or served as it is. Its order answers a reader's questions in turn:
did it finish and with what settings, on what data, how good is the model next to the simple
baselines it must beat, how did training go, what the pipeline's family adds (its
``ReportSection``\\ s), and which files the run left.

``RunReport`` holds everything the writer needs as plain values, so this module knows nothing
of pipelines or learners; ``markdown_table`` is public for families that build their own tables.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPORT_NAME = "report.md"


@dataclass(frozen=True)
class ReportSection:
    """A part of the report a family adds: a heading, Markdown under it, then its images.

    ``images`` are PNG files inside the run folder (as ``forge_learner.plots`` writes them,
    e.g. ``context.run_dir / "prediction.png"``); the report links them by their path
    relative to the folder.
    """

    title: str
    markdown: str = ""
    images: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class RunReport:
    """The facts a report states; ``BasePipeline.run`` fills it in."""

    pipeline: str
    summary: str
    status: str
    stop_reason: str | None
    started_at: datetime
    duration_s: float
    engine_version: str
    config: Mapping[str, Any]
    data_summary: Mapping[str, str | int | float]
    split: str
    metrics: Mapping[str, float]
    baselines: Mapping[str, Mapping[str, float]]
    epochs_run: int
    epochs: int
    final_logs: Mapping[str, Any]
    loss_plot: Path | None
    sections: Sequence[ReportSection]
    files: Sequence[Path]
    references: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


def write_report(report: RunReport, run_dir: Path) -> Path:
    """Write ``run_dir/report.md`` and return its path."""
    path = run_dir / REPORT_NAME
    path.write_text(render_report(report, run_dir), encoding="utf-8")
    return path


def render_report(report: RunReport, run_dir: Path) -> str:
    """The report's Markdown; paths are written relative to ``run_dir``."""
    parts = [
        f"# Run report: {report.pipeline}",
        f"> {report.summary}" if report.summary else "",
        _overview(report),
        "## Configuration",
        markdown_table(["setting", "value"], [[k, _value(v)] for k, v in report.config.items()]),
        "## Data",
        markdown_table(["", "value"], [[k, _value(v)] for k, v in report.data_summary.items()]),
        "## Metrics",
        _metrics(report),
        "## Training",
        _training(report, run_dir),
    ]
    for section in report.sections:
        parts.append(f"## {section.title}")
        parts.append(section.markdown.strip())
        parts.extend(
            _image(path, f"{section.title}: {Path(path).stem}", run_dir) for path in section.images
        )
    parts.append("## Files")
    parts.append("\n".join(f"- [{_link(p, run_dir)}]({_link(p, run_dir)})" for p in report.files))
    return "\n\n".join(part for part in parts if part) + "\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; ``|`` and line breaks in cells are escaped."""
    lines = [
        _row(headers),
        "|" + "|".join(" --- " for _ in headers) + "|",
        *(_row(row) for row in rows),
    ]
    return "\n".join(lines)


def format_number(value: Any) -> str:
    """Five significant digits: enough to tell a model from a close baseline."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.5g}" if isinstance(value, float) else str(value)


def _overview(report: RunReport) -> str:
    status = report.status
    if report.status != "completed":
        status = f"**{report.status}**"
    if report.stop_reason:
        status += f": {report.stop_reason}"
    rows = [
        ["status", status],
        ["started", report.started_at.isoformat(timespec="seconds")],
        ["duration", f"{report.duration_s:.1f} s"],
        ["epochs run", f"{report.epochs_run} of {report.epochs}"],
        ["engine", f"forge_core {report.engine_version}"],
    ]
    return markdown_table(["run", ""], rows)


def _metrics(report: RunReport) -> str:
    if not report.metrics and not report.baselines:
        return "The pipeline has no evaluation data, so there are no test metrics."
    names = list(report.metrics)
    competitors = [*report.baselines.values(), *report.references.values()]
    for scores in competitors:
        names += [name for name in scores if name not in names]
    columns = ["model", *report.baselines, *(f"{name} (reference)" for name in report.references)]
    scores_by_column = [report.metrics, *competitors]
    rows = [[name, *(_score(scores.get(name)) for scores in scores_by_column)] for name in names]
    lead = f"On the {report.split} set"
    if report.baselines:
        lead += ", beside the baselines: simple predictors that the model has to beat"
    if report.references:
        lead += (
            "; and beside the reference models, fitted on the training data only, that show "
            "what the network's extra cost buys"
        )
    note = ""
    if report.status != "completed":
        note = (
            f"\n\nThe run was {report.status} after {report.epochs_run} of {report.epochs} "
            "epochs: these are the numbers of the model as it stood then."
        )
    return f"{lead}.\n\n{markdown_table(['metric', *columns], rows)}{note}"


def _training(report: RunReport, run_dir: Path) -> str:
    final = ", ".join(
        f"{key} {format_number(value)}"
        for key, value in report.final_logs.items()
        if key != "epoch" and isinstance(value, int | float)
    )
    parts = [f"Last epoch: {final}." if final else "No epoch finished."]
    if report.loss_plot is not None:
        parts.append(_image(report.loss_plot, "Loss per epoch", run_dir))
    return "\n\n".join(parts)


def _image(path: Path, title: str, run_dir: Path) -> str:
    return f"![{title}]({_link(path, run_dir)})"


def _link(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder, with forward slashes as Markdown wants.

    ``path`` is absolute or relative to the working directory, as ``run_dir / "plot.png"`` is.
    """
    return Path(os.path.relpath(Path(path).resolve(), run_dir.resolve())).as_posix()


def _score(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def _value(value: Any) -> str:
    if isinstance(value, list | dict | tuple):
        return json.dumps(value)
    return format_number(value)


def _row(cells: Sequence[Any]) -> str:
    text = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in cells]
    return "| " + " | ".join(text) + " |"
