"""Sweep records as the contract's messages (`azuraforge.v1.sweep_pb2`)."""

from __future__ import annotations

from google.protobuf import struct_pb2

from azuraforge.v1 import sweep_pb2
from scheduler.convert import status_to_proto, timestamp
from scheduler.db.models import SweepState
from scheduler.records import RungRecord, SweepRecord, TrialRecord
from scheduler.sweeps.plan import SweepPlan

_STATE_TO_PROTO = {
    SweepState.RUNNING: sweep_pb2.SWEEP_STATUS_RUNNING,
    SweepState.SUCCEEDED: sweep_pb2.SWEEP_STATUS_SUCCEEDED,
    SweepState.FAILED: sweep_pb2.SWEEP_STATUS_FAILED,
    SweepState.CANCELLED: sweep_pb2.SWEEP_STATUS_CANCELLED,
}


def state_to_proto(state: SweepState) -> sweep_pb2.SweepStatus:
    return _STATE_TO_PROTO[state]


def rung_to_proto(rung: RungRecord) -> sweep_pb2.RungResult:
    return sweep_pb2.RungResult(
        rung=rung.rung, epoch=rung.epoch, objective=rung.objective, promoted=rung.promoted
    )


def trial_to_proto(trial: TrialRecord, *, rungs: bool = True) -> sweep_pb2.SweepTrial:
    settings = struct_pb2.Struct()
    settings.update(trial.settings)
    message = sweep_pb2.SweepTrial(
        number=trial.number,
        experiment_id=trial.experiment_id,
        status=status_to_proto(trial.status),
        settings=settings,
        epochs_done=trial.epochs_done,
        rungs=[rung_to_proto(rung) for rung in trial.rungs] if rungs else [],
        stop_reason=trial.stop_reason,
    )
    if trial.objective is not None:
        message.objective = trial.objective
    return message


def best_trial(trials: tuple[TrialRecord, ...], mode: str) -> TrialRecord | None:
    """The trial with the best objective so far (the first drawn among equals); None for none."""
    scored = [trial for trial in trials if trial.objective is not None]
    if not scored:
        return None
    sign = 1.0 if mode == "min" else -1.0
    return min(scored, key=lambda trial: (sign * (trial.objective or 0.0), trial.number))


def sweep_to_proto(sweep: SweepRecord, *, rungs: bool = True) -> sweep_pb2.Sweep:
    plan = SweepPlan.from_json(sweep.spec)
    message = sweep_pb2.Sweep(
        sweep_id=sweep.id,
        spec=plan.to_spec(),
        status=state_to_proto(sweep.status),
        owner=sweep.owner,
        created_at=timestamp(sweep.created_at),
        trials=[trial_to_proto(trial, rungs=rungs) for trial in sweep.trials],
        epochs_spent=sum(trial.epochs_done for trial in sweep.trials),
        epochs_budget=plan.epochs * len(sweep.trials),
        error_message=sweep.error_message,
        last_seq=sweep.last_seq,
    )
    if sweep.finished_at is not None:
        message.finished_at.CopyFrom(timestamp(sweep.finished_at))
    best = best_trial(sweep.trials, plan.mode)
    if best is not None:
        message.best_trial.CopyFrom(trial_to_proto(best))
    return message
