"""Schedulers, and their leases on the runs they follow.

A scheduler renews its leases with its heartbeat; once one expires or is released, another
scheduler adopts the run, each run going to exactly one.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from scheduler.db.models import ExperimentRow, Scheduler
from scheduler.records import ExperimentRecord
from scheduler.store.errors import SchedulerConflict
from scheduler.store.rows import experiment_records, run_goes_on
from scheduler.store.session import Repository


class Schedulers(Repository):
    """Schedulers and leases, part of `Store`."""

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
                    update(ExperimentRow)
                    .where(
                        ExperimentRow.id.in_(list(experiment_ids)),
                        ExperimentRow.scheduler_id == scheduler_id,
                        run_goes_on(),  # RUNNING, or ended with its files still coming
                    )
                    .values(lease_expires_at=now + lease)
                )

    def scheduler_stopped(self, scheduler_id: str) -> None:
        """Release the scheduler's leases at once, so that another one adopts its runs now."""
        with self._writing() as session:
            session.execute(
                update(ExperimentRow)
                .where(ExperimentRow.scheduler_id == scheduler_id)
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
                    select(ExperimentRow)
                    .where(
                        run_goes_on(),
                        ExperimentRow.id.not_in(list(following)),
                        or_(
                            ExperimentRow.scheduler_id.is_(None),
                            ExperimentRow.scheduler_id == scheduler_id,
                            ExperimentRow.lease_expires_at.is_(None),
                            ExperimentRow.lease_expires_at <= now,
                        ),
                    )
                    .order_by(ExperimentRow.created_at, ExperimentRow.id)
                    .with_for_update(skip_locked=True)
                )
            )
            for experiment in adopted:
                experiment.scheduler_id = scheduler_id
                experiment.lease_expires_at = now + lease
            session.flush()
            return experiment_records(session, adopted)
