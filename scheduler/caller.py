"""Who is calling: which credentials each RPC needs, and the verified caller of the current one.

Every RPC of `AuthService`, `SchedulerService` and `SweepService` needs credentials, decided
here by method name so that an RPC added later needs a user's token unless it is listed
otherwise:

- `AuthService.Login` needs none (it is how a token is got);
- `SchedulerService.RegisterTrainer` and `TrainerHeartbeat` need the cluster token;
- everything else needs a user's access token, `authorization: Bearer <JWT>`.

Health and reflection are other services and stay open, so probes and `grpcurl list` work.

`scheduler.interceptors` checks the credentials before the servicer runs and binds the verified
`Caller` to the RPC's task; the servicer reads it with `current_caller()`. So a servicer cannot
forget the check, and its code reads the caller as a plain typed value.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from azuraforge.v1 import auth_pb2, scheduler_pb2, sweep_pb2
from scheduler.auth import check_cluster_token, claims_from_metadata
from scheduler.records import Caller

AUTH_SERVICE = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
SCHEDULER_SERVICE = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name
SWEEP_SERVICE = sweep_pb2.DESCRIPTOR.services_by_name["SweepService"].full_name


class Credentials(enum.Enum):
    """What an RPC must carry."""

    NONE = "none"
    USER_TOKEN = "user token"
    CLUSTER_TOKEN = "cluster token"


EXCEPTIONS: dict[str, Credentials] = {
    f"/{AUTH_SERVICE}/Login": Credentials.NONE,
    f"/{SCHEDULER_SERVICE}/RegisterTrainer": Credentials.CLUSTER_TOKEN,
    f"/{SCHEDULER_SERVICE}/TrainerHeartbeat": Credentials.CLUSTER_TOKEN,
}
PROTECTED = (f"/{AUTH_SERVICE}/", f"/{SCHEDULER_SERVICE}/", f"/{SWEEP_SERVICE}/")

_caller: ContextVar[Caller] = ContextVar("forge_caller")


def credentials_for(method: str) -> Credentials | None:
    """What the RPC `method` (`/package.Service/Method`) needs; None for another service's."""
    if not method.startswith(PROTECTED):
        return None
    return EXCEPTIONS.get(method, Credentials.USER_TOKEN)


def authenticate(
    needed: Credentials,
    metadata: Sequence[tuple[str, str | bytes]],
    *,
    jwt_secret: str,
    cluster_token: str,
) -> Caller | None:
    """The verified caller when `needed` is a user token, else None; `Unauthenticated` if bad."""
    if needed is Credentials.USER_TOKEN:
        return claims_from_metadata(metadata, secret=jwt_secret).caller
    if needed is Credentials.CLUSTER_TOKEN:
        check_cluster_token(metadata, expected=cluster_token)
    return None


@contextmanager
def bound_caller(caller: Caller | None) -> Iterator[None]:
    """Make `caller` the current RPC's caller while the block runs."""
    if caller is None:
        yield
        return
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


def current_caller() -> Caller:
    """The verified caller of the RPC being served.

    Only RPCs that need a user token have one; asking in any other is a bug in the scheduler.
    """
    try:
        return _caller.get()
    except LookupError:
        raise RuntimeError(
            "current_caller() called outside an RPC that needs a user token"
        ) from None
