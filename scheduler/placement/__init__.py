"""Placing experiments on trainers and following each run to its end.

`Placement` is the scheduler's background worker. It wakes when something may have freed or
needed a slot (a submission, a trainer registering or heartbeating, a run ending) and every
`POLL_S` anyway, claims the oldest pending experiments (`Store.claim_pending`: each goes to
exactly one scheduler) and hands each to the live trainer with the most free slots that runs
its pipeline, so that work spreads over the cluster.

Each placed experiment is a `Run`: a task that calls `TrainerService.Train` with the cluster
token, and with the experiment's latest checkpoint when it has one, and consumes the stream.
Every event is stored and published (`scheduler.recorder`); artifact chunks are put together
and each whole file is stored, then announced with an `ArtifactStored` event; checkpoint chunks
are put together and a whole, verified checkpoint replaces the experiment's previous one;
`ExperimentFinished` ends the experiment with the trainer's verdict.

How a run can go wrong, and what becomes of the experiment then, is told in
`scheduler.placement.following`; cancelling, in `scheduler.placement.cancelling`.

A scheduler that stops or dies leaves its running experiments RUNNING, and their runs go on:
a trainer keeps training for a grace period when its stream goes away, and keeps what the run
sends until a scheduler stored it. Each running experiment is leased to the scheduler that
follows it, and the lease is renewed with the scheduler's heartbeat (`HEARTBEAT_S`). A
scheduler adopts the runs nobody follows (`Store.adopt_runs`: its own after a restart, at once;
another's once that lease expires) and attaches to each with `TrainerService.Attach`, after the
last stream position it stored: nothing is lost, nothing stored twice, and a log line says so.
A run whose trainer is gone, or no longer has it, is placed again from its latest checkpoint,
without spending a restart (the scheduler cannot tell a trainer stopped on purpose from one that
died while it was away). Several schedulers may share one Postgres database this way; SQLite
serves one scheduler, and a second one on the same file refuses to start.

Its parts: `worker` (the loop, placing, adopting), `choice` (which trainer, a pure function),
`following` (a run's stream), `assembly` (files and checkpoints from chunks), `cancelling`, and
`runs` (what a run is).
"""

from __future__ import annotations

from scheduler.placement.assembly import ArtifactAssembler, CheckpointAssembler
from scheduler.placement.cancelling import CANCEL_FILES_S, CANCEL_STATUS_S
from scheduler.placement.choice import choose_trainer, free_slots
from scheduler.placement.following import REFUSAL_COOLDOWN_S, RETRY_ELSEWHERE
from scheduler.placement.runs import Ending, Run
from scheduler.placement.worker import HEARTBEAT_S, POLL_S, TRAINER_RETRY_S, Placement

__all__ = [
    "CANCEL_FILES_S",
    "CANCEL_STATUS_S",
    "HEARTBEAT_S",
    "POLL_S",
    "REFUSAL_COOLDOWN_S",
    "RETRY_ELSEWHERE",
    "TRAINER_RETRY_S",
    "ArtifactAssembler",
    "CheckpointAssembler",
    "Ending",
    "Placement",
    "Run",
    "choose_trainer",
    "free_slots",
]
