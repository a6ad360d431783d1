"""What every answer has in common: gRPC errors as HTTP, request ids, limits, headers, CORS.

Against a real gateway in front of `Refuser`, a real gRPC server that ends every call with
the status a test picks (see refuser.py), so each mapping is checked over a real channel.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.rpc.status_pb2 import Status
from yarl import URL

from gateway.app import configure_logging
from gateway.settings import GatewaySettings
from scheduler.errors import BadRequest, Throttled, status_for
from tests.gateway.harness import API, LoneGateway, bearer, lone_gateway
from tests.gateway.refuser import Refuser, running_refuser

pytestmark = pytest.mark.timeout(60)

TOKEN = bearer("a-token")
EXPECTED_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 503,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 502,
    grpc.StatusCode.UNKNOWN: 502,
    grpc.StatusCode.DATA_LOSS: 502,
}


@asynccontextmanager
async def refused(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[Refuser, LoneGateway]]:
    async with running_refuser() as (refuser, address):
        base = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path / "no-webapp")
        async with lone_gateway(replace(base, **settings)) as gateway:
            yield refuser, gateway


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict[str, Any]]:
    return response.status, await response.json()


def test_every_grpc_status_has_its_http_status_and_json_error(tmp_path: Path):
    async def scenario():
        answers = {}
        async with refused(tmp_path) as (refuser, gateway):
            for code in EXPECTED_STATUS:
                refuser.code, refuser.details = code, f"the scheduler says {code.name}"
                async with gateway.http.get(f"{API}/experiments/x", headers=TOKEN) as response:
                    answers[code] = await answer(response)
        return answers

    answers = asyncio.run(scenario())

    for code, (status, body) in answers.items():
        assert status == EXPECTED_STATUS[code], code
        error = body["error"]
        assert (error["code"], error["details"]) == (code.name.lower(), []), code
        assert f"the scheduler says {code.name}" in error["message"], code


def test_an_invalid_argument_names_each_field_the_scheduler_named(tmp_path: Path):
    # The trailing metadata exactly as the scheduler writes it for a bad config.
    status = status_for(
        BadRequest.field("config.epochs", "greater_than_equal", "epochs: must be at least 1")
    )
    assert status is not None

    async def scenario():
        async with refused(tmp_path) as (refuser, gateway):
            refuser.code, refuser.details = status.code, status.message
            refuser.trailing = status.trailing_metadata
            async with gateway.http.post(
                f"{API}/experiments", json={"pipeline": "p", "config": {}}, headers=TOKEN
            ) as response:
                return await answer(response)

    code, body = asyncio.run(scenario())

    assert code == 422
    assert body["error"]["code"] == "invalid_argument"
    assert body["error"]["details"] == [
        {
            "field": "config.epochs",
            "rule": "greater_than_equal",
            "message": "epochs: must be at least 1",
        }
    ]


def test_throttling_says_when_to_retry_and_unauthenticated_how_to_authenticate(tmp_path: Path):
    throttled = status_for(Throttled("alice", 7.2))
    assert throttled is not None

    async def scenario():
        async with refused(tmp_path) as (refuser, gateway):
            refuser.code, refuser.trailing = throttled.code, throttled.trailing_metadata
            async with gateway.http.post(
                f"{API}/auth/token", data={"username": "alice", "password": "x"}
            ) as response:
                retry_after = response.status, response.headers.get("Retry-After")
            refuser.code, refuser.trailing = grpc.StatusCode.UNAUTHENTICATED, ()
            async with gateway.http.get(f"{API}/auth/me", headers=TOKEN) as response:
                challenge = response.status, response.headers.get("WWW-Authenticate")
            return retry_after, challenge

    retry_after, challenge = asyncio.run(scenario())

    assert retry_after == (429, "8")
    assert challenge == (401, 'Bearer realm="azuraforge"')


def test_details_the_gateway_cannot_read_leave_the_answer_as_it_is(tmp_path: Path):
    # Not a google.rpc.Status at all, and a Status whose detail is no BadRequest.
    other = Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad")
    other.details.add().Pack(Duration(seconds=3))
    unreadable = (("grpc-status-details-bin", b"\xff\xfenot a status"),)
    foreign = (("grpc-status-details-bin", other.SerializeToString()),)

    async def scenario():
        answers = []
        async with refused(tmp_path) as (refuser, gateway):
            for trailing in (unreadable, foreign):
                refuser.code, refuser.details = grpc.StatusCode.INVALID_ARGUMENT, "bad"
                refuser.trailing = trailing
                async with gateway.http.get(f"{API}/experiments/x", headers=TOKEN) as response:
                    answers.append(await answer(response))
        return answers

    answers = asyncio.run(scenario())

    for status, body in answers:
        assert status == 422
        assert body["error"] == {"code": "invalid_argument", "message": "bad", "details": []}


def test_a_missing_token_is_401_before_asking_the_scheduler(tmp_path: Path):
    async def scenario():
        async with (
            refused(tmp_path) as (refuser, gateway),
            gateway.http.get(f"{API}/experiments") as response,
        ):
            return await answer(response), refuser.calls

    (status, body), calls = asyncio.run(scenario())

    assert status == 401
    assert "Authorization: Bearer" in body["error"]["message"]
    assert calls == []


def test_an_unreachable_scheduler_is_503_saying_what_to_check(tmp_path: Path):
    async def scenario():
        async with running_refuser() as (_refuser, address):
            pass  # The port is free again: nothing listens there now.
        settings = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path)
        async with (
            lone_gateway(settings) as gateway,
            gateway.http.get(f"{API}/pipelines", headers=TOKEN) as response,
        ):
            return await answer(response)

    status, body = asyncio.run(scenario())

    assert status == 503
    assert body["error"]["code"] == "unavailable"
    assert "FORGE_SCHEDULER_ADDR" in body["error"]["message"]


def test_the_token_and_a_request_id_travel_to_the_scheduler_and_back(tmp_path: Path):
    async def scenario():
        ids = []
        async with refused(tmp_path) as (refuser, gateway):
            for given in (None, "trace-42", "bad id\twith\ttabs"):
                headers = {**TOKEN, **({"X-Request-ID": given} if given else {})}
                async with gateway.http.get(f"{API}/pipelines", headers=headers) as response:
                    ids.append(response.headers["X-Request-ID"])
            return ids, refuser.calls

    ids, calls = asyncio.run(scenario())

    assert re.fullmatch(r"[0-9a-f]{32}", ids[0])
    assert ids[1] == "trace-42"
    assert ids[2] != "bad id\twith\ttabs" and re.fullmatch(r"[0-9a-f]{32}", ids[2])
    assert [call[0] for call in calls] == ["ListPipelines"] * 3
    for request_id, (_name, metadata) in zip(ids, calls, strict=True):
        assert metadata["authorization"] == "Bearer a-token"
        assert metadata["x-request-id"] == request_id


def test_every_log_line_of_a_request_carries_its_request_id(tmp_path: Path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    level = root.level

    async def scenario():
        async with refused(tmp_path) as (refuser, gateway):
            refuser.code = grpc.StatusCode.NOT_FOUND
            async with gateway.http.get(
                f"{API}/experiments/x", headers={**TOKEN, "X-Request-ID": "find-me"}
            ) as response:
                assert response.status == 404
            logging.getLogger("gateway.test").info("outside any request")

    configure_logging(logging.INFO, handler)
    try:
        asyncio.run(scenario())
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    lines = stream.getvalue().splitlines()
    access = [line for line in lines if "GET /api/v1/experiments/x" in line]
    assert len(access) == 1 and "[find-me]" in access[0]
    assert any("[-] outside any request" in line for line in lines)


def test_a_body_over_the_limit_is_413_whether_or_not_its_length_is_announced(tmp_path: Path):
    big = json.dumps({"pipeline": "p", "config": {"x": "y" * 4096}}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    async def scenario():
        async with refused(tmp_path, max_body_bytes=2048) as (refuser, gateway):
            url = f"{API}/experiments"
            async with gateway.http.post(url, data=big, headers=TOKEN) as response:
                announced = await answer(response)
            async with gateway.http.post(url, data=chunks(), headers=TOKEN) as response:
                streamed = await answer(response)
            return announced, streamed, refuser.calls

    announced, streamed, calls = asyncio.run(scenario())

    for status, body in (announced, streamed):
        assert status == 413
        assert body["error"]["code"] == "payload_too_large"
        assert "2048 bytes" in body["error"]["message"]
    assert calls == []


def test_every_response_carries_the_security_headers(tmp_path: Path):
    async def scenario():
        headers = {}
        async with refused(tmp_path) as (_refuser, gateway):
            for path in (f"{API}/openapi.json", f"{API}/experiments/x", "/", f"{API}/nope"):
                async with gateway.http.get(path, headers=TOKEN) as response:
                    headers[path] = response.headers
        return headers

    for path, headers in asyncio.run(scenario()).items():
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "X-Request-ID" in headers, path
        assert "Access-Control-Allow-Origin" not in headers, path
        if path.startswith(API):
            assert headers["Cache-Control"] == "no-store", path


def test_unknown_routes_and_methods_answer_json(tmp_path: Path):
    async def scenario():
        async with refused(tmp_path) as (_refuser, gateway):
            async with gateway.http.get(f"{API}/no-such-thing") as response:
                unknown = await answer(response)
            async with gateway.http.delete(f"{API}/experiments/x") as response:
                deleting = await answer(response)
            async with gateway.http.put(f"{API}/pipelines") as response:
                wrong = await answer(response), response.headers.get("Allow")
            return unknown, deleting, wrong

    unknown, deleting, wrong = asyncio.run(scenario())

    assert unknown[0] == 404 and unknown[1]["error"]["code"] == "not_found"
    assert "openapi.json" in unknown[1]["error"]["message"]
    assert deleting[0] == 405
    assert wrong[0] == (405, {"error": wrong[0][1]["error"]})
    assert wrong[0][1]["error"]["code"] == "method_not_allowed"
    assert wrong[1] is not None and "GET" in wrong[1]


def test_cors_is_off_unless_origins_are_configured(tmp_path: Path):
    site = "https://ui.example.com"
    preflight = {"Origin": site, "Access-Control-Request-Method": "POST"}

    async def scenario(**settings: Any):
        async with refused(tmp_path, **settings) as (_refuser, gateway):
            async with gateway.http.options(f"{API}/experiments", headers=preflight) as response:
                asked = response.status, response.headers
            async with gateway.http.get(
                f"{API}/openapi.json", headers={"Origin": site}
            ) as response:
                simple = response.headers
            async with gateway.http.get(
                f"{API}/openapi.json", headers={"Origin": "https://evil.example.com"}
            ) as response:
                other = response.headers
            return asked, simple, other

    (status, asked), simple, other = asyncio.run(scenario())
    assert status == 405
    assert "Access-Control-Allow-Origin" not in asked
    assert "Access-Control-Allow-Origin" not in simple

    (status, asked), simple, other = asyncio.run(scenario(cors_origins=frozenset({site})))
    assert status == 204
    assert asked["Access-Control-Allow-Origin"] == site
    assert "Authorization" in asked["Access-Control-Allow-Headers"]
    # PATCH renames an experiment.
    assert {"GET", "POST", "PATCH"} <= set(asked["Access-Control-Allow-Methods"].split(", "))
    assert simple["Access-Control-Allow-Origin"] == site
    assert "Access-Control-Allow-Origin" not in other


JSON = {"Content-Type": "application/json"}
MALFORMED: list[tuple[str, str, str, bytes | None, dict[str, str], int]] = [
    (
        "form without boundary",
        "POST",
        "/auth/token",
        b"x",
        {"Content-Type": "multipart/form-data"},
        400,
    ),
    (
        "broken multipart",
        "POST",
        "/auth/token",
        b"--x\r\nnot a header\r\n",
        {"Content-Type": "multipart/form-data; boundary=x"},
        400,
    ),
    (
        "unknown form charset",
        "POST",
        "/auth/token",
        b"username=a",
        {"Content-Type": "application/x-www-form-urlencoded; charset=bogus"},
        400,
    ),
    ("not utf-8", "POST", "/experiments", b'{"pipeline": "\xff"}', JSON, 400),
    (
        "unknown charset",
        "POST",
        "/experiments",
        b"{}",
        {"Content-Type": "application/json; charset=x"},
        400,
    ),
    ("nested past the parser", "POST", "/experiments", b"[" * 100_000 + b"]" * 100_000, JSON, 400),
    (
        "config nested too deep",
        "POST",
        "/experiments",
        b'{"pipeline": "p", "config": {"a": ' + b"[" * 20 + b"]" * 20 + b"}}",
        JSON,
        422,
    ),
    (
        "NaN in a config",
        "POST",
        "/experiments",
        b'{"pipeline": "p", "config": {"learning_rate": NaN}}',
        JSON,
        422,
    ),
    (
        "a number past a double in a login",
        "POST",
        "/auth/token",
        b'{"username": "a", "password": "b", "scope": [1e99999]}',
        JSON,
        422,
    ),
    ("non-ASCII token", "GET", "/auth/me", None, {"Authorization": "Bearer \u00e9t\u00e9"}, 401),
    ("after out of range", "GET", "/experiments/x/events?after=1" + "0" * 30, None, {}, 422),
    ("page size not a number", "GET", "/experiments?page_size=ten", None, {}, 422),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_nothing_a_client_sends_is_a_500(
    tmp_path: Path, method: str, path: str, body: bytes | None, headers: dict[str, str], status: int
):
    async def scenario():
        async with refused(tmp_path) as (refuser, gateway):
            refuser.code = grpc.StatusCode.NOT_FOUND
            url = URL(f"{API}{path}", encoded=True)
            all_headers = {**TOKEN, **headers}
            async with gateway.http.request(
                method, url, data=body, headers=all_headers
            ) as response:
                return response.status, await response.json(), refuser.calls

    answered, body_json, calls = asyncio.run(scenario())

    assert answered == status
    assert set(body_json["error"]) == {"code", "message", "details"}
    assert calls == []
