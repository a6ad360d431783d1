"""Accounts, and the failed logins that throttle guessing at their passwords.

The throttling policy is in `scheduler.throttle`; here are the rows it counts, locked so that
concurrent attempts are each counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler.db.models import AddressLoginFailure, LoginFailure, Role, User
from scheduler.records import Credentials, UserRecord
from scheduler.store.errors import AlreadyExists, NotFound
from scheduler.store.rows import user_record
from scheduler.store.session import Repository, new_id, rowcount
from scheduler.throttle import ZERO, LoginThrottle, LoginWait, Reservation

# The two tables of failed logins, which share their columns but for the key.
Failures = TypeVar("Failures", LoginFailure, AddressLoginFailure)


class Users(Repository):
    """Accounts and login throttling, part of `Store`."""

    def create_user(self, username: str, password_hash: str, role: Role = Role.USER) -> UserRecord:
        """Add an account; `AlreadyExists` if the name is taken. Hash with `scheduler.auth`."""
        user = User(
            id=new_id(),
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
        return user_record(user)

    def get_user(self, user_id: str) -> UserRecord:
        with self._reading() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("user", user_id)
            return user_record(user)

    def get_user_by_name(self, username: str) -> UserRecord:
        with self._reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound("user", username)
            return user_record(user)

    def find_credentials(self, username: str) -> Credentials | None:
        """The user and their password hash, or None if there is no such user."""
        with self._reading() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                return None
            return Credentials(user_record(user), user.password_hash)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self._writing() as session:
            result = session.execute(
                update(User).where(User.id == user_id).values(password_hash=password_hash)
            )
            if rowcount(result) == 0:
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
