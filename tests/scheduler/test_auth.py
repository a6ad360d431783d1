"""Passwords, access tokens, login throttling and the cluster token."""

from __future__ import annotations

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from scheduler import auth
from scheduler.auth import (
    InvalidAccount,
    InvalidCredentials,
    PermissionDenied,
    Throttled,
    TokenExpired,
    Unauthenticated,
)
from scheduler.db.models import Role
from scheduler.records import UserRecord
from scheduler.store import AlreadyExists, Store
from scheduler.throttle import LoginThrottle, ThrottlePolicy
from tests.scheduler.fakes import FAST_HASHER, FakeClock

SECRET = "x" * 43
HOUR = timedelta(hours=1)
# 3 free failures, then 10 s, 20 s, 40 s (the cap); forgotten after 5 minutes.
POLICY = ThrottlePolicy(
    free_failures=3,
    first_delay=timedelta(seconds=10),
    max_delay=timedelta(seconds=40),
    forget_after=timedelta(minutes=5),
)
# The per-address limit out of the way, for the tests of the per-account one...
THROTTLE = LoginThrottle(account=POLICY, address=replace(POLICY, free_failures=1000))
# ... and 6 failures from one address, whatever the names, for its own tests.
BY_ADDRESS = LoginThrottle(account=POLICY, address=replace(POLICY, free_failures=6))
HOME = "192.0.2.1"


@pytest.fixture
def alice(store: Store) -> UserRecord:
    return auth.create_user(store, "alice", "correct horse", hasher=FAST_HASHER)


def login(
    store: Store,
    password: str,
    username: str = "alice",
    address: str = HOME,
    throttle: LoginThrottle = THROTTLE,
    hasher: PasswordHasher = FAST_HASHER,
) -> UserRecord:
    return auth.authenticate(
        store, username, password, address=address, throttle=throttle, hasher=hasher
    )


def fail(
    store: Store,
    times: int,
    username: str = "alice",
    address: str = HOME,
    throttle: LoginThrottle = THROTTLE,
) -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            login(store, "wrong password", username, address, throttle)


def user(role: Role = Role.USER) -> UserRecord:
    return UserRecord("user-1", "alice", role, datetime.now(UTC))


# Passwords


def test_passwords_are_hashed_with_argon2id_and_verified():
    password_hash = auth.hash_password("correct horse", hasher=FAST_HASHER)

    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert auth.verify_password(password_hash, "correct horse", hasher=FAST_HASHER)
    assert not auth.verify_password(password_hash, "correct horsE", hasher=FAST_HASHER)
    assert not auth.verify_password("not a hash", "correct horse", hasher=FAST_HASHER)


def test_the_default_hasher_is_memory_hard():
    assert auth.DEFAULT_HASHER.type is Type.ID
    assert auth.DEFAULT_HASHER.memory_cost >= 64 * 1024  # KiB


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [
        ("", "long enough", "username"),
        ("-dash-first", "long enough", "username"),
        ("has space", "long enough", "username"),
        ("x" * 65, "long enough", "username"),
        ("alice", "short", "password"),
        ("alice", "x" * 1025, "password"),
    ],
)
def test_accounts_need_a_plain_name_and_a_long_enough_password(
    store: Store, username: str, password: str, field: str
):
    with pytest.raises(InvalidAccount) as error:
        auth.create_user(store, username, password, hasher=FAST_HASHER)

    assert error.value.field == field
    assert store.count_users() == 0


def test_a_taken_name_is_refused(store: Store, alice: UserRecord):
    with pytest.raises(AlreadyExists):
        auth.create_user(store, "alice", "another password", hasher=FAST_HASHER)


# Logging in


def test_the_right_password_logs_in(store: Store, alice: UserRecord):
    assert login(store, "correct horse") == alice


def test_a_wrong_password_and_an_unknown_user_fail_alike(store: Store, alice: UserRecord):
    with pytest.raises(InvalidCredentials) as wrong:
        login(store, "wrong password")
    with pytest.raises(InvalidCredentials) as unknown:
        login(store, "correct horse", username="mallory")
    with pytest.raises(InvalidCredentials) as too_long:
        login(store, "correct horse", username="m" * 65)

    assert str(wrong.value) == str(unknown.value) == str(too_long.value)


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_login(store: Store):
    created = auth.create_user(store, "alice", "correct horse", hasher=FAST_HASHER)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)

    login(store, "correct horse", hasher=stronger)

    credentials = store.find_credentials("alice")
    assert credentials is not None
    assert not stronger.check_needs_rehash(credentials.password_hash)
    assert auth.verify_password(credentials.password_hash, "correct horse", hasher=stronger)
    assert credentials.user == created


# Throttling


def test_repeated_failures_are_throttled_with_a_growing_delay(
    store: Store, alice: UserRecord, clock: FakeClock
):
    fail(store, 3)  # free

    with pytest.raises(Throttled) as first:
        login(store, "correct horse")  # refused, though right
    clock.advance(9)
    with pytest.raises(Throttled) as later:
        login(store, "correct horse")
    clock.advance(1)
    fail(store, 1)  # after the delay the password is checked again
    with pytest.raises(Throttled) as second:
        login(store, "correct horse")

    assert first.value.retry_after == 10
    assert later.value.retry_after == 1
    assert second.value.retry_after == 20
    assert "try again in 20 seconds" in str(second.value)


def test_the_delay_stops_growing_at_the_cap(store: Store, alice: UserRecord, clock: FakeClock):
    fail(store, 3)
    delays = []
    for _ in range(4):
        with pytest.raises(Throttled) as refused:
            login(store, "wrong password")
        delays.append(refused.value.retry_after)
        clock.advance(refused.value.retry_after)
        fail(store, 1)

    assert delays == [10, 20, 40, 40]


def test_refused_attempts_do_not_count(store: Store, alice: UserRecord, clock: FakeClock):
    fail(store, 3)
    for _ in range(5):
        with pytest.raises(Throttled):
            login(store, "wrong password")
    clock.advance(10)

    fail(store, 1)
    with pytest.raises(Throttled) as refused:
        login(store, "wrong password")
    assert refused.value.retry_after == 20  # the 4th failure, not the 9th


def test_a_success_after_the_delay_forgets_the_failures(
    store: Store, alice: UserRecord, clock: FakeClock
):
    fail(store, 3)
    clock.advance(10)

    assert login(store, "correct horse") == alice
    fail(store, 3)  # three free failures again
    with pytest.raises(Throttled):
        login(store, "correct horse")


def test_failures_are_forgotten_after_a_quiet_while(
    store: Store, alice: UserRecord, clock: FakeClock
):
    fail(store, 3)
    clock.advance(5 * 60)

    fail(store, 3)
    with pytest.raises(Throttled) as refused:
        login(store, "correct horse")
    assert refused.value.retry_after == 10


def test_throttling_is_per_username(store: Store, alice: UserRecord):
    auth.create_user(store, "bob", "bob's password", hasher=FAST_HASHER)
    fail(store, 3)

    assert login(store, "bob's password", username="bob").username == "bob"
    fail(store, 3, username="mallory")  # unknown names are throttled too
    with pytest.raises(Throttled):
        login(store, "anything", username="mallory")


def test_failing_as_someone_from_one_address_does_not_slow_them_down_at_another(
    store: Store, alice: UserRecord
):
    fail(store, 3, address="203.0.113.9")
    with pytest.raises(Throttled) as refused:
        login(store, "correct horse", address="203.0.113.9")

    assert login(store, "correct horse") == alice
    assert "for 'alice'" in str(refused.value)


def test_one_address_is_throttled_whatever_the_usernames(store: Store, alice: UserRecord):
    for number in range(6):  # free, each a name never seen before
        fail(store, 1, username=f"random-{number}", throttle=BY_ADDRESS)
    with pytest.raises(Throttled) as refused:
        login(store, "correct horse", throttle=BY_ADDRESS)

    assert "from your address" in str(refused.value)
    assert refused.value.retry_after == 10
    assert login(store, "correct horse", address="198.51.100.4", throttle=BY_ADDRESS) == alice


def test_names_too_long_to_exist_count_against_the_address(store: Store):
    for _ in range(6):
        fail(store, 1, username="x" * 10_000, throttle=BY_ADDRESS)

    with pytest.raises(Throttled):
        login(store, "anything", username="x" * 10_000, throttle=BY_ADDRESS)


def test_a_success_takes_back_only_its_own_attempt_from_the_address(
    store: Store, alice: UserRecord, clock: FakeClock
):
    for number in range(6):  # the free failures, all used up
        fail(store, 1, username=f"random-{number}", throttle=BY_ADDRESS)
    clock.advance(10)

    # Each success takes back its own attempt, its time included, so the next is not delayed.
    for _ in range(3):
        assert login(store, "correct horse", throttle=BY_ADDRESS) == alice
    fail(store, 1, username="mallory", throttle=BY_ADDRESS)
    with pytest.raises(Throttled) as refused:
        login(store, "correct horse", throttle=BY_ADDRESS)
    # The 7th failure: the failures before the successes still count.
    assert refused.value.retry_after == 20


class CountingHasher(PasswordHasher):
    """FAST_HASHER's parameters, counting the hashes it makes and checks."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.hashed = 0
        self.verified = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hashed += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


def test_an_unknown_name_costs_one_check_against_a_hash_made_once(store: Store):
    hasher = CountingHasher()
    auth.create_user(store, "alice", "correct horse", hasher=hasher)
    hasher.hashed = 0

    with pytest.raises(InvalidCredentials):
        login(store, "a guess", hasher=hasher)
    for number in range(5):
        with pytest.raises(InvalidCredentials):
            login(store, "a guess", username=f"random-{number}", hasher=hasher)

    assert hasher.verified == 6  # as many checks for unknown names as for a known one
    assert hasher.hashed == 1  # the dummy hash, once for all of them


def test_a_burst_of_parallel_guesses_gets_only_the_free_tries(store: Store, alice: UserRecord):
    barrier = threading.Barrier(8)

    def guess(n: int) -> str:
        barrier.wait()
        try:
            login(store, f"guess {n}")
        except (InvalidCredentials, Throttled) as error:
            return type(error).__name__
        return "logged in"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(guess, range(8)))

    assert outcomes == ["InvalidCredentials"] * 3 + ["Throttled"] * 5


# The admin account


def test_the_first_start_creates_an_admin_with_a_generated_password(store: Store):
    generated = auth.ensure_admin(store, None, hasher=FAST_HASHER)

    assert generated is not None and len(generated) >= 16
    admin = login(store, generated, username=auth.ADMIN_USERNAME)
    assert admin.role is Role.ADMIN
    assert auth.ensure_admin(store, None, hasher=FAST_HASHER) is None
    assert auth.ensure_admin(store, "another password", hasher=FAST_HASHER) is None
    assert store.count_users() == 1
    assert login(store, generated, username=auth.ADMIN_USERNAME) == admin


def test_a_given_admin_password_is_used_and_not_printed(store: Store):
    assert auth.ensure_admin(store, "admin's password", hasher=FAST_HASHER) is None

    assert login(store, "admin's password", username="admin").role is Role.ADMIN


def test_a_short_admin_password_names_the_variable(store: Store):
    with pytest.raises(InvalidAccount, match="FORGE_ADMIN_PASSWORD must be 8"):
        auth.ensure_admin(store, "admin", hasher=FAST_HASHER)

    assert store.count_users() == 0


# Access tokens


def test_a_token_round_trips_its_claims():
    now = datetime.now(UTC)

    issued = auth.issue_token(user(Role.ADMIN), secret=SECRET, lifetime=HOUR, now=now)
    claims = auth.verify_token(issued.access_token, secret=SECRET)

    assert claims == issued.claims
    assert (claims.user_id, claims.role) == ("user-1", Role.ADMIN)
    assert claims.issued_at == now.replace(microsecond=0)
    assert claims.expires_at - claims.issued_at == HOUR
    assert issued.expires_in == 3600
    assert claims.caller.is_admin
    header = jwt.get_unverified_header(issued.access_token)
    payload = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert set(payload) == {"sub", "role", "iat", "exp", "jti"}
    assert payload["role"] == "admin"


def test_every_token_has_its_own_id():
    first = auth.issue_token(user(), secret=SECRET, lifetime=HOUR)
    second = auth.issue_token(user(), secret=SECRET, lifetime=HOUR)

    assert first.claims.token_id != second.claims.token_id


def test_an_expired_token_is_refused():
    issued = auth.issue_token(
        user(), secret=SECRET, lifetime=HOUR, now=datetime.now(UTC) - 2 * HOUR
    )

    with pytest.raises(TokenExpired, match="log in again"):
        auth.verify_token(issued.access_token, secret=SECRET)


def reencode(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def test_a_tampered_token_is_refused():
    token = auth.issue_token(user(), secret=SECRET, lifetime=HOUR).access_token
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    promoted = ".".join([header, reencode({**claims, "role": "admin"}), signature])

    with pytest.raises(Unauthenticated) as error:
        auth.verify_token(promoted, secret=SECRET)
    assert not isinstance(error.value, TokenExpired)


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(lambda claims: jwt.encode(claims, "y" * 43, algorithm="HS256"), id="secret"),
        pytest.param(
            lambda claims: ".".join(
                [reencode({"alg": "none", "typ": "JWT"}), reencode(claims), ""]
            ),
            id="alg-none",
        ),
        pytest.param(
            lambda claims: jwt.encode(
                {k: v for k, v in claims.items() if k != "jti"}, SECRET, algorithm="HS256"
            ),
            id="missing-jti",
        ),
        pytest.param(
            lambda claims: jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256"),
            id="unknown-role",
        ),
        pytest.param(lambda claims: "not.a.token", id="garbage"),
    ],
)
def test_forged_tokens_are_refused(forged):
    token = auth.issue_token(user(), secret=SECRET, lifetime=HOUR).access_token
    claims = jwt.decode(token, options={"verify_signature": False})

    with pytest.raises(Unauthenticated):
        auth.verify_token(forged(claims), secret=SECRET)


def test_the_token_comes_from_the_authorization_metadata():
    issued = auth.issue_token(user(), secret=SECRET, lifetime=HOUR)
    metadata = [("user-agent", "grpc"), ("authorization", f"Bearer {issued.access_token}")]

    assert auth.claims_from_metadata(metadata, secret=SECRET) == issued.claims
    assert auth.bearer_token([("authorization", b"bearer  abc ")]) == "abc"


@pytest.mark.parametrize(
    "metadata",
    [[], [("user-agent", "grpc")], [("authorization", "Basic abc")], [("authorization", "Bearer")]],
)
def test_missing_credentials_say_what_to_send(metadata):
    with pytest.raises(Unauthenticated, match="authorization: Bearer <token>"):
        auth.bearer_token(metadata)


def test_only_admins_pass_require_admin():
    auth.require_admin(auth.issue_token(user(Role.ADMIN), secret=SECRET, lifetime=HOUR).claims)

    with pytest.raises(PermissionDenied):
        auth.require_admin(auth.issue_token(user(), secret=SECRET, lifetime=HOUR).claims)


# The cluster token


def test_trainer_calls_need_the_cluster_token():
    auth.check_cluster_token([("authorization", "Bearer s3cret")], expected="s3cret")

    with pytest.raises(Unauthenticated, match="wrong cluster token"):
        auth.check_cluster_token([("authorization", "Bearer s3cre")], expected="s3cret")
    with pytest.raises(Unauthenticated, match="cluster token"):
        auth.check_cluster_token([], expected="s3cret")


def test_the_cluster_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch):
    compared: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)

    auth.check_cluster_token([("authorization", "Bearer s3cret")], expected="s3cret")

    assert compared == [(b"s3cret", b"s3cret")]
