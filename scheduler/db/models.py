"""The scheduler's tables, as SQLAlchemy 2.0 typed declarative models.

The models describe the schema; `scheduler/migrations/` creates and changes it, and a test
checks that the two agree. Nothing here has behaviour: the rules (who sees what, which status
may follow which, how events are numbered) live in `scheduler.store`.

Choices that hold for every table:

- Ids are strings (UUIDs written out, or a trainer's own name), the form the gRPC messages
  carry, so a malformed id finds nothing instead of failing to parse in the database.
- Times are stored in UTC and come back timezone-aware on SQLite as on Postgres.
- Statuses and roles are stored as lowercase words, readable in `psql`, without a database enum
  type, so adding one is a plain migration on both databases.
- JSON columns are replaced whole, never changed in place: SQLAlchemy does not see in-place
  changes to a JSON value.
- There are no ORM relationships; the store writes its joins explicitly, so no attribute access
  runs a hidden query after a session has closed.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so that a later migration can drop or alter one by the same name on SQLite
# and on Postgres (https://alembic.sqlalchemy.org/en/latest/naming.html).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USERNAME_LENGTH = 64
# A client address as `scheduler.client_address` writes it: an IPv4 address or an IPv6 /64.
ADDRESS_LENGTH = 64
ID_LENGTH = 36
TRAINER_ID_LENGTH = 200
SCHEDULER_ID_LENGTH = 200
PIPELINE_LENGTH = 200
# scheduler.names.MAX_NAME_LENGTH
EXPERIMENT_NAME_LENGTH = 100
ARTIFACT_NAME_LENGTH = 512


class Role(enum.StrEnum):
    """What a user may see: their own experiments, or (admin) everyone's."""

    USER = "user"
    ADMIN = "admin"


class ExperimentStatus(enum.StrEnum):
    """Where an experiment is in its life (see `scheduler.store.ALLOWED_TRANSITIONS`)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # A sweep's trial that early stopping ended: it ran well, it was just behind.
    STOPPED_EARLY = "stopped_early"

    @property
    def is_terminal(self) -> bool:
        return self in (
            ExperimentStatus.SUCCEEDED,
            ExperimentStatus.FAILED,
            ExperimentStatus.CANCELLED,
            ExperimentStatus.STOPPED_EARLY,
        )


class SweepState(enum.StrEnum):
    """Where a sweep is: RUNNING until every trial it draws has ended, or it is cancelled."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite has no time zones: SQLAlchemy stores its datetimes as text and hands them back naive.
    This type stores UTC there and attaches UTC again when reading, so that comparisons with
    `datetime.now(UTC)` work the same on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; the scheduler stores aware UTC times.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _word_enum(enum_class: type[enum.StrEnum]) -> Enum:
    """A column of the enum's values (`"pending"`), as a plain VARCHAR on every database."""
    return Enum(
        enum_class,
        native_enum=False,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class User(Base):
    """An account. The password is kept only as an argon2id hash (`scheduler.auth`)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_word_enum(Role))
    created_at: Mapped[datetime]


class ExperimentRow(Base):
    """One submitted training run of a pipeline with a config, and its progress so far."""

    __tablename__ = "experiments"
    __table_args__ = (
        # Listing: everyone's newest first (admins), one owner's newest first (users).
        Index(None, "created_at"),
        Index(None, "owner_id", "created_at"),
        # Claiming: the oldest pending ones.
        Index(None, "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    pipeline: Mapped[str] = mapped_column(String(PIPELINE_LENGTH))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[ExperimentStatus] = mapped_column(_word_enum(ExperimentStatus))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # No foreign key: a trainer may be forgotten while its past experiments remain.
    trainer_id: Mapped[str | None] = mapped_column(String(TRAINER_ID_LENGTH))
    error_message: Mapped[str] = mapped_column(Text)
    epochs_done: Mapped[int] = mapped_column(Integer)
    total_epochs: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    # Once finished: each baseline's and each reference model's test metrics, by its name.
    baselines: Mapped[dict[str, dict[str, float]]] = mapped_column(JSON)
    references: Mapped[dict[str, dict[str, float]]] = mapped_column(JSON)
    # The seq of the newest stored event; the next one gets last_seq + 1.
    last_seq: Mapped[int] = mapped_column(BigInteger)
    # How many times a lost run is placed again before the experiment fails.
    max_restarts: Mapped[int] = mapped_column(Integer)
    # One dict per run of the experiment, oldest first (`scheduler.records.AttemptRecord`).
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The position of the last item of the current run's trainer stream that is stored here:
    # a scheduler that re-attaches asks the trainer for what follows it.
    stream_position: Mapped[int] = mapped_column(BigInteger)
    # The scheduler that follows the run while RUNNING, until its lease expires.
    scheduler_id: Mapped[str | None] = mapped_column(String(SCHEDULER_ID_LENGTH))
    lease_expires_at: Mapped[datetime | None]
    # The run ended (its ExperimentFinished said `files_follow`) and its files are still coming:
    # its scheduler keeps following it, and a FilesStored event clears this and ends the log.
    files_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # What its owner calls it (`scheduler.names`); empty when unnamed.
    name: Mapped[str] = mapped_column(String(EXPERIMENT_NAME_LENGTH))
    # The sweep it is a trial of and its number there (`SweepTrialRow`); None and 0 otherwise.
    # No foreign key: the sweep's rows point here, and one direction is enough.
    sweep_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    sweep_trial: Mapped[int] = mapped_column(Integer)


class Event(Base):
    """One `ExperimentEvent`, stored as its protobuf bytes so that replay is byte-exact.

    `kind` and `emitted_at` repeat what the payload says, for reading the table by hand.
    """

    __tablename__ = "events"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    emitted_at: Mapped[datetime]
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class Artifact(Base):
    """A file a run wrote, content included, so that no machine needs a shared disk."""

    __tablename__ = "artifacts"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(ARTIFACT_NAME_LENGTH), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime]
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    """The latest resume checkpoint of an experiment, kept whole and verified, one per experiment.

    A run sends one every few epochs; a new one replaces the row only once it has arrived whole
    and its SHA-256 matches, so a resume always finds a checkpoint it can load.
    """

    __tablename__ = "checkpoints"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    # Epochs the checkpoint holds (counted from 1): training resumes at the one after.
    epoch: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stored_at: Mapped[datetime]
    content: Mapped[bytes] = mapped_column(LargeBinary)


class TrainerRow(Base):
    """A registered trainer; it counts as alive while its heartbeats keep coming."""

    __tablename__ = "trainers"

    id: Mapped[str] = mapped_column(String(TRAINER_ID_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    slots: Mapped[int] = mapped_column(Integer)
    pipelines: Mapped[list[str]] = mapped_column(JSON)
    registered_at: Mapped[datetime]
    last_heartbeat: Mapped[datetime]
    # The runs it held at its last heartbeat (training, or ended and not yet acknowledged).
    held_experiments: Mapped[list[str]] = mapped_column(JSON)


class PipelineRow(Base):
    """A pipeline some trainer announced, with the config schema it announced last.

    The scheduler runs no pipeline code: it checks submissions against these schemas. A row
    outlives the trainers that announced it, so an experiment of a pipeline whose trainers are
    all down is still checked and accepted (it waits for one); which pipelines run now is what
    the live trainers' `pipelines` say. Several schedulers on one database share the rows.
    """

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(PIPELINE_LENGTH), primary_key=True)
    summary: Mapped[str] = mapped_column(Text)
    # The JSON Schema (draft 2020-12) of the pipeline's config, as announced.
    config_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    announced_at: Mapped[datetime]
    # The trainer whose announcement this is; not a foreign key: trainers come and go.
    announced_by: Mapped[str] = mapped_column(String(TRAINER_ID_LENGTH))


class Scheduler(Base):
    """A scheduler process on this database, alive while its heartbeats keep coming.

    Several may share a Postgres database; on SQLite one at a time, which this table lets a
    second one notice.
    """

    __tablename__ = "schedulers"

    id: Mapped[str] = mapped_column(String(SCHEDULER_ID_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    last_heartbeat: Mapped[datetime]


class LoginFailure(Base):
    """Recent failed logins for one username from one client address, shared by every scheduler.

    See `scheduler.throttle` for what the counts mean; a row is deleted at the next successful
    login, or once it is old enough to be forgotten.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index(None, "last_failure_at"),)

    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), primary_key=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime]


class AddressLoginFailure(Base):
    """Recent failed logins from one client address, whatever the username (`scheduler.throttle`).

    A row is deleted once it is old enough to be forgotten; a success takes back only its own
    attempt.
    """

    __tablename__ = "address_login_failures"
    __table_args__ = (Index(None, "last_failure_at"),)

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime]


class SweepRow(Base):
    """A search over a pipeline's settings (`scheduler.sweeps`); its trials are experiments."""

    __tablename__ = "sweeps"
    __table_args__ = (Index(None, "owner_id", "created_at"), Index(None, "status"))

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(EXPERIMENT_NAME_LENGTH))
    pipeline: Mapped[str] = mapped_column(String(PIPELINE_LENGTH))
    # The checked request as JSON (`scheduler.sweeps.spec.SweepPlan.to_json`).
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[SweepState] = mapped_column(_word_enum(SweepState))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error_message: Mapped[str] = mapped_column(Text)
    # The seq of the newest stored sweep event; the next one gets last_seq + 1.
    last_seq: Mapped[int] = mapped_column(BigInteger)


class SweepTrialRow(Base):
    """One trial of a sweep: the experiment it runs as, its settings, and its progress there."""

    __tablename__ = "sweep_trials"

    sweep_id: Mapped[str] = mapped_column(
        ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    # Counting from 1, in the order drawn; the primary key keeps two schedulers from drawing
    # the same trial twice.
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), unique=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    epochs_done: Mapped[int] = mapped_column(Integer)
    objective: Mapped[float | None] = mapped_column(Float)
    stop_reason: Mapped[str] = mapped_column(Text)
    # The seq of the experiment's last event the sweep has read: where following it resumes.
    read_seq: Mapped[int] = mapped_column(BigInteger)


class SweepRungRow(Base):
    """What ASHA decided for one trial at one rung; the primary key makes the decision final."""

    __tablename__ = "sweep_rungs"

    sweep_id: Mapped[str] = mapped_column(
        ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    rung: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    objective: Mapped[float] = mapped_column(Float)
    promoted: Mapped[bool] = mapped_column(Boolean)
    decided_at: Mapped[datetime]


class SweepEventRow(Base):
    """One `SweepEvent`, stored as its protobuf bytes, numbered per sweep like experiment events."""

    __tablename__ = "sweep_events"

    sweep_id: Mapped[str] = mapped_column(
        ForeignKey("sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    emitted_at: Mapped[datetime]
    payload: Mapped[bytes] = mapped_column(LargeBinary)
