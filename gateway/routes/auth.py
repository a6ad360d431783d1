"""Logging in and knowing who you are: `POST auth/token`, `GET auth/me`, and `POST users`.

`auth/token` is an OAuth2 password-grant token endpoint (RFC 6749 §4.3), so OAuth2 clients and
the OpenAPI UI's "Authorize" button work unchanged: it takes the form fields `username`,
`password` and optionally `grant_type=password`, or the same as a JSON object, and answers
`{access_token, token_type, expires_in, ...}`. The token then goes in `Authorization: Bearer`.
Failed logins are throttled per client address, which the gateway tells the scheduler
(`gateway.forwarding`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

from azuraforge.v1 import auth_pb2
from gateway.errors import ApiError, invalid, quote
from gateway.forwarding import vouched_address
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.metadata import call_metadata
from gateway.routes import API
from gateway.routes.request import credentials, form_fields, json_object, optional_string

routes = web.RouteTableDef()

LOGIN_FIELDS = frozenset({"username", "password", "grant_type", "scope", "client_id"})
USER_FIELDS = frozenset({"username", "password", "role"})
ROLES = {"user": auth_pb2.ROLE_USER, "admin": auth_pb2.ROLE_ADMIN}
# A token response must not be cached by the browser or a proxy (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@routes.post(f"{API}/auth/token")
async def issue_token(request: web.Request) -> web.Response:
    fields = await _login_fields(request)
    grant_type = optional_string(fields, "grant_type")
    if grant_type not in ("", "password"):
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "unsupported_grant_type",
            f"grant_type {quote(grant_type)} is not supported; use grant_type=password",
        )
    username = _required_string(fields, "username")
    password = _required_string(fields, "password")
    stubs = scheduler(request)
    response = await stubs.auth.Login(
        auth_pb2.LoginRequest(username=username, password=password),
        metadata=call_metadata(request) + vouched_address(request),
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response), headers=NO_STORE)


@routes.get(f"{API}/auth/me")
async def who_am_i(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    response = await stubs.auth.WhoAmI(
        auth_pb2.WhoAmIRequest(), metadata=credentials(request), timeout=stubs.timeout
    )
    return web.json_response(to_json(response.user))


@routes.post(f"{API}/users")
async def create_user(request: web.Request) -> web.Response:
    """Add an account (admins only); `role` is `user` (the default) or `admin`."""
    metadata = credentials(request)
    data = await json_object(request, USER_FIELDS)
    role_name = optional_string(data, "role") or "user"
    if role_name not in ROLES:
        raise invalid("role", f"must be one of {', '.join(ROLES)}, got {quote(role_name)}")
    stubs = scheduler(request)
    response = await stubs.auth.CreateUser(
        auth_pb2.CreateUserRequest(
            username=optional_string(data, "username"),
            password=optional_string(data, "password"),
            role=ROLES[role_name],
        ),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response.user), status=HTTPStatus.CREATED)


async def _login_fields(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await json_object(request, LOGIN_FIELDS)
    return await form_fields(request)


def _required_string(fields: dict[str, Any], key: str) -> str:
    value = optional_string(fields, key)
    if not value:
        raise invalid(key, "is required")
    return value
