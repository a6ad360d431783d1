"""Who may call what: passwords, access tokens, login throttling and the cluster token.

- Passwords are stored as argon2id hashes (`argon2-cffi`'s defaults, the RFC 9106 low-memory
  profile: 64 MiB, 3 passes, 4 lanes), memory-hard so that a stolen database is slow to crack.
  Hashes made with weaker parameters are upgraded at the next successful login.
- Logins give an HS256 JWT with the claims `sub` (user id), `role`, `iat`, `exp` and `jti`. A
  token stands for its user until it expires; there is no revocation list, which keeps every
  RPC free of a database read, so `FORGE_TOKEN_LIFETIME_SECONDS` bounds how long a leaked one
  is good for.
- Repeated failed logins are throttled per username and client address, and per address (the
  policy is in `scheduler.throttle`). An unknown username costs the same password check as a
  known one, against one dummy hash made once, and fails with the same error, so neither the
  answer nor its timing tells whether an account exists.
- Trainers authenticate with the cluster token, compared in constant time.

Every failure is an `AuthError` subclass that the servicers map to one gRPC status code
(`Unauthenticated` -> UNAUTHENTICATED, `Throttled` -> RESOURCE_EXHAUSTED, `PermissionDenied` ->
PERMISSION_DENIED, `InvalidAccount` -> INVALID_ARGUMENT).
"""

from __future__ import annotations

import functools
import hmac
import math
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scheduler.db.models import USERNAME_LENGTH, Role
from scheduler.quoting import quote
from scheduler.records import Caller, UserRecord
from scheduler.store import AlreadyExists, Store
from scheduler.throttle import LoginThrottle, LoginWait

DEFAULT_HASHER = PasswordHasher()
DEFAULT_THROTTLE = LoginThrottle()
JWT_ALGORITHM = "HS256"
ADMIN_USERNAME = "admin"
# Letters, digits and . _ @ -, starting with a letter or digit: safe in URLs, logs and NATS.
USERNAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{USERNAME_LENGTH - 1}}}")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
GENERATED_PASSWORD_BYTES = 18


class AuthError(Exception):
    """A call is refused; the message says why and what to do."""


class Unauthenticated(AuthError):
    """No token, a bad one, or a wrong username or password."""


class TokenExpired(Unauthenticated):
    """The token was good but has expired: log in again."""


class InvalidCredentials(Unauthenticated):
    """The username or the password is wrong (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class Throttled(AuthError):
    """Too many failed logins: `retry_after` seconds until the next try.

    `username` names the account tried too often from this address; None means the address
    failed too often, whatever the names.
    """

    def __init__(self, username: str | None, retry_after: float) -> None:
        which = "from your address" if username is None else f"for {quote(username)}"
        seconds = math.ceil(retry_after)
        super().__init__(
            f"too many failed logins {which}; "
            f"try again in {seconds} second{'' if seconds == 1 else 's'}"
        )
        self.retry_after = retry_after


class PermissionDenied(AuthError):
    """The caller is known but not allowed to do this."""


class InvalidAccount(AuthError, ValueError):
    """A username or password that cannot be used for an account; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TokenClaims:
    """What a verified access token says."""

    user_id: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    token_id: str

    @property
    def caller(self) -> Caller:
        return Caller(self.user_id, self.role)


@dataclass(frozen=True)
class IssuedToken:
    """A fresh access token and what it says, for `LoginResponse`."""

    access_token: str
    claims: TokenClaims

    @property
    def expires_in(self) -> int:
        """Whole seconds from issue to expiry."""
        return int((self.claims.expires_at - self.claims.issued_at).total_seconds())


# Passwords


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(
    password_hash: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidAccount(
            "username",
            f"username {quote(username)} must be 1 to {USERNAME_LENGTH} letters, digits or "
            ". _ @ -, starting with a letter or digit",
        )


def check_password(password: str, field: str = "password") -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidAccount(
            field,
            f"{field} must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long",
        )


# Accounts


def create_user(
    store: Store,
    username: str,
    password: str,
    role: Role = Role.USER,
    *,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> UserRecord:
    """Add an account after checking its name and password; `AlreadyExists` if taken."""
    check_username(username)
    check_password(password)
    return store.create_user(username, hash_password(password, hasher=hasher), role)


def ensure_admin(
    store: Store, password: str | None, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> str | None:
    """Create the `admin` account if there is no admin yet.

    With `password` None (FORGE_ADMIN_PASSWORD unset) a random password is generated and
    returned, for the caller to print once; otherwise returns None. Once an admin exists this
    does nothing, so changing FORGE_ADMIN_PASSWORD later does not change the password, as with
    Grafana's admin password.
    """
    if store.count_users(Role.ADMIN) > 0:
        return None
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    check_password(password, "FORGE_ADMIN_PASSWORD")
    try:
        store.create_user(ADMIN_USERNAME, hash_password(password, hasher=hasher), Role.ADMIN)
    except AlreadyExists:
        # Another scheduler created it at the same moment; its password is the one that holds.
        return None
    return generated


def authenticate(
    store: Store,
    username: str,
    password: str,
    *,
    address: str,
    throttle: LoginThrottle = DEFAULT_THROTTLE,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> UserRecord:
    """The user whose username and password these are, tried from the client `address`.

    Raises `Throttled` while the address, or this username from it, has failed too often
    (without checking the password) and `InvalidCredentials` for a wrong name or password.
    """
    storable = 0 < len(username) <= USERNAME_LENGTH
    reserved = store.reserve_login_attempt(username if storable else None, address, throttle)
    if isinstance(reserved, LoginWait):
        throttled_name = username if reserved.account >= reserved.address else None
        raise Throttled(throttled_name, reserved.longest.total_seconds())
    credentials = store.find_credentials(username) if storable else None
    if credentials is None:
        verify_password(dummy_hash(hasher), password, hasher=hasher)
        raise InvalidCredentials()
    if not verify_password(credentials.password_hash, password, hasher=hasher):
        raise InvalidCredentials()
    store.forgive_login_attempt(username, address, reserved)
    if hasher.check_needs_rehash(credentials.password_hash):
        store.set_password_hash(credentials.user.id, hash_password(password, hasher=hasher))
    return credentials.user


@functools.cache
def dummy_hash(hasher: PasswordHasher) -> str:
    """A hash made once with `hasher`'s parameters, to verify against when there is no user.

    Verifying against it costs what checking a real password does, so an unknown username
    takes as long as a known one; made once, it costs nothing more per name tried. The
    scheduler makes it at start, so that the first unknown name is not slower either.
    """
    return hasher.hash(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


# Access tokens


def issue_token(
    user: UserRecord, *, secret: str, lifetime: timedelta, now: datetime | None = None
) -> IssuedToken:
    """A signed access token for `user`, valid for `lifetime` from `now`."""
    issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = TokenClaims(
        user_id=user.id,
        role=user.role,
        issued_at=issued_at,
        expires_at=issued_at + lifetime,
        token_id=uuid.uuid4().hex,
    )
    payload = {
        "sub": claims.user_id,
        "role": claims.role.value,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": claims.token_id,
    }
    return IssuedToken(jwt.encode(payload, secret, algorithm=JWT_ALGORITHM), claims)


def verify_token(token: str, *, secret: str) -> TokenClaims:
    """The claims of a token this scheduler (or one sharing its secret) issued and still valid.

    Raises `TokenExpired` for an expired one and `Unauthenticated` for anything else wrong:
    a bad signature, another algorithm, a missing claim or an unknown role.
    """
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "role", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("the access token has expired; log in again") from None
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"invalid access token ({error}); log in again") from None
    try:
        return TokenClaims(
            user_id=str(payload["sub"]),
            role=Role(payload["role"]),
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            token_id=str(payload["jti"]),
        )
    except (ValueError, TypeError):
        raise Unauthenticated("invalid access token (bad claims); log in again") from None


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    """The token in gRPC metadata `authorization: Bearer <token>`."""
    for key, value in metadata:
        if key.lower() != "authorization":
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        break
    raise Unauthenticated(
        "missing credentials: send gRPC metadata `authorization: Bearer <token>`"
        " with a token from AuthService.Login"
    )


def claims_from_metadata(
    metadata: Iterable[tuple[str, str | bytes]], *, secret: str
) -> TokenClaims:
    """Verify the access token of an RPC; see `bearer_token` and `verify_token`."""
    return verify_token(bearer_token(metadata), secret=secret)


def require_admin(claims: TokenClaims) -> None:
    if claims.role is not Role.ADMIN:
        raise PermissionDenied("only an admin may do this")


# The cluster token


def check_cluster_token(metadata: Iterable[tuple[str, str | bytes]], *, expected: str) -> None:
    """Refuse a trainer RPC that does not carry `authorization: Bearer <cluster token>`."""
    try:
        presented = bearer_token(metadata)
    except Unauthenticated:
        raise Unauthenticated(
            "trainer calls need gRPC metadata `authorization: Bearer <cluster token>`"
            " (FORGE_CLUSTER_TOKEN, or the cluster-token file in the scheduler's FORGE_DATA_DIR)"
        ) from None
    # compare_digest takes as long for a near miss as for a wild guess.
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthenticated("wrong cluster token: use the scheduler's FORGE_CLUSTER_TOKEN")
