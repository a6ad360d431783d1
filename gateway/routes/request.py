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

from gateway.errors import ApiError, invalid, quote, shorten
from gateway.metadata import call_metadata
from gateway.routes import API

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


async def json_object(request: web.Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object body, refusing keys outside `allowed` (a typo is an error)."""
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
    for key in data:
        if key not in allowed:
            raise invalid(key, f"unknown field; use {', '.join(sorted(allowed))}")
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


def optional_string(data: dict[str, Any], key: str) -> str:
    """`data[key]` when it is a string, '' when absent or null; 422 for anything else."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(key, "must be a string")
    return value


def optional_whole_number(data: dict[str, Any], key: str, low: int, high: int) -> int | None:
    """`data[key]` as a whole number in `[low, high]`, None when absent or null; 422 otherwise.

    JSON has one kind of number, so `2.0` is the whole number 2 (as JSON Schema's `integer`
    says); `1.5`, `true` and `"2"` are refused.
    """
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        got = value if isinstance(value, float) else _json_kind(value)
        raise invalid(key, f"must be a whole number from {low} to {high}, got {got}")
    if not low <= value <= high:
        raise invalid(key, f"must be {low} to {high}, got {value}")
    return value


def _json_kind(value: object) -> str:
    """What a JSON value is, in JSON's words, to name it without echoing it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = ((str, "a string"), (list, "an array"), (dict, "an object"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def integer_query(request: web.Request, name: str, low: int, high: int) -> int | None:
    """The query parameter `name` as a whole number in `[low, high]`; None when absent."""
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise invalid(name, f"must be a whole number, got {quote(text)}") from None
    if not low <= value <= high:
        raise invalid(name, f"must be {low} to {high}, got {value}")
    return value
