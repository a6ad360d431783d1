"""An experiment's status in the words people use: `running` or `RUNNING` for
`EXPERIMENT_STATUS_RUNNING`, shared by the CLI and the gateway so both read and write them alike.
"""

from __future__ import annotations

from typing import cast

from azuraforge.v1 import experiment_pb2

Status = experiment_pb2.ExperimentStatus

PREFIX = "EXPERIMENT_STATUS_"
# The statuses as users type them, in their order of life.
NAMES = tuple(
    name.removeprefix(PREFIX).lower()
    for name in (value.name for value in experiment_pb2.ExperimentStatus.DESCRIPTOR.values)
    if not name.endswith("UNSPECIFIED")
)


def status_name(status: Status) -> str:
    """`SUCCEEDED` for EXPERIMENT_STATUS_SUCCEEDED: the word users see everywhere."""
    return experiment_pb2.ExperimentStatus.Name(status).removeprefix(PREFIX)


def parse_status(text: str) -> Status:
    """The status `text` names: `succeeded`, `SUCCEEDED` or `EXPERIMENT_STATUS_SUCCEEDED`, with
    spaces around it; ValueError names the choices."""
    word = text.strip().upper().removeprefix(PREFIX)
    if word.lower() not in NAMES:
        raise ValueError(f"unknown status {text!r}; use one of {', '.join(NAMES)}")
    return cast(Status, experiment_pb2.ExperimentStatus.Value(PREFIX + word))
