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

from aiohttp import web

from azuraforge.v1 import auth_pb2
from gateway.forwarding import vouched_address
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.metadata import call_metadata
from gateway.routes import API
from gateway.routes.bodies import LoginForm, NewUser, parse
from gateway.routes.request import credentials, form_fields, json_object

routes = web.RouteTableDef()

ROLES = {"user": auth_pb2.ROLE_USER, "admin": auth_pb2.ROLE_ADMIN}
# A token response must not be cached by the browser or a proxy (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@routes.post(f"{API}/auth/token")
async def issue_token(request: web.Request) -> web.Response:
    form = await _login_form(request)
    stubs = scheduler(request)
    response = await stubs.auth.Login(
        auth_pb2.LoginRequest(username=form.username, password=form.password),
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
    user = parse(NewUser, await json_object(request))
    stubs = scheduler(request)
    response = await stubs.auth.CreateUser(
        auth_pb2.CreateUserRequest(
            username=user.username, password=user.password, role=ROLES[user.role]
        ),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response.user), status=HTTPStatus.CREATED)


async def _login_form(request: web.Request) -> LoginForm:
    if request.content_type == "application/json":
        return parse(LoginForm, await json_object(request))
    # A form's other fields are ignored, as OAuth2 clients send what they like.
    fields = await form_fields(request)
    return parse(LoginForm, {k: v for k, v in fields.items() if k in LoginForm.model_fields})
