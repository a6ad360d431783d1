"""`AuthService`: logins, the caller's own account, and new accounts (admins only).

The rules (argon2id hashes, throttling, token claims) are `scheduler.auth`'s; this module only
runs them off the event loop, since a password check is deliberately slow (tens of ms of CPU
and 64 MiB), and shapes the answers. A login counts against the client address that
`scheduler.client_address` finds: the caller's own, or the one a gateway vouches for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc.aio
from argon2 import PasswordHasher

from azuraforge.v1 import auth_pb2, auth_pb2_grpc
from scheduler.auth import (
    DEFAULT_HASHER,
    DEFAULT_THROTTLE,
    IssuedToken,
    PermissionDenied,
    Unauthenticated,
    authenticate,
    create_user,
    issue_token,
)
from scheduler.caller import current_caller
from scheduler.client_address import login_address
from scheduler.convert import role_from_proto, timestamp, user_to_proto
from scheduler.errors import BadRequest
from scheduler.records import UserRecord
from scheduler.store import NotFound, Store
from scheduler.throttle import LoginThrottle

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class Security:
    """How accounts are checked and tokens issued; tests use a cheap hasher."""

    jwt_secret: str = field(repr=False)
    token_lifetime: timedelta
    hasher: PasswordHasher = DEFAULT_HASHER
    throttle: LoginThrottle = DEFAULT_THROTTLE


def login_response(issued: IssuedToken, user: UserRecord) -> auth_pb2.LoginResponse:
    return auth_pb2.LoginResponse(
        access_token=issued.access_token,
        token_type="bearer",
        expires_in=issued.expires_in,
        expires_at=timestamp(issued.claims.expires_at),
        user=user_to_proto(user),
    )


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """The RPCs of `azuraforge.v1.AuthService`."""

    def __init__(self, store: Store, security: Security, *, cluster_token: str) -> None:
        self.store = store
        self.security = security
        self.cluster_token = cluster_token

    async def Login(
        self, request: auth_pb2.LoginRequest, context: Context
    ) -> auth_pb2.LoginResponse:
        # grpc-stubs type the metadata loosely; it is (key, value) pairs.
        metadata: list[tuple[str, str | bytes]] = list(context.invocation_metadata() or ())
        address = login_address(metadata, context.peer(), cluster_token=self.cluster_token)
        user = await asyncio.to_thread(
            authenticate,
            self.store,
            request.username,
            request.password,
            address=address,
            throttle=self.security.throttle,
            hasher=self.security.hasher,
        )
        issued = issue_token(
            user, secret=self.security.jwt_secret, lifetime=self.security.token_lifetime
        )
        return login_response(issued, user)

    async def WhoAmI(
        self, request: auth_pb2.WhoAmIRequest, context: Context
    ) -> auth_pb2.WhoAmIResponse:
        try:
            user = await asyncio.to_thread(self.store.get_user, current_caller().user_id)
        except NotFound:
            raise Unauthenticated("the account of this token no longer exists") from None
        return auth_pb2.WhoAmIResponse(user=user_to_proto(user))

    async def CreateUser(
        self, request: auth_pb2.CreateUserRequest, context: Context
    ) -> auth_pb2.CreateUserResponse:
        if not current_caller().is_admin:
            raise PermissionDenied("only an admin may create users; ask one to add the account")
        try:
            role = role_from_proto(request.role)
        except ValueError as error:
            raise BadRequest.field("role", "enum", f"role: {error}") from None
        user = await asyncio.to_thread(
            create_user,
            self.store,
            request.username,
            request.password,
            role,
            hasher=self.security.hasher,
        )
        return auth_pb2.CreateUserResponse(user=user_to_proto(user))
