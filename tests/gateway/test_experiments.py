"""Submitting, listing, reading and cancelling experiments through the gateway.

On the real scheduler with no trainer, so experiments stay PENDING while a test looks at them
(the pipelines installed here announced all the same, `tests.stack`).
The requests the gateway refuses itself (not JSON, a misspelt field) need no stack at all, and
what it sends the scheduler is read off `Refuser`, which records each request.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from azuraforge.v1 import scheduler_pb2
from gateway.settings import GatewaySettings
from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack, lone_gateway
from tests.gateway.refuser import running_refuser

pytestmark = [pytest.mark.timeout(180)]
on_stack = pytest.mark.usefixtures("probe_pipeline")

Answer = tuple[int, Any]
# Not whole numbers from 0 to 100; JSON's 2.0 is the whole number 2, so it is not here.
BAD_MAX_RESTARTS = (-1, 101, 1.5, True, False, "2", [1], {"n": 1})


def run(tmp_path: Path, nats_url: str, scenario: Any, trainers: int = 0) -> Any:
    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, trainers=trainers) as gateway:
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

    # The pipelines live trainers run: one trainer, here.
    (status, body), anonymous = run(tmp_path, nats_url, scenario, trainers=1)

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
    # As the schema types and orders them, not as the Struct carried them (3.0, any order).
    assert type(submitted["config"]["epochs"]) is int
    assert list(submitted["config"])[:4] == ["epochs", "batch_size", "learning_rate", "seed"]
    assert type(submitted["config"]["learning_rate"]) is float
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
def test_max_restarts_is_kept_with_the_experiment(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        kept = {}
        for given in (0, 7, None):
            body: dict[str, Any] = {"pipeline": "trainer_probe"}
            if given is not None:
                body["max_restarts"] = given
            status, submitted = await call(gateway.http, "POST", "/experiments", token, json=body)
            assert status == 201, submitted
            fetched = await gateway.get(token, submitted["experiment_id"])
            kept[given] = submitted["max_restarts"], fetched["max_restarts"]
        return kept

    kept = run(tmp_path, nats_url, scenario)

    assert kept[0] == (0, 0)
    assert kept[7] == (7, 7)
    assert kept[None] == (3, 3)  # The scheduler's default, FORGE_MAX_RESTARTS.


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
                **{
                    f"max_restarts {value!r}": await submit(
                        json={"pipeline": "p", "max_restarts": value}
                    )
                    for value in BAD_MAX_RESTARTS
                },
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
    for value in BAD_MAX_RESTARTS:
        assert field_of(answers[f"max_restarts {value!r}"]) == "max_restarts"
    message = answers["max_restarts 1.5"][1]["error"]["message"]
    assert message == "max_restarts: must be a whole number from 0 to 100, got 1.5"
    assert answers["max_restarts 101"][1]["error"]["message"].endswith("got 101")


def test_max_restarts_travels_to_the_scheduler_only_when_given(tmp_path: Path):
    async def scenario():
        async with running_refuser() as (refuser, address):
            settings = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path)
            async with lone_gateway(settings) as gateway:
                for extra in (
                    {},
                    {"max_restarts": 0},
                    {"max_restarts": 100},
                    {"max_restarts": 2.0},
                ):
                    body = {"pipeline": "p", "config": {"epochs": 2}, **extra}
                    await call(gateway.http, "POST", "/experiments", "t", json=body)
            return refuser.requests

    requests: list[scheduler_pb2.SubmitExperimentRequest] = asyncio.run(scenario())

    assert [r.HasField("max_restarts") for r in requests] == [False, True, True, True]
    assert [r.max_restarts for r in requests[1:]] == [0, 100, 2]
    assert all(r.pipeline == "p" and r.config["epochs"] == 2 for r in requests)


@on_stack
def test_an_experiment_is_named_at_submission_and_renamed_with_patch(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        body = {"pipeline": "trainer_probe", "name": " baseline "}
        status, submitted = await call(gateway.http, "POST", "/experiments", alice, json=body)
        path = f"/experiments/{submitted['experiment_id']}"
        return (
            status,
            submitted,
            {
                "renamed": await call(gateway.http, "PATCH", path, alice, json={"name": "lr 0.01"}),
                "fetched": await call(gateway.http, "GET", path, alice),
                "too long": await call(
                    gateway.http, "PATCH", path, alice, json={"name": "x" * 101}
                ),
                "newline": await call(gateway.http, "PATCH", path, alice, json={"name": "a\nb"}),
                "bob's": await call(gateway.http, "PATCH", path, bob, json={"name": "mine"}),
                "nobody's": await call(
                    gateway.http, "PATCH", "/experiments/no-such-id", bob, json={"name": "x"}
                ),
                "cleared": await call(gateway.http, "PATCH", path, alice, json={"name": ""}),
                "bad at submission": await call(
                    gateway.http,
                    "POST",
                    "/experiments",
                    alice,
                    json={"pipeline": "trainer_probe", "name": "tab\there"},
                ),
            },
        )

    status, submitted, answers = run(tmp_path, nats_url, scenario)

    assert status == 201
    assert submitted["name"] == "baseline"
    assert answers["renamed"][0] == 200
    assert answers["renamed"][1]["name"] == answers["fetched"][1]["name"] == "lr 0.01"
    assert field_of(answers["too long"]) == "name"
    assert "at most 100 characters" in answers["too long"][1]["error"]["message"]
    assert field_of(answers["newline"]) == "name"
    assert field_of(answers["bad at submission"]) == "name"
    assert answers["bob's"][0] == answers["nobody's"][0] == 404
    assert answers["cleared"][0] == 200
    assert answers["cleared"][1]["name"] == ""


def test_a_rename_the_gateway_can_tell_is_wrong_never_reaches_the_scheduler(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", webapp_dir=tmp_path)
        async with lone_gateway(settings) as gateway:

            async def rename(**options: Any) -> Answer:
                return await call(gateway.http, "PATCH", "/experiments/e1", "t", **options)

            return {
                "not json": await rename(data=b"{name"),
                "no body": await rename(),
                "no name": await rename(json={}),
                "typo": await rename(json={"nmae": "x"}),
                "number": await rename(json={"name": 3}),
                "list": await rename(json={"name": ["x"]}),
                "submitted number": await call(
                    gateway.http, "POST", "/experiments", "t", json={"pipeline": "p", "name": 3}
                ),
            }

    answers = asyncio.run(scenario())

    assert answers["not json"][0] == 400
    assert field_of(answers["no body"]) == "body"
    assert field_of(answers["no name"]) == "name"
    assert 'or "" to clear it' in answers["no name"][1]["error"]["message"]
    assert field_of(answers["typo"]) == "nmae"
    assert field_of(answers["number"]) == "name"
    assert field_of(answers["list"]) == "name"
    assert field_of(answers["submitted number"]) == "name"


def test_a_name_travels_to_the_scheduler_only_when_given(tmp_path: Path):
    async def scenario():
        async with running_refuser() as (refuser, address):
            settings = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path)
            async with lone_gateway(settings) as gateway:
                for extra in ({}, {"name": ""}, {"name": None}, {"name": "baseline"}):
                    body = {"pipeline": "p", **extra}
                    await call(gateway.http, "POST", "/experiments", "t", json=body)
                await call(gateway.http, "PATCH", "/experiments/e1", "t", json={"name": " a "})
            return refuser.requests

    *submissions, rename = asyncio.run(scenario())

    assert [r.HasField("name") for r in submissions] == [False, False, False, True]
    assert submissions[-1].name == "baseline"
    # The scheduler trims: the gateway sends what it was given.
    assert (rename.experiment_id, rename.name) == ("e1", " a ")
