"""Logging in through the gateway and being known by the token, on the real scheduler.

Failed logins are throttled per client address as well as per username (issue #12): clients
here log in from different loopback addresses (127.0.0.2, 127.0.0.3, ...), and the gateway
tells the scheduler which, vouched for with the cluster token.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack
from tests.stack import ADMIN_PASSWORD

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

Answer = tuple[int, Any]


def run(tmp_path: Path, nats_url: str, scenario: Any) -> Any:
    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            return await scenario(gateway)

    return asyncio.run(main())


async def post_token(gateway: Gateway, **options: Any) -> tuple[int, Any, dict[str, str]]:
    async with gateway.http.post(f"{API}/auth/token", **options) as response:
        return response.status, await response.json(), dict(response.headers)


async def login_from(gateway: Gateway, address: str, username: str, password: str) -> Answer:
    """A login from the loopback address `address`, as a client there would make it."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with (
        aiohttp.ClientSession(gateway.url, connector=connector) as http,
        http.post(f"{API}/auth/token", data={"username": username, "password": password}) as r,
    ):
        return r.status, await r.json()


async def me(gateway: Gateway, headers: dict[str, str]) -> Answer:
    async with gateway.http.get(f"{API}/auth/me", headers=headers) as response:
        return response.status, await response.json()


def test_the_oauth2_form_and_json_both_log_in(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        form = await post_token(
            gateway,
            data={"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD},
        )
        as_json = await post_token(gateway, json={"username": "admin", "password": ADMIN_PASSWORD})
        whoami = await me(gateway, bearer(as_json[1]["access_token"]))
        return form, as_json, whoami

    form, as_json, (status, user) = run(tmp_path, nats_url, scenario)

    for code, body, headers in (form, as_json):
        assert code == 200
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["access_token"].count(".") == 2
        assert body["user"]["username"] == "admin"
        assert headers["Cache-Control"] == "no-store"
    assert status == 200
    assert (user["username"], user["role"]) == ("admin", "ROLE_ADMIN")


def test_wrong_and_missing_credentials(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        return {
            "wrong password": await post_token(
                gateway, data={"username": "admin", "password": "not-the-password"}
            ),
            "no password": await post_token(gateway, json={"username": "admin"}),
            "other grant": await post_token(
                gateway, data={"grant_type": "client_credentials", "username": "a"}
            ),
            "not json": await post_token(
                gateway, data=b"{", headers={"Content-Type": "application/json"}
            ),
            "me without token": (*await me(gateway, {}), {}),
            "me with forged token": (*await me(gateway, bearer("a.b.c")), {}),
        }

    answers = run(tmp_path, nats_url, scenario)

    assert answers["wrong password"][0] == 401
    assert answers["wrong password"][1]["error"]["message"] == "wrong username or password"
    assert answers["wrong password"][2]["WWW-Authenticate"].startswith("Bearer")
    assert answers["no password"][0] == 422
    assert answers["no password"][1]["error"]["details"][0]["field"] == "password"
    assert answers["other grant"][0] == 400
    assert answers["other grant"][1]["error"]["code"] == "unsupported_grant_type"
    assert answers["not json"][0] == 400
    assert answers["me without token"][0] == 401
    assert answers["me with forged token"][0] == 401
    assert "log in" in answers["me with forged token"][1]["error"]["message"]


def test_repeated_failures_are_throttled_with_a_retry_after(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        answers = []
        for _ in range(7):
            answers.append(
                await post_token(gateway, data={"username": "admin", "password": "wrong-guess"})
            )
        return answers

    answers = run(tmp_path, nats_url, scenario)

    assert answers[0][0] == 401
    status, body, headers = answers[-1]
    assert status == 429
    assert body["error"]["code"] == "resource_exhausted"
    assert int(headers["Retry-After"]) >= 1


def test_only_an_admin_creates_users(tmp_path: Path, nats_url: str):
    async def create(gateway: Gateway, token: str, body: Any) -> Answer:
        async with gateway.http.post(f"{API}/users", json=body, headers=bearer(token)) as response:
            return response.status, await response.json()

    async def scenario(gateway: Gateway):
        admin = await gateway.admin()
        alice = {"username": "alice", "password": "alice-password"}
        return {
            "created": await create(gateway, admin, alice),
            "again": await create(gateway, admin, alice),
            "short password": await create(gateway, admin, {"username": "b", "password": "x"}),
            "bad role": await create(gateway, admin, {**alice, "role": "root"}),
            "by alice": await create(
                gateway,
                await gateway.login("alice", "alice-password"),
                {"username": "carol", "password": "carol-password"},
            ),
        }

    answers = run(tmp_path, nats_url, scenario)

    assert answers["created"][0] == 201
    assert (answers["created"][1]["username"], answers["created"][1]["role"]) == (
        "alice",
        "ROLE_USER",
    )
    assert answers["again"][0] == 409
    assert answers["short password"][0] == 422
    assert answers["short password"][1]["error"]["details"][0]["field"] == "password"
    assert answers["bad role"][0] == 422
    assert answers["by alice"][0] == 403


def test_failing_as_admin_from_one_address_does_not_lock_admin_out_at_another(
    tmp_path: Path, nats_url: str
):
    async def scenario(gateway: Gateway):
        attempts = [
            await login_from(gateway, "127.0.0.2", "admin", "a-wrong-guess") for _ in range(7)
        ]
        admin = await login_from(gateway, "127.0.0.3", "admin", ADMIN_PASSWORD)
        return attempts, admin

    attempts, admin = run(tmp_path, nats_url, scenario)

    assert attempts[-1][0] == 429
    assert "for 'admin'" in attempts[-1][1]["error"]["message"]
    assert admin[0] == 200


def test_one_address_trying_many_usernames_is_throttled(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        # Each a name never seen before: no per-username limit ever applies.
        attempts = [
            await login_from(gateway, "127.0.0.4", f"someone-{n}", "a-guess") for n in range(21)
        ]
        elsewhere = await login_from(gateway, "127.0.0.5", "admin", ADMIN_PASSWORD)
        return attempts, elsewhere

    attempts, elsewhere = run(tmp_path, nats_url, scenario)

    assert [status for status, _ in attempts[:20]] == [401] * 20
    assert attempts[20][0] == 429
    assert "from your address" in attempts[20][1]["error"]["message"]
    assert elsewhere[0] == 200
