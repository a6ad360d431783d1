"""Sweeps through the gateway: submit, read, list, watch and cancel, and bad bodies as 422s."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack, protocols, read_all
from tests.trainer.probe import Gate
from tests.waiting import until

pytestmark = [pytest.mark.timeout(240), pytest.mark.usefixtures("probe_pipeline")]

Answer = tuple[int, Any]
BODY: dict[str, Any] = {
    "pipeline": "trainer_probe",
    "config": {"epochs": 1},
    "space": {"learning_rate": {"choice": [0.01, 0.1]}},
    "search": "grid",
    "parallelism": 2,
    "objective": {"metric": "val_loss", "mode": "min"},
    "name": "lr grid",
}


async def call(gateway: Gateway, method: str, path: str, token: str, **options: Any) -> Answer:
    async with gateway.http.request(
        method, f"{API}{path}", headers=bearer(token), **options
    ) as response:
        return response.status, await response.json()


def test_a_sweep_submitted_over_rest_runs_and_is_watched_over_a_websocket(
    tmp_path: Path, nats_url: str
):
    async def scenario() -> None:
        async with gateway_on_stack(tmp_path, nats_url, trainers=2) as gateway:
            token = await gateway.admin()
            status, sweep = await call(gateway, "POST", "/sweeps", token, json=BODY)
            assert status == 201, sweep
            sweep_id = sweep["sweep_id"]
            assert sweep["status"] == "SWEEP_STATUS_RUNNING"
            async with gateway.http.ws_connect(
                f"{API}/sweeps/{sweep_id}/events", protocols=protocols(token)
            ) as ws:
                received = await read_all(ws)
            assert received.code == 1000
            assert [e["seq"] for e in received.events] == list(range(1, len(received.events) + 1))
            assert received.events[-1]["finished"]["status"] == "SWEEP_STATUS_SUCCEEDED"

            status, done = await call(gateway, "GET", f"/sweeps/{sweep_id}", token)
            assert status == 200
            assert done["status"] == "SWEEP_STATUS_SUCCEEDED"
            trials = done["trials"]
            assert [t["settings"] for t in trials] == [
                {"learning_rate": 0.01},
                {"learning_rate": 0.1},
            ]
            for trial in trials:
                assert trial["status"] == "EXPERIMENT_STATUS_SUCCEEDED"
                assert trial["epochs_done"] == 1
                assert isinstance(trial["objective"], float)
            best = min(trials, key=lambda t: t["objective"])
            assert done["best_trial"]["experiment_id"] == best["experiment_id"]
            status, listed = await call(gateway, "GET", "/sweeps", token)
            assert [s["sweep_id"] for s in listed["sweeps"]] == [sweep_id]
            status, experiment = await call(
                gateway, "GET", f"/experiments/{trials[0]['experiment_id']}", token
            )
            assert (experiment["sweep_id"], experiment["sweep_trial"]) == (sweep_id, 1)
            # A finished sweep's events replay after a seq, then close.
            async with gateway.http.ws_connect(
                f"{API}/sweeps/{sweep_id}/events?after=1", protocols=protocols(token)
            ) as ws:
                assert (await read_all(ws)).events == received.events[1:]

    asyncio.run(scenario())


def test_cancelling_over_rest_cancels_the_running_trials(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        gate = Gate(tmp_path / "gate")
        async with gateway_on_stack(tmp_path, nats_url, trainers=1) as gateway:
            token = await gateway.admin()
            body = {**BODY, "config": gate.config(epochs=2), "parallelism": 1}
            status, sweep = await call(gateway, "POST", "/sweeps", token, json=body)
            assert status == 201, sweep
            path = f"/sweeps/{sweep['sweep_id']}"

            async def running() -> bool:
                trials = (await call(gateway, "GET", path, token))[1]["trials"]
                return [t["status"] for t in trials] == ["EXPERIMENT_STATUS_RUNNING"]

            await until(running, 60, "the first trial to run")
            status, cancelled = await call(gateway, "POST", f"{path}/cancel", token)
            assert status == 200
            assert cancelled["status"] == "SWEEP_STATUS_CANCELLED"
            assert [t["status"] for t in cancelled["trials"]] == ["EXPERIMENT_STATUS_CANCELLED"]
            other = await gateway.add_user("mallory")
            assert (await call(gateway, "GET", path, other))[0] == 404
            assert (await call(gateway, "POST", f"{path}/cancel", other))[0] == 404

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"space": {"learning_rate": {"loguniform": [0, 1]}}, "search": "random"},
            "space.learning_rate",
        ),
        ({"space": {"batch_size": {"uniform": [1, 8]}}, "search": "random"}, "space.batch_size"),
        ({"space": {"learning_rate": {"uniform": [0.1, 0.2]}}}, "space.learning_rate"),
        ({"space": {"learnin_rate": {"choice": [0.1]}}}, "space.learnin_rate"),
        ({"space": None}, "space"),
        ({"space": {"learning_rate": [0.1]}}, "space.learning_rate"),
        ({"objective": {"metric": "val_loss", "mode": "lowest"}}, "objective.mode"),
        ({"objective": {"mode": "min"}}, "objective.metric"),
        ({"objective": None}, "objective"),
        ({"early_stopping": {"asha": {"grace_epochs": 0}}}, "early_stopping.asha.grace_epochs"),
        ({"early_stopping": {"asha": {"eta": 3}}}, "early_stopping.asha.eta"),
        ({"early_stopping": {"asha": {"grace_epochs": 1}}}, "early_stopping.asha.grace_epochs"),
        ({"early_stopping": {"asha": {"grace_epochs": 2**60}}}, "early_stopping.asha.grace_epochs"),
        ({"max_trials": 1001}, "max_trials"),
        ({"parallelism": 0}, "parallelism"),
        ({"max_trials": 1.5}, "max_trials"),
        ({"search": "bayes"}, "search"),
        ({"pipeline": "nope"}, "pipeline"),
        ({"config": {"epochs": "many"}}, "config.epochs"),
        ({"trials": 3}, "trials"),
    ],
)
def test_a_bad_sweep_body_is_a_422_naming_the_field(
    tmp_path: Path, nats_url: str, change: dict[str, Any], field: str
):
    async def scenario() -> None:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            token = await gateway.admin()
            body = {key: value for key, value in {**BODY, **change}.items() if value is not None}
            status, answer = await call(gateway, "POST", "/sweeps", token, json=body)
            assert status == 422, answer
            assert answer["error"]["code"] == "invalid_argument"
            assert field in [d["field"] for d in answer["error"]["details"]], answer
            assert (await call(gateway, "GET", "/sweeps", token))[1]["sweeps"] == []

    asyncio.run(scenario())


def test_sweep_routes_need_a_token(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            async with gateway.http.post(f"{API}/sweeps", json=BODY) as response:
                assert response.status == 401
            async with gateway.http.ws_connect(f"{API}/sweeps/nope/events") as ws:
                await ws.send_json({"token": await gateway.admin()})
                received = await read_all(ws)
            assert received.code == 4404

    asyncio.run(scenario())


def test_the_openapi_document_describes_the_sweep_routes(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        async with (
            gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway,
            gateway.http.get(f"{API}/openapi.json") as response,
        ):
            document = await response.json()
        body = document["components"]["schemas"]["SweepSubmission"]
        assert body["required"] == ["pipeline", "space", "objective"]
        assert body["properties"]["early_stopping"] == {
            "$ref": "#/components/schemas/EarlyStoppingBody"
        }
        assert "AshaBody" in document["components"]["schemas"]
        assert "post" in document["paths"][f"{API}/sweeps"]

    asyncio.run(scenario())


def test_a_bad_list_query_is_a_422_naming_it(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            token = await gateway.admin()
            for query, field in (
                ("page_size=0", "page_size"),
                ("page_token=garbage!", "page_token"),
            ):
                status, answer = await call(gateway, "GET", f"/sweeps?{query}", token)
                assert status == 422, answer
                assert [d["field"] for d in answer["error"]["details"]] == [field]
            status, answer = await call(gateway, "GET", "/sweeps/nope/events?after=-1", token)
            assert status == 422, answer
            assert answer["error"]["details"][0]["field"] == "after"

    asyncio.run(scenario())
