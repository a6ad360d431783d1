"""Which status an experiment may move to from which: the one rule every status change keeps."""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.db.models import ExperimentStatus

ALLOWED_TRANSITIONS: Mapping[ExperimentStatus, frozenset[ExperimentStatus]] = {
    ExperimentStatus.PENDING: frozenset({ExperimentStatus.RUNNING, ExperimentStatus.CANCELLED}),
    ExperimentStatus.RUNNING: frozenset(
        {
            ExperimentStatus.SUCCEEDED,
            ExperimentStatus.FAILED,
            ExperimentStatus.CANCELLED,
            ExperimentStatus.STOPPED_EARLY,
        }
    ),
    ExperimentStatus.SUCCEEDED: frozenset(),
    ExperimentStatus.FAILED: frozenset(),
    ExperimentStatus.CANCELLED: frozenset(),
    ExperimentStatus.STOPPED_EARLY: frozenset(),
}
