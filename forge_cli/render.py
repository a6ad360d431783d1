"""How the client commands show experiments: status names, times, metrics beside baselines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from google.protobuf.timestamp_pb2 import Timestamp

from azuraforge.v1 import experiment_pb2
from forge_cli.columns import align
from forge_learner.report import format_number

STATUS_PREFIX = "EXPERIMENT_STATUS_"
# The statuses as users type them, in their order of life.
STATUSES = tuple(
    name.removeprefix(STATUS_PREFIX).lower()
    for name in (value.name for value in experiment_pb2.ExperimentStatus.DESCRIPTOR.values)
    if not name.endswith("UNSPECIFIED")
)


def status_name(status: experiment_pb2.ExperimentStatus) -> str:
    """`SUCCEEDED` for EXPERIMENT_STATUS_SUCCEEDED: the word users see everywhere."""
    return experiment_pb2.ExperimentStatus.Name(status).removeprefix(STATUS_PREFIX)


def status_value(name: str) -> experiment_pb2.ExperimentStatus:
    """The enum value of `succeeded` or `SUCCEEDED`; ValueError names the choices."""
    try:
        value = experiment_pb2.ExperimentStatus.Value(STATUS_PREFIX + name.strip().upper())
    except ValueError:
        raise ValueError(f"unknown status {name!r}; use one of {', '.join(STATUSES)}") from None
    return cast(experiment_pb2.ExperimentStatus, value)


def timestamp(value: Timestamp) -> str:
    """`2026-05-01 12:30:05` (UTC), or `-` for a time not set yet."""
    if not value.seconds and not value.nanos:
        return "-"
    return value.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


def metrics_table(
    metrics: Mapping[str, float],
    baselines: Mapping[str, experiment_pb2.Scores],
    references: Mapping[str, experiment_pb2.Scores],
) -> list[str]:
    """The model's metrics with each baseline's and reference model's beside them, as lines.

    A reference model's column says so (`linear AR (reference)`), since a reference is a point
    of comparison rather than a bar to clear as a baseline is.
    """
    if not metrics:
        return []
    columns: dict[str, Mapping[str, float]] = {"model": metrics}
    columns.update({name: baselines[name].values for name in sorted(baselines)})
    columns.update({f"{name} (reference)": references[name].values for name in sorted(references)})
    rows = [["metric", *columns]]
    for name in sorted(metrics):
        rows.append([name, *(_cell(scores.get(name)) for scores in columns.values())])
    return align(rows)


def _cell(value: float | None) -> str:
    return "-" if value is None else format_number(value)
