"""The scheduler's repository: every read and write of the database, with the rules they keep.

One `Store` serves the whole scheduler. Its methods are synchronous and each runs one short
transaction, so the asyncio gRPC servicers call them through `asyncio.to_thread`; what they
return are frozen records (`scheduler.records`), never live ORM objects.

The rules kept here rather than in the servicers:

- Scoping. A method given a `caller` shows a user only their own experiments, and an experiment
  of someone else's is `NotFound`, exactly as one that does not exist, so that ids cannot be
  probed. Admins see everything. `caller=None` is the scheduler itself (placing work, storing a
  trainer's events) and sees everything too; it must be passed explicitly.
- Status. An experiment moves PENDING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED, or
  PENDING -> CANCELLED (`ALLOWED_TRANSITIONS`); anything else raises `IllegalTransition`. The one
  way back is `requeue`, for a placement that failed or a run that was lost.
- Attempts. Each claim opens an attempt (the trainer, the checkpoint's epoch it starts from);
  a requeue of a lost run closes it with the reason, a refused placement forgets it, and the
  experiment's end closes the last one. Only the latest checkpoint of an experiment is kept.
- Event numbering. `append_event` numbers events 1, 2, 3, ... per experiment under a lock on
  the experiment's row, so concurrent appends never share or skip a number.
- Claiming. `claim_pending` hands each pending experiment to exactly one caller: with
  `SELECT ... FOR UPDATE SKIP LOCKED` on Postgres, so several schedulers can share one database,
  and with SQLite's single writer there. The claiming scheduler holds a lease on the running
  experiment, renewed while it follows the run (`renew_leases`); once a lease expires, or its
  holder released it, another scheduler adopts the run (`adopt_runs`), the same way.
- Stream positions. Each item of a trainer's stream that is stored (an event, a whole file, a
  whole checkpoint) records its position in the same transaction, so `stream_position` is
  exactly what a scheduler that re-attaches asks to resume after, and what heartbeats
  acknowledge to the trainer.

Writes run in transactions opened with the engine's `WRITE` option (see `scheduler.db.engine`),
which on SQLite take the write lock up front; on Postgres the row locks are explicit.
"""

from __future__ import annotations

from scheduler.store.artifacts import DEFAULT_CONTENT_TYPE, Artifacts
from scheduler.store.errors import (
    AlreadyExists,
    IllegalTransition,
    InvalidPageToken,
    NotFound,
    SchedulerConflict,
    StoreError,
)
from scheduler.store.events import DEFAULT_EVENT_BATCH, Events
from scheduler.store.experiments import Experiments
from scheduler.store.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE_TOKEN_LENGTH
from scheduler.store.pipelines import Pipelines
from scheduler.store.schedulers import Schedulers
from scheduler.store.session import utc_now
from scheduler.store.sweeps import Sweeps
from scheduler.store.trainers import HeartbeatAnswer, Trainers
from scheduler.store.transitions import ALLOWED_TRANSITIONS
from scheduler.store.users import Users

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_CONTENT_TYPE",
    "DEFAULT_EVENT_BATCH",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_PAGE_TOKEN_LENGTH",
    "AlreadyExists",
    "HeartbeatAnswer",
    "IllegalTransition",
    "InvalidPageToken",
    "NotFound",
    "SchedulerConflict",
    "Store",
    "StoreError",
    "utc_now",
]


class Store(Users, Experiments, Events, Artifacts, Trainers, Pipelines, Schedulers, Sweeps):
    """Typed, synchronous access to the scheduler's database; see the module docstring.

    Each concept's methods live in its own repository (`scheduler.store.users`, `.experiments`,
    `.events`, `.artifacts`, `.trainers`, `.pipelines`, `.schedulers`, `.sweeps`); they share
    one session factory and one clock (`scheduler.store.session`).
    """
