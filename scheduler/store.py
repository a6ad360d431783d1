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

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.db.engine import WRITE
from scheduler.db.models import (
    ARTIFACT_NAME_LENGTH,
    TRAINER_ID_LENGTH,
    AddressLoginFailure,
    Artifact,
    Checkpoint,
    Event,
    Experiment,
    ExperimentStatus,
    LoginFailure,
    Role,
    Scheduler,
    Trainer,
    User,
)
from scheduler.quoting import quote
from scheduler.records import (
    ArtifactRecord,
    AttemptRecord,
    Caller,
    Credentials,
    ExperimentPage,
    ExperimentRecord,
    StatusChange,
    TrainerRecord,
    UserRecord,
)
from scheduler.throttle import ZERO, LoginThrottle, LoginWait, Reservation

ALLOWED_TRANSITIONS: Mapping[ExperimentStatus, frozenset[ExperimentStatus]] = {
    ExperimentStatus.PENDING: frozenset({ExperimentStatus.RUNNING, ExperimentStatus.CANCELLED}),
    ExperimentStatus.RUNNING: frozenset(
        {ExperimentStatus.SUCCEEDED, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED}
    ),
    ExperimentStatus.SUCCEEDED: frozenset(),
    ExperimentStatus.FAILED: frozenset(),
    ExperimentStatus.CANCELLED: frozenset(),
}
# ListExperimentsRequest.page_size: 0 means the default, more than the maximum means it.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
DEFAULT_EVENT_BATCH = 1000
# The tokens handed out are about 110 characters (a time and an id, as base64 JSON).
MAX_PAGE_TOKEN_LENGTH = 512
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# The two tables of failed logins, which share their columns but for the key.
Failures = TypeVar("Failures", LoginFailure, AddressLoginFailure)


class StoreError(Exception):
    """Something the caller asked for cannot be done; the message says why."""


class NotFound(StoreError):
    """No such thing, or none the caller may see."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {quote(key)} not found")
        self.kind = kind
        self.key = key


class AlreadyExists(StoreError):
    """A user with that name exists already."""


class IllegalTransition(StoreError):
    """The experiment's status may not change to the one asked for."""

    def __init__(self, experiment_id: str, current: ExperimentStatus, target: ExperimentStatus):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current]))
        why = f"from {current} it may become {allowed}" if allowed else "it is over for good"
        super().__init__(
            f"experiment {experiment_id!r} is {current} and cannot become {target} ({why})"
        )
        self.experiment_id = experiment_id
        self.current = current
        self.target = target


class SchedulerConflict(StoreError):
    """A second scheduler on a SQLite database, which serves one at a time."""


@dataclass(frozen=True)
class HeartbeatAnswer:
    """What a trainer's heartbeat learns: whether it is known, and what to do with its runs."""

    registered: bool
    acknowledged: dict[str, int] = field(default_factory=dict)
    forget: tuple[str, ...] = ()


class InvalidPageToken(StoreError, ValueError):
    """The page token was not one this store handed out."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Typed, synchronous access to the scheduler's database; see the module docstring."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    def now(self) -> datetime:
        """The store's clock: every time it writes comes from here (tests set it)."""
        return self._clock()

    # Users

    def create_user(self, username: str, password_hash: str, role: Role = Role.USER) -> UserRecord:
        """Add an account; `AlreadyExists` if the name is taken. Hash with `scheduler.auth`."""
        user = User(
            id=_new_id(),
            username=username,
            password_hash=password_hash,
            role=role,
            created_at=self.now(),
        )
        try:
            with self._writing() as session:
                if session.scalar(select(User.id).where(User.username == username)):
                    raise AlreadyExists(f"a user named {username!r} exists already")
                session.add(user)
        except IntegrityError:
            # Created by another scheduler between our check and our insert.
            raise AlreadyExists(f"a user named {username!r} exists already") from None
        return _user_record(user)

    def get_user(self, user_id: str) -> UserRecord:
        with self._reading() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("user", user_id)
            return _user_record(user)

    def get_user_by_name(self, username: str) -> UserRecord:
        with self._reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound("user", username)
            return _user_record(user)

    def find_credentials(self, username: str) -> Credentials | None:
        """The user and their password hash, or None if there is no such user."""
        with self._reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                return None
            return Credentials(_user_record(user), user.password_hash)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._writing() as session:
            result = session.execute(
                update(User).where(User.id == user_id).values(password_hash=password_hash)
            )
            if _rowcount(result) == 0:
                raise NotFound("user", user_id)

    def count_users(self, role: Role | None = None) -> int:
        with self._reading() as session:
            query = select(func.count()).select_from(User)
            if role is not None:
                query = query.where(User.role == role)
            return session.scalar(query) or 0

    # Login throttling (the policy is in scheduler.throttle)

    def reserve_login_attempt(
        self, username: str | None, address: str, throttle: LoginThrottle
    ) -> LoginWait | Reservation:
        """Count a login attempt as failed, for `address` and for `username` from it, unless it
        must wait.

        Returns how long the attempt must still wait for each limit, with nothing recorded, or
        the `Reservation` of an attempt already counted as a failure, which
        `forgive_login_attempt` takes back if the password turns out right. `username` None (a
        name too long to be anyone's) counts for the address alone.
        """
        now = self.now()
        with self._writing() as session:
            # The address's row first, then the account's, in every attempt: no deadlock.
            by_address = self._locked_failures(
                session, AddressLoginFailure, {"address": address}, now
            )
            by_account = None
            if username is not None:
                by_account = self._locked_failures(
                    session, LoginFailure, {"username": username, "address": address}, now
                )
            wait = LoginWait(
                account=ZERO
                if by_account is None
                else throttle.account.wait(by_account.failures, by_account.last_failure_at, now),
                address=throttle.address.wait(by_address.failures, by_address.last_failure_at, now),
            )
            if wait.longest > ZERO:
                return wait
            reservation = Reservation(at=now, address_failure_at=by_address.last_failure_at)
            for row, policy in ((by_address, throttle.address), (by_account, throttle.account)):
                if row is None:
                    continue
                failures = 0 if policy.is_forgotten(row.last_failure_at, now) else row.failures
                row.failures = failures + 1
                row.last_failure_at = now
            # Forgotten rows go too, so that names and addresses tried once do not pile up.
            for table, policy in (
                (AddressLoginFailure, throttle.address),
                (LoginFailure, throttle.account),
            ):
                forgotten = table.last_failure_at <= now - policy.forget_after
                session.execute(delete(table).where(forgotten))
        return reservation

    def _locked_failures(
        self,
        session: Session,
        table: type[Failures],
        key: dict[str, str],
        now: datetime,
    ) -> Failures:
        """The row of `table` with `key`, created with no failures if missing, locked."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # Making sure the row exists lets the lock below serialise every attempt.
        session.execute(
            insert(table)
            .values(**key, failures=0, last_failure_at=now)
            .on_conflict_do_nothing(index_elements=list(key))
        )
        conditions = [getattr(table, column) == value for column, value in key.items()]
        return session.scalars(select(table).where(*conditions).with_for_update()).one()

    def forgive_login_attempt(self, username: str, address: str, reserved: Reservation) -> None:
        """A login succeeded: forget the account's failures there, and this one the address's.

        The address's last failure goes back to the one before this attempt, unless another
        attempt failed since.
        """
        row = AddressLoginFailure
        with self._writing() as session:
            session.execute(
                delete(LoginFailure).where(
                    LoginFailure.username == username, LoginFailure.address == address
                )
            )
            session.execute(
                update(row)
                .where(row.address == address, row.failures > 0)
                .values(
                    failures=row.failures - 1,
                    last_failure_at=case(
                        (
                            row.last_failure_at == reserved.at,
                            literal(reserved.address_failure_at, row.last_failure_at.type),
                        ),
                        else_=row.last_failure_at,
                    ),
                )
            )

    # Experiments

    def create_experiment(
        self,
        owner_id: str,
        pipeline: str,
        config: Mapping[str, Any],
        *,
        total_epochs: int = 0,
        max_restarts: int = 3,
        name: str = "",
    ) -> ExperimentRecord:
        """Store a new PENDING experiment; `config` and `name` must already be checked."""
        now = self.now()
        experiment = Experiment(
            id=_new_id(),
            owner_id=owner_id,
            pipeline=pipeline,
            config=dict(config),
            status=ExperimentStatus.PENDING,
            created_at=now,
            updated_at=now,
            started_at=None,
            finished_at=None,
            trainer_id=None,
            error_message="",
            epochs_done=0,
            total_epochs=total_epochs,
            metrics={},
            baselines={},
            references={},
            last_seq=0,
            max_restarts=max_restarts,
            attempts=[],
            stream_position=0,
            name=name,
        )
        with self._writing() as session:
            if session.get(User, owner_id) is None:
                raise NotFound("user", owner_id)
            session.add(experiment)
            session.flush()
            return _experiment_records(session, [experiment])[0]

    def get_experiment(self, experiment_id: str, *, caller: Caller | None) -> ExperimentRecord:
        """One experiment; `NotFound` if it does not exist or `caller` may not see it."""
        with self._reading() as session:
            experiment = _visible_experiment(session, experiment_id, caller)
            return _experiment_records(session, [experiment])[0]

    def rename_experiment(
        self, experiment_id: str, name: str, *, caller: Caller | None
    ) -> ExperimentRecord:
        """Give an experiment `caller` may see a new (checked) name; empty clears it."""
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, caller, lock=True)
            experiment.name = name
            experiment.updated_at = self.now()
            session.flush()
            return _experiment_records(session, [experiment])[0]

    def list_experiments(
        self,
        *,
        caller: Caller | None,
        statuses: Collection[ExperimentStatus] = (),
        pipeline: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ExperimentPage:
        """A page of the experiments `caller` may see, newest first, and how many match in all.

        Empty `statuses` or `pipeline` match everything. Pages are cut by position in the
        order (created_at, id), not by offset, so an experiment submitted while someone pages
        neither shifts nor repeats what they see.
        """
        size = DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        filters = []
        if caller is not None and not caller.is_admin:
            filters.append(Experiment.owner_id == caller.user_id)
        if statuses:
            filters.append(Experiment.status.in_(list(statuses)))
        if pipeline:
            filters.append(Experiment.pipeline == pipeline)
        query = select(Experiment).where(*filters)
        if page_token:
            created_at, last_id = _decode_page_token(page_token)
            query = query.where(
                or_(
                    Experiment.created_at < created_at,
                    and_(Experiment.created_at == created_at, Experiment.id < last_id),
                )
            )
        query = query.order_by(Experiment.created_at.desc(), Experiment.id.desc()).limit(size + 1)
        with self._reading() as session:
            total = session.scalar(select(func.count()).select_from(Experiment).where(*filters))
            rows = list(session.scalars(query))
            page = rows[:size]
            next_token = _encode_page_token(page[-1]) if len(rows) > size else ""
            return ExperimentPage(
                experiments=tuple(_experiment_records(session, page)),
                next_page_token=next_token,
                total_size=total or 0,
            )

    def transition(
        self,
        experiment_id: str,
        target: ExperimentStatus,
        *,
        caller: Caller | None,
        error_message: str = "",
        trainer_id: str | None = None,
    ) -> StatusChange:
        """Move an experiment to `target`, or raise `IllegalTransition` (see the module doc).

        Becoming RUNNING sets `started_at` (and `trainer_id`, if given), finishing sets
        `finished_at`; a non-empty `error_message` replaces the stored one.
        """
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            self._move(experiment, target, error_message=error_message, trainer_id=trainer_id)
            session.flush()
            return StatusChange(_experiment_records(session, [experiment])[0], previous)

    def finish(
        self,
        experiment_id: str,
        target: ExperimentStatus,
        event: events_pb2.ExperimentEvent,
        *,
        caller: Caller | None,
        expected: ExperimentStatus | None = None,
        lost_reason: str = "",
        position: int | None = None,
    ) -> tuple[StatusChange, events_pb2.ExperimentEvent]:
        """End an experiment: move it to the terminal `target` and store its last event.

        Both happen in one transaction, so no reader ever sees a finished experiment without
        its `ExperimentFinished` event, or that event while the experiment still runs: a
        watcher that ends on the event and then reads the experiment sees its final state.
        With `expected`, the experiment must be in that status (`IllegalTransition` if not),
        so that cancelling a pending experiment cannot end one a trainer has just claimed.
        The open attempt, if any, ends here, with `lost_reason` when a lost run ends it.
        Returns the change and the stored event, numbered as `append_event` numbers them.
        """
        if not target.is_terminal:
            raise ValueError(f"finish needs a terminal status, not {target}")
        if event.WhichOneof("kind") != "experiment_finished":
            raise ValueError("an experiment finishes with an ExperimentFinished event")
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            if expected is not None and previous is not expected:
                raise IllegalTransition(experiment_id, previous, target)
            self._move(experiment, target, error_message=event.experiment_finished.error_message)
            self._end_attempt(experiment, lost_reason)
            _note_position(experiment, position)
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            stored = self._append(session, experiment, event)
            session.flush()
            return StatusChange(_experiment_records(session, [experiment])[0], previous), stored

    def mark_cancelled(
        self, experiment_id: str, message: str, *, caller: Caller | None
    ) -> StatusChange:
        """A RUNNING experiment is CANCELLED now; its run's last files and event still follow.

        The scheduler that follows the run keeps its lease, stores what the trainer still
        sends (the report, plots and checkpoint of a cancelled run), and ends the log with
        `complete_cancel`. Until then `has_ended` is False, so watchers wait for those files.
        """
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            self._move(experiment, ExperimentStatus.CANCELLED, error_message=message)
            session.flush()
            return StatusChange(_experiment_records(session, [experiment])[0], previous)

    def complete_cancel(
        self, experiment_id: str, event: events_pb2.ExperimentEvent, *, position: int | None = None
    ) -> events_pb2.ExperimentEvent:
        """Store the last event of a run cancelled by `mark_cancelled`, as CANCELLED.

        `IllegalTransition` unless the experiment is CANCELLED with its run still followed.
        """
        if event.WhichOneof("kind") != "experiment_finished":
            raise ValueError("a run ends with an ExperimentFinished event")
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, None, lock=True)
            if (
                experiment.status is not ExperimentStatus.CANCELLED
                or experiment.scheduler_id is None
            ):
                raise IllegalTransition(
                    experiment_id, experiment.status, ExperimentStatus.CANCELLED
                )
            ending = events_pb2.ExperimentEvent()
            ending.CopyFrom(event)
            ending.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_CANCELLED
            ending.experiment_finished.retryable = False
            self._end_attempt(experiment)
            _note_position(experiment, position)
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            return self._append(session, experiment, ending)

    def has_ended(self, experiment_id: str) -> bool:
        """Whether the experiment's log is complete: it ended, and nothing more will be stored.

        A cancelled run's files may still arrive after its status changed (`mark_cancelled`).
        """
        with self._reading() as session:
            row = session.execute(
                select(Experiment.status, _run_goes_on()).where(Experiment.id == experiment_id)
            ).one_or_none()
            if row is None:
                raise NotFound("experiment", experiment_id)
            status, goes_on = row
            return bool(status.is_terminal) and not goes_on

    def _end_attempt(
        self, experiment: Experiment, lost_reason: str = "", *, counted: bool = True
    ) -> None:
        """End the experiment's open attempt, if it has one; the caller holds its row lock."""
        attempts = _attempts(experiment)
        if not attempts or not attempts[-1].is_open:
            return
        attempts[-1] = replace(
            attempts[-1], ended_at=self.now(), lost_reason=lost_reason, counted=counted
        )
        experiment.attempts = [attempt.to_json() for attempt in attempts]

    def _move(
        self,
        experiment: Experiment,
        target: ExperimentStatus,
        *,
        error_message: str = "",
        trainer_id: str | None = None,
    ) -> None:
        previous = experiment.status
        if target not in ALLOWED_TRANSITIONS[previous]:
            raise IllegalTransition(experiment.id, previous, target)
        now = self.now()
        experiment.status = target
        experiment.updated_at = now
        if target is ExperimentStatus.RUNNING:
            experiment.started_at = experiment.started_at or now
            if trainer_id is not None:
                experiment.trainer_id = trainer_id
        if target.is_terminal:
            experiment.finished_at = now
        if error_message:
            experiment.error_message = error_message

    def requeue(
        self, experiment_id: str, *, lost_reason: str = "", counted: bool = True
    ) -> StatusChange:
        """Put a RUNNING experiment back to PENDING, for a trainer to claim again.

        Without `lost_reason` the trainer never ran it (a `TrainerService.Train` call that
        failed to start), so its attempt is forgotten. With one the run was lost (its trainer
        or process died, the scheduler stopped): the attempt ends with that reason, spending a
        restart if `counted`. Progress (epochs done, events, the checkpoint) is kept, so the
        next run resumes it.
        """
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, None, lock=True)
            if experiment.status is not ExperimentStatus.RUNNING:
                raise IllegalTransition(experiment_id, experiment.status, ExperimentStatus.PENDING)
            attempts = _attempts(experiment)
            if lost_reason:
                self._end_attempt(experiment, lost_reason, counted=counted)
            elif attempts and attempts[-1].is_open:
                experiment.attempts = [attempt.to_json() for attempt in attempts[:-1]]
            experiment.status = ExperimentStatus.PENDING
            experiment.trainer_id = None
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            experiment.updated_at = self.now()
            session.flush()
            return StatusChange(
                _experiment_records(session, [experiment])[0], ExperimentStatus.RUNNING
            )

    def claim_pending(
        self,
        trainer_id: str,
        limit: int,
        *,
        scheduler_id: str | None = None,
        lease: timedelta = timedelta(seconds=15),
    ) -> list[StatusChange]:
        """Mark up to `limit` of the oldest PENDING experiments RUNNING on `trainer_id`.

        Only experiments of pipelines the trainer registered with are claimed. No experiment is
        ever claimed twice, however many schedulers and threads claim at once. `scheduler_id`
        holds each one's lease for `lease`.
        """
        if limit <= 0:
            return []
        with self._writing() as session:
            trainer = session.get(Trainer, trainer_id)
            if trainer is None:
                raise NotFound("trainer", trainer_id)
            claimed = list(
                session.scalars(
                    select(Experiment)
                    .where(
                        Experiment.status == ExperimentStatus.PENDING,
                        Experiment.pipeline.in_(trainer.pipelines),
                    )
                    .order_by(Experiment.created_at, Experiment.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            now = self.now()
            checkpoint_epochs = _checkpoint_epochs(session, [e.id for e in claimed])
            for experiment in claimed:
                experiment.status = ExperimentStatus.RUNNING
                experiment.trainer_id = trainer_id
                experiment.started_at = experiment.started_at or now  # its first run's start
                experiment.updated_at = now
                experiment.stream_position = 0  # a new run: its stream starts from 1
                experiment.scheduler_id = scheduler_id
                experiment.lease_expires_at = None if scheduler_id is None else now + lease
                attempts = _attempts(experiment)
                attempts.append(
                    AttemptRecord(
                        number=len(attempts) + 1,
                        trainer_id=trainer_id,
                        from_epoch=checkpoint_epochs.get(experiment.id, 0),
                        started_at=now,
                    )
                )
                experiment.attempts = [attempt.to_json() for attempt in attempts]
            session.flush()
            return [
                StatusChange(record, ExperimentStatus.PENDING)
                for record in _experiment_records(session, claimed)
            ]

    # Events

    def append_event(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        position: int | None = None,
    ) -> events_pb2.ExperimentEvent:
        """Store `event` as the experiment's next one and return it with its `seq`.

        The stored copy gets the experiment's id, the next seq and, if it has none, the time
        now as `emitted_at`. The experiment's progress follows the event: ExperimentStarted sets
        the epoch count, EpochEnded the epochs done and latest metrics, ExperimentFinished the
        final metrics and error. The status does not change here: call `transition`.
        """
        if event.WhichOneof("kind") is None:
            raise ValueError("an ExperimentEvent needs one of its `kind` fields set")
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, None, lock=True)
            _note_position(experiment, position)
            return self._append(session, experiment, event)

    def _append(
        self, session: Session, experiment: Experiment, event: events_pb2.ExperimentEvent
    ) -> events_pb2.ExperimentEvent:
        """Store `event` as the next of `experiment`, whose row the caller has locked."""
        stored = events_pb2.ExperimentEvent()
        stored.CopyFrom(event)
        stored.experiment_id = experiment.id
        stored.seq = experiment.last_seq + 1
        if not stored.HasField("emitted_at"):
            stored.emitted_at.FromDatetime(self.now())
        session.add(
            Event(
                experiment_id=experiment.id,
                seq=stored.seq,
                kind=stored.WhichOneof("kind") or "",
                emitted_at=stored.emitted_at.ToDatetime(UTC),
                payload=stored.SerializeToString(deterministic=True),
            )
        )
        experiment.last_seq = stored.seq
        experiment.updated_at = self.now()
        _follow_progress(experiment, stored)
        return stored

    def events_after(
        self, experiment_id: str, after_seq: int, limit: int = DEFAULT_EVENT_BATCH
    ) -> list[events_pb2.ExperimentEvent]:
        """Up to `limit` stored events with seq > `after_seq`, in order. Check access first."""
        with self._reading() as session:
            payloads = session.scalars(
                select(Event.payload)
                .where(Event.experiment_id == experiment_id, Event.seq > after_seq)
                .order_by(Event.seq)
                .limit(limit)
            )
            return [events_pb2.ExperimentEvent.FromString(payload) for payload in payloads]

    # Artifacts

    def put_artifact(
        self,
        experiment_id: str,
        name: str,
        content: bytes,
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        position: int | None = None,
    ) -> ArtifactRecord:
        """Store a file a run wrote, replacing one of the same name."""
        _check_artifact_name(name)
        now = self.now()
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, None, lock=True)
            _note_position(experiment, position)
            artifact = session.get(Artifact, (experiment_id, name))
            if artifact is None:
                artifact = Artifact(experiment_id=experiment_id, name=name)
                session.add(artifact)
            artifact.content_type = content_type or DEFAULT_CONTENT_TYPE
            artifact.size = len(content)
            artifact.sha256 = hashlib.sha256(content).hexdigest()
            artifact.stored_at = now
            artifact.content = content
            experiment.updated_at = now
            return _artifact_record(artifact)

    def get_artifact(self, experiment_id: str, name: str) -> tuple[ArtifactRecord, bytes]:
        """A stored file's description and content. Check access to the experiment first."""
        with self._reading() as session:
            artifact = session.get(Artifact, (experiment_id, name))
            if artifact is None:
                raise NotFound("artifact", f"{experiment_id}/{name}")
            return _artifact_record(artifact), artifact.content

    def list_artifacts(self, experiment_id: str) -> list[ArtifactRecord]:
        with self._reading() as session:
            return list(_artifact_records(session, [experiment_id]).get(experiment_id, ()))

    # Checkpoints

    def put_checkpoint(
        self,
        experiment_id: str,
        epoch: int,
        content: bytes,
        sha256: str,
        *,
        position: int | None = None,
    ) -> None:
        """Keep `content` as the experiment's checkpoint after `epoch`, replacing the one before.

        `ValueError` when its SHA-256 is not `sha256`: a checkpoint that arrived damaged
        replaces nothing.
        """
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ValueError(
                f"the checkpoint of epoch {epoch} arrived damaged (its SHA-256 does not match); "
                "the previous checkpoint is kept"
            )
        with self._writing() as session:
            experiment = _visible_experiment(session, experiment_id, None, lock=True)
            _note_position(experiment, position)
            checkpoint = session.get(Checkpoint, experiment_id)
            if checkpoint is None:
                checkpoint = Checkpoint(experiment_id=experiment_id)
                session.add(checkpoint)
            checkpoint.epoch = epoch
            checkpoint.size = len(content)
            checkpoint.sha256 = sha256
            checkpoint.stored_at = self.now()
            checkpoint.content = content

    def get_checkpoint(self, experiment_id: str) -> tuple[int, bytes] | None:
        """The latest checkpoint of an experiment: the epochs it holds and its content."""
        with self._reading() as session:
            checkpoint = session.get(Checkpoint, experiment_id)
            if checkpoint is None:
                return None
            return checkpoint.epoch, checkpoint.content

    # Trainers

    def register_trainer(
        self,
        *,
        address: str,
        slots: int,
        pipelines: Iterable[str],
        trainer_id: str = "",
        held: Iterable[str] = (),
    ) -> TrainerRecord:
        """Register a trainer, or register it again under the id it chose; returns its record."""
        if slots < 1:
            raise ValueError(f"a trainer needs at least one slot, not {slots}")
        if len(trainer_id) > TRAINER_ID_LENGTH:
            raise ValueError(f"a trainer id has at most {TRAINER_ID_LENGTH} characters")
        trainer_id = trainer_id or _new_id()
        now = self.now()
        with self._writing() as session:
            trainer = session.get(Trainer, trainer_id)
            if trainer is None:
                trainer = Trainer(id=trainer_id)
                session.add(trainer)
            trainer.address = address
            trainer.slots = slots
            trainer.pipelines = sorted(set(pipelines))
            trainer.registered_at = now
            trainer.last_heartbeat = now
            trainer.held_experiments = sorted(set(held))
            session.flush()
            return _trainer_records(session, [trainer])[0]

    def heartbeat(self, trainer_id: str, held: Collection[str] = ()) -> HeartbeatAnswer:
        """Note that the trainer is alive and holds `held`; what to tell it about those runs.

        `registered` is False when the trainer is unknown (it should register). Each held run
        that is RUNNING on this trainer (or cancelled, its last files still expected) is
        acknowledged up to its stored `stream_position`; every other one (ended, pending again,
        placed elsewhere, unknown) is to be forgotten.
        """
        held = sorted(set(held))
        with self._writing() as session:
            result = session.execute(
                update(Trainer)
                .where(Trainer.id == trainer_id)
                .values(last_heartbeat=self.now(), held_experiments=held)
            )
            if _rowcount(result) == 0:
                return HeartbeatAnswer(registered=False)
            rows = session.execute(
                select(Experiment.id, Experiment.stream_position).where(
                    Experiment.id.in_(held),
                    Experiment.trainer_id == trainer_id,
                    _run_goes_on(),
                )
            )
            ours = {experiment_id: position for experiment_id, position in rows}
        return HeartbeatAnswer(
            registered=True,
            acknowledged=ours,
            forget=tuple(experiment_id for experiment_id in held if experiment_id not in ours),
        )

    # Schedulers and leases

    def scheduler_started(
        self, scheduler_id: str, address: str, *, alive_within: timedelta
    ) -> None:
        """Note a scheduler that starts; `SchedulerConflict` if SQLite has another live one."""
        now = self.now()
        with self._writing() as session:
            if session.get_bind().dialect.name == "sqlite":
                other = session.scalar(
                    select(Scheduler).where(
                        Scheduler.id != scheduler_id,
                        Scheduler.last_heartbeat >= now - alive_within,
                    )
                )
                if other is not None:
                    raise SchedulerConflict(
                        f"another scheduler ({other.id} at {other.address}) uses this SQLite "
                        f"database: it was alive {(now - other.last_heartbeat).seconds} s ago. "
                        "SQLite serves one scheduler at a time: stop that one, or run several "
                        "schedulers on Postgres (FORGE_DATABASE_URL=postgresql+psycopg2://...)"
                    )
            scheduler = session.get(Scheduler, scheduler_id)
            if scheduler is None:
                scheduler = Scheduler(id=scheduler_id)
                session.add(scheduler)
            scheduler.address = address
            scheduler.started_at = now
            scheduler.last_heartbeat = now

    def scheduler_heartbeat(
        self, scheduler_id: str, experiment_ids: Collection[str], lease: timedelta
    ) -> None:
        """Note the scheduler alive, and renew its lease on the runs it follows."""
        now = self.now()
        with self._writing() as session:
            session.execute(
                update(Scheduler).where(Scheduler.id == scheduler_id).values(last_heartbeat=now)
            )
            if experiment_ids:
                session.execute(
                    update(Experiment)
                    .where(
                        Experiment.id.in_(list(experiment_ids)),
                        Experiment.scheduler_id == scheduler_id,
                        Experiment.status == ExperimentStatus.RUNNING,
                    )
                    .values(lease_expires_at=now + lease)
                )

    def scheduler_stopped(self, scheduler_id: str) -> None:
        """Release the scheduler's leases at once, so that another one adopts its runs now."""
        with self._writing() as session:
            session.execute(
                update(Experiment)
                .where(Experiment.scheduler_id == scheduler_id)
                .values(lease_expires_at=self.now())
            )
            session.execute(delete(Scheduler).where(Scheduler.id == scheduler_id))

    def adopt_runs(
        self, scheduler_id: str, lease: timedelta, *, following: Collection[str] = ()
    ) -> list[ExperimentRecord]:
        """RUNNING experiments nobody follows, now leased to `scheduler_id` to follow.

        Those whose lease expired or was released, those leased to `scheduler_id` itself (it
        restarted) and not in `following`, and those with no lease at all. Each goes to one
        scheduler only, however many adopt at once.
        """
        now = self.now()
        with self._writing() as session:
            adopted = list(
                session.scalars(
                    select(Experiment)
                    .where(
                        _run_goes_on(),
                        Experiment.id.not_in(list(following)),
                        or_(
                            Experiment.scheduler_id.is_(None),
                            Experiment.scheduler_id == scheduler_id,
                            Experiment.lease_expires_at.is_(None),
                            Experiment.lease_expires_at <= now,
                        ),
                    )
                    .order_by(Experiment.created_at, Experiment.id)
                    .with_for_update(skip_locked=True)
                )
            )
            for experiment in adopted:
                experiment.scheduler_id = scheduler_id
                experiment.lease_expires_at = now + lease
            session.flush()
            return _experiment_records(session, adopted)

    def list_trainers(self, *, alive_within: timedelta | None = None) -> list[TrainerRecord]:
        """Registered trainers, by id; with `alive_within`, only those heard from that recently."""
        query = select(Trainer).order_by(Trainer.id)
        if alive_within is not None:
            query = query.where(Trainer.last_heartbeat >= self.now() - alive_within)
        with self._reading() as session:
            return _trainer_records(session, list(session.scalars(query)))

    # Sessions

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            # Set before the transaction begins: on SQLite it begins as BEGIN IMMEDIATE.
            session.connection(execution_options={WRITE: True})
            yield session


def _new_id() -> str:
    return str(uuid.uuid4())


def _rowcount(result: Any) -> int:
    # update() and delete() return a CursorResult, which the ORM types as a plain Result.
    count: int = result.rowcount
    return count


def _visible_experiment(
    session: Session, experiment_id: str, caller: Caller | None, *, lock: bool = False
) -> Experiment:
    query = select(Experiment).where(Experiment.id == experiment_id)
    if lock:
        query = query.with_for_update()
    experiment = session.scalar(query)
    if experiment is None or (
        caller is not None and not caller.is_admin and experiment.owner_id != caller.user_id
    ):
        raise NotFound("experiment", experiment_id)
    return experiment


def _follow_progress(experiment: Experiment, event: events_pb2.ExperimentEvent) -> None:
    kind = event.WhichOneof("kind")
    if kind == "experiment_started":
        started = event.experiment_started
        if started.total_epochs:
            experiment.total_epochs = started.total_epochs
        experiment.epochs_done = started.initial_epoch
        if started.trainer_id and experiment.trainer_id is None:
            experiment.trainer_id = started.trainer_id
    elif kind == "epoch_ended":
        ended = event.epoch_ended
        experiment.epochs_done = ended.epoch
        if ended.total_epochs:
            experiment.total_epochs = ended.total_epochs
        experiment.metrics = dict(ended.metrics)
    elif kind == "experiment_resumed":
        experiment.epochs_done = event.experiment_resumed.from_epoch
    elif kind == "experiment_finished":
        finished = event.experiment_finished
        if finished.metrics:
            experiment.metrics = dict(finished.metrics)
        experiment.baselines = _scores(finished.baselines)
        experiment.references = _scores(finished.references)
        if finished.error_message:
            experiment.error_message = finished.error_message


def _scores(
    by_name: Mapping[str, experiment_pb2.Scores],
) -> dict[str, dict[str, float]]:
    return {name: dict(scores.values) for name, scores in by_name.items()}


def _check_artifact_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or len(name) > ARTIFACT_NAME_LENGTH
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(
            f"artifact name {quote(name)} must be a relative path like 'plots/loss.png' of at most "
            f"{ARTIFACT_NAME_LENGTH} characters, without '.', '..', '\\\\' or empty parts"
        )


def _encode_page_token(last: Experiment) -> str:
    data = json.dumps([last.created_at.isoformat(), last.id]).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[datetime, str]:
    """The position a token from `_encode_page_token` stands for; `InvalidPageToken` otherwise.

    Anything a client sends is refused here rather than in the database: a token longer than
    any handed out, one that decodes to JSON nested past the parser's recursion limit, and a
    time without a zone or beyond the calendar in UTC.
    """
    try:
        if len(token) > MAX_PAGE_TOKEN_LENGTH:
            raise ValueError("too long")
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, last_id = json.loads(data)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return moment.astimezone(UTC), str(last_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError):
        raise InvalidPageToken(
            "page_token is not one this server handed out; "
            "start again from the first page with an empty one"
        ) from None


def _user_record(user: User) -> UserRecord:
    return UserRecord(user.id, user.username, user.role, user.created_at)


def _artifact_record(artifact: Artifact) -> ArtifactRecord:
    return ArtifactRecord(
        experiment_id=artifact.experiment_id,
        name=artifact.name,
        content_type=artifact.content_type,
        size=artifact.size,
        sha256=artifact.sha256,
        stored_at=artifact.stored_at,
    )


def _artifact_records(
    session: Session, experiment_ids: Sequence[str]
) -> dict[str, list[ArtifactRecord]]:
    """Artifact descriptions by experiment, without loading any content."""
    rows = session.execute(
        select(
            Artifact.experiment_id,
            Artifact.name,
            Artifact.content_type,
            Artifact.size,
            Artifact.sha256,
            Artifact.stored_at,
        )
        .where(Artifact.experiment_id.in_(experiment_ids))
        .order_by(Artifact.experiment_id, Artifact.name)
    )
    by_experiment: dict[str, list[ArtifactRecord]] = {}
    for row in rows:
        by_experiment.setdefault(row.experiment_id, []).append(ArtifactRecord(*row))
    return by_experiment


def _experiment_records(
    session: Session, experiments: Sequence[Experiment]
) -> list[ExperimentRecord]:
    if not experiments:
        return []
    owner_ids = {experiment.owner_id for experiment in experiments}
    usernames = {
        user_id: username
        for user_id, username in session.execute(
            select(User.id, User.username).where(User.id.in_(owner_ids))
        )
    }
    ids = [experiment.id for experiment in experiments]
    artifacts = _artifact_records(session, ids)
    checkpoint_epochs = _checkpoint_epochs(session, ids)
    return [
        ExperimentRecord(
            id=experiment.id,
            owner_id=experiment.owner_id,
            owner=usernames[experiment.owner_id],
            pipeline=experiment.pipeline,
            config=dict(experiment.config),
            status=experiment.status,
            created_at=experiment.created_at,
            updated_at=experiment.updated_at,
            started_at=experiment.started_at,
            finished_at=experiment.finished_at,
            trainer_id=experiment.trainer_id,
            error_message=experiment.error_message,
            epochs_done=experiment.epochs_done,
            total_epochs=experiment.total_epochs,
            metrics=dict(experiment.metrics),
            baselines=dict(experiment.baselines),
            references=dict(experiment.references),
            last_seq=experiment.last_seq,
            artifacts=tuple(artifacts.get(experiment.id, ())),
            max_restarts=experiment.max_restarts,
            attempts=tuple(_attempts(experiment)),
            stream_position=experiment.stream_position,
            scheduler_id=experiment.scheduler_id,
            checkpoint_epoch=checkpoint_epochs.get(experiment.id, 0),
            name=experiment.name,
        )
        for experiment in experiments
    ]


def _run_goes_on() -> ColumnElement[bool]:
    """Whether an experiment's run is still followed: RUNNING, or cancelled (`mark_cancelled`)
    with its last files still expected, until `complete_cancel` clears its scheduler."""
    return or_(
        Experiment.status == ExperimentStatus.RUNNING,
        and_(
            Experiment.status == ExperimentStatus.CANCELLED,
            Experiment.scheduler_id.is_not(None),
        ),
    )


def _note_position(experiment: Experiment, position: int | None) -> None:
    """Record that the current run's stream is stored up to `position` (never backwards)."""
    if position is not None and position > experiment.stream_position:
        experiment.stream_position = position


def _attempts(experiment: Experiment) -> list[AttemptRecord]:
    return [AttemptRecord.from_json(item) for item in experiment.attempts or []]


def _checkpoint_epochs(session: Session, experiment_ids: Sequence[str]) -> dict[str, int]:
    """The epoch of each experiment's stored checkpoint, without loading any content."""
    if not experiment_ids:
        return {}
    rows = session.execute(
        select(Checkpoint.experiment_id, Checkpoint.epoch).where(
            Checkpoint.experiment_id.in_(experiment_ids)
        )
    )
    return {experiment_id: epoch for experiment_id, epoch in rows}


def _trainer_records(session: Session, trainers: Sequence[Trainer]) -> list[TrainerRecord]:
    running = {
        trainer_id: count
        for trainer_id, count in session.execute(
            select(Experiment.trainer_id, func.count())
            .where(
                Experiment.status == ExperimentStatus.RUNNING,
                Experiment.trainer_id.in_([trainer.id for trainer in trainers]),
            )
            .group_by(Experiment.trainer_id)
        )
    }
    return [
        TrainerRecord(
            id=trainer.id,
            address=trainer.address,
            slots=trainer.slots,
            pipelines=tuple(trainer.pipelines),
            registered_at=trainer.registered_at,
            last_heartbeat=trainer.last_heartbeat,
            running=running.get(trainer.id, 0),
            held=tuple(trainer.held_experiments or ()),
        )
        for trainer in trainers
    ]
