"""Reading what a client sent: its credentials, its JSON body and its query parameters.

Each reader answers a malformed request with a 4xx `ApiError` naming what to fix, so that no
handler has a path where something a client sent becomes a 500.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.errors import ApiError, invalid, shorten
from gateway.metadata import call_metadata
from gateway.routes import API
from gateway.routes.bodies import Model, parse

MISSING_CREDENTIALS = (
    "missing credentials: send `Authorization: Bearer <token>` with a token from "
    f"POST {API}/auth/token"
)


def credentials(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The scheduler call metadata of a request that must carry a token.

    Only the header's presence is checked here, to answer with HTTP words; whether the token is
    any good is the scheduler's to say.
    """
    if not request.headers.get("Authorization", "").strip():
        raise ApiError(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            MISSING_CREDENTIALS,
            headers={"WWW-Authenticate": 'Bearer realm="azuraforge"'},
        )
    return call_metadata(request)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; which keys it may have is its model's to say
    (`gateway.routes.bodies`)."""
    if not request.body_exists:
        raise invalid("body", "send a JSON object")
    try:
        data = await request.json()
    except (ValueError, LookupError, RecursionError) as error:
        # Not JSON, not in its declared charset (or an unknown one), or nested past reason.
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "bad_request", f"the body is not valid JSON ({error})"
        ) from None
    if not isinstance(data, dict):
        raise invalid("body", "must be a JSON object")
    _refuse_non_finite(data)
    return data


def _refuse_non_finite(data: dict[str, Any]) -> None:
    """422 naming the first number that is NaN or infinite, which JSON has no room for.

    Python's parser reads the literals `NaN`, `Infinity` and `-Infinity`, and a number too
    large for a double (`1e99999`) as infinity; the scheduler refuses them too, but naming
    them here saves a call. Walked with a stack, not recursion: the body may nest as deep as
    the parser allowed.
    """
    pending: list[tuple[str, Any]] = [(shorten(key), value) for key, value in data.items()]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            got = json.dumps(value)
            raise invalid(path, f"must be a finite number (JSON has no NaN or Infinity), got {got}")
        if isinstance(value, dict):
            pending.extend((f"{path}.{shorten(key)}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}", item) for index, item in enumerate(value))


async def form_fields(request: web.Request) -> dict[str, str]:
    """The text fields of a form body (urlencoded or multipart); 400 for a malformed one."""
    try:
        form = await request.post()
    except (ValueError, LookupError, HttpProcessingError) as error:
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "bad_request", f"the body is not a valid form ({error})"
        ) from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


def query(request: web.Request, model: type[Model]) -> Model:
    """The query parameters as a `model`: every value of a list field, the first of others;
    parameters it does not take are ignored, as a query's are."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        values = request.query.getall(name, [])
        if values:
            data[name] = values if _is_list(info.annotation) else values[0]
    return parse(model, data)


def _is_list(annotation: object) -> bool:
    return getattr(annotation, "__origin__", None) is list
