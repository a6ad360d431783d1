"""Submitting, listing, reading and cancelling experiments through the gateway.

On the real scheduler with no trainer, so experiments stay PENDING while a test looks at them.
The requests the gateway refuses itself (not JSON, a misspelt field) need no stack at all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.settings import GatewaySettings
from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack, lone_gateway

pytestmark = [pytest.mark.timeout(180)]
on_stack = pytest.mark.usefixtures("probe_pipeline")

Answer = tuple[int, Any]


def run(tmp_path: Path, nats_url: str, scenario: Any) -> Any:
    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            return await scenario(gateway)

    return asyncio.run(main())


async def call(
    http: aiohttp.ClientSession, method: str, path: str, token: str | None, **options: Any
) -> Answer:
    headers = {**(bearer(token) if token else {}), **options.pop("headers", {})}
    async with http.request(method, f"{API}{path}", headers=headers, **options) as response:
        return response.status, await response.json()


def field_of(answer: Answer) -> str:
    status, body = answer
    assert status == 422, answer
    assert body["error"]["code"] == "invalid_argument", answer
    return str(body["error"]["details"][0]["field"])


@on_stack
def test_pipelines_come_with_their_config_schemas(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        return await call(gateway.http, "GET", "/pipelines", token), await call(
            gateway.http, "GET", "/pipelines", None
        )

    (status, body), anonymous = run(tmp_path, nats_url, scenario)

    assert status == 200
    probe = next(p for p in body["pipelines"] if p["name"] == "trainer_probe")
    assert probe["config_schema"]["properties"]["epochs"]["default"] == 3
    assert anonymous[0] == 401


@on_stack
def test_a_submitted_experiment_is_pending_at_its_location(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        async with gateway.http.post(
            f"{API}/experiments",
            json={"pipeline": "trainer_probe", "config": {"epochs": 2}},
            headers=bearer(token),
        ) as response:
            status, submitted, location = (
                response.status,
                await response.json(),
                response.headers["Location"],
            )
        async with gateway.http.get(location, headers=bearer(token)) as response:
            fetched = await response.json()
        return status, submitted, location, fetched

    status, submitted, location, fetched = run(tmp_path, nats_url, scenario)

    assert status == 201
    assert location == f"{API}/experiments/{submitted['experiment_id']}"
    assert submitted["status"] == "EXPERIMENT_STATUS_PENDING"
    assert submitted["config"]["epochs"] == 2
    assert submitted["config"]["batch_size"] == 8  # The pipeline's default, filled in.
    assert submitted["owner"] == "admin"
    assert submitted["epochs_done"] == 0
    assert fetched == submitted


@on_stack
def test_a_bad_submission_is_422_naming_the_field_and_a_huge_one_413(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()

        async def submit(body: Any) -> Answer:
            return await call(gateway.http, "POST", "/experiments", token, json=body)

        return {
            "epochs": await submit({"pipeline": "trainer_probe", "config": {"epochs": 0}}),
            "unknown key": await submit({"pipeline": "trainer_probe", "config": {"epoks": 2}}),
            "pipeline": await submit({"pipeline": "no_such_pipeline"}),
            "huge": await submit({"pipeline": "trainer_probe", "config": {"x": "y" * 2**21}}),
        }

    answers = run(tmp_path, nats_url, scenario)

    assert field_of(answers["epochs"]) == "config.epochs"
    assert "epochs" in answers["epochs"][1]["error"]["message"]
    assert field_of(answers["unknown key"]) == "config.epoks"
    assert field_of(answers["pipeline"]) == "pipeline"
    assert answers["huge"][0] == 413
    assert answers["huge"][1]["error"]["code"] == "payload_too_large"


@on_stack
def test_listing_pages_and_filters(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        ids = [(await gateway.submit(token))["experiment_id"] for _ in range(3)]
        await call(gateway.http, "POST", f"/experiments/{ids[0]}/cancel", token)
        first = await call(gateway.http, "GET", "/experiments?page_size=2", token)
        token_2 = first[1]["next_page_token"]
        second = await call(
            gateway.http,
            "GET",
            "/experiments",
            token,
            params={"page_size": 2, "page_token": token_2},
        )
        return {
            "ids": ids,
            "first": first,
            "second": second,
            "cancelled": await call(gateway.http, "GET", "/experiments?status=cancelled", token),
            "both": await call(
                gateway.http, "GET", "/experiments?status=CANCELLED,pending&status=running", token
            ),
            "by pipeline": await call(gateway.http, "GET", "/experiments?pipeline=other", token),
            "bad status": await call(gateway.http, "GET", "/experiments?status=done", token),
            "bad size": await call(gateway.http, "GET", "/experiments?page_size=0", token),
            "bad page token": await call(gateway.http, "GET", "/experiments?page_token=zz", token),
        }

    answers = run(tmp_path, nats_url, scenario)

    ids = answers["ids"]
    status, first = answers["first"]
    assert status == 200
    assert [e["experiment_id"] for e in first["experiments"]] == ids[::-1][:2]
    assert first["total_size"] == 3
    assert [e["experiment_id"] for e in answers["second"][1]["experiments"]] == [ids[0]]
    assert answers["second"][1]["next_page_token"] == ""
    assert [e["experiment_id"] for e in answers["cancelled"][1]["experiments"]] == [ids[0]]
    assert answers["both"][1]["total_size"] == 3
    assert answers["by pipeline"][1] == {
        "experiments": [],
        "next_page_token": "",
        "total_size": 0,
    }
    assert field_of(answers["bad status"]) == "status"
    assert field_of(answers["bad size"]) == "page_size"
    assert field_of(answers["bad page token"]) == "page_token"


@on_stack
def test_another_users_experiment_is_404_and_an_admin_sees_it(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        experiment_id = (await gateway.submit(alice))["experiment_id"]
        path = f"/experiments/{experiment_id}"
        return {
            "bob gets": await call(gateway.http, "GET", path, bob),
            "bob cancels": await call(gateway.http, "POST", f"{path}/cancel", bob),
            "bob lists": await call(gateway.http, "GET", "/experiments", bob),
            "nobody's": await call(gateway.http, "GET", "/experiments/no-such-id", bob),
            "admin gets": await call(gateway.http, "GET", path, await gateway.admin()),
            "alice gets": await call(gateway.http, "GET", path, alice),
        }

    answers = run(tmp_path, nats_url, scenario)

    assert answers["bob gets"][0] == 404
    assert answers["bob cancels"][0] == 404
    assert answers["bob lists"][1]["total_size"] == 0
    # The same answer as for an experiment that does not exist: nothing leaks.
    assert answers["nobody's"][0] == 404
    assert answers["admin gets"] == answers["alice gets"]
    assert answers["admin gets"][0] == 200


@on_stack
def test_cancelling_a_pending_experiment(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment_id = (await gateway.submit(token))["experiment_id"]
        path = f"/experiments/{experiment_id}/cancel"
        return await call(gateway.http, "POST", path, token), await call(
            gateway.http, "POST", path, token
        )

    (status, cancelled), again = run(tmp_path, nats_url, scenario)

    assert status == 200
    assert cancelled["status"] == "EXPERIMENT_STATUS_CANCELLED"
    assert again[0] in (200, 409)


def test_requests_the_gateway_can_tell_are_wrong_never_reach_the_scheduler(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", webapp_dir=tmp_path)
        async with lone_gateway(settings) as gateway:

            async def submit(**options: Any) -> Answer:
                return await call(gateway.http, "POST", "/experiments", "t", **options)

            return {
                "not json": await submit(data=b"{pipeline"),
                "array": await submit(json=[1, 2]),
                "no body": await submit(),
                "typo": await submit(json={"pipeline": "p", "confg": {}}),
                "no pipeline": await submit(json={"config": {}}),
                "number pipeline": await submit(json={"pipeline": 3}),
                "config list": await submit(json={"pipeline": "p", "config": [1]}),
                "huge number": await submit(
                    data=b'{"pipeline": "p", "config": {"x": 1' + b"0" * 400 + b"}}",
                    headers={"Content-Type": "application/json"},
                ),
            }

    answers = asyncio.run(scenario())

    assert answers["not json"][0] == 400
    assert answers["not json"][1]["error"]["code"] == "bad_request"
    assert field_of(answers["array"]) == "body"
    assert field_of(answers["no body"]) == "body"
    assert field_of(answers["typo"]) == "confg"
    assert field_of(answers["no pipeline"]) == "pipeline"
    assert field_of(answers["number pipeline"]) == "pipeline"
    assert field_of(answers["config list"]) == "config"
    assert field_of(answers["huge number"]) == "config"
