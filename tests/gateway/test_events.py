"""The WebSockets on the real stack: live epochs, resuming with `after`, tokens, status changes.

A test holds the `trainer_probe` run at a gate (`tests.trainer.probe.Gate`) to see events arrive
while the run is going and to drop a connection half way; one that only needs a run to last a
while paces it (`epoch_pause`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.settings import GatewaySettings
from tests.gateway.harness import (
    API,
    Gateway,
    bearer,
    gateway_on_stack,
    lone_gateway,
    protocols,
    read_all,
)
from tests.stack import WAIT_S
from tests.trainer.probe import Gate

pytestmark = [pytest.mark.timeout(180)]
on_stack = pytest.mark.usefixtures("probe_pipeline")

KINDS = (
    "experiment_started",
    "epoch_ended",
    "experiment_finished",
    "batch_progress",
    "log_line",
    "artifact_stored",
    "files_stored",
)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """Each event's kind: the one field of its `kind` oneof it has."""
    return [next(name for name in KINDS if name in event) for event in events]


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [event["seq"] for event in events]


def run(tmp_path: Path, nats_url: str, scenario: Any, **stack_settings: Any) -> Any:
    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, **stack_settings) as gateway:
            return await scenario(gateway)

    return asyncio.run(main())


@on_stack
def test_each_epoch_arrives_while_the_run_is_going(tmp_path: Path, nats_url: str, gate: Gate):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, gate.config(epochs=3))
        gate.release(1)
        experiment_id = experiment["experiment_id"]
        epochs_seen_running = []
        events = []
        async with gateway.http.ws_connect(
            gateway.events_url(experiment_id), protocols=protocols(token)
        ) as ws:
            assert ws.protocol == "azuraforge.v1"
            async with asyncio.timeout(WAIT_S):
                async for message in ws:
                    event = json.loads(message.data)
                    events.append(event)
                    if "epoch_ended" in event:
                        now = await gateway.get(token, experiment_id)
                        if now["status"] == "EXPERIMENT_STATUS_RUNNING":
                            epochs_seen_running.append(event["epoch_ended"]["epoch"])
                        gate.release(event["epoch_ended"]["epoch"] + 1)
        return events, epochs_seen_running, ws.close_code

    events, epochs_seen_running, close_code = run(tmp_path, nats_url, scenario)

    assert close_code == 1000
    assert seqs(events) == list(range(1, len(events) + 1))
    assert "experiment_started" in kinds(events)
    assert [e["epoch_ended"]["epoch"] for e in events if "epoch_ended" in e] == [1, 2, 3]
    # Epochs 1 and 2 reached the socket while training still went on, not in a batch at the end.
    assert epochs_seen_running[:2] == [1, 2]
    # The ending, then the files, then the log's last event: the socket closes there.
    (finished,) = [e["experiment_finished"] for e in events if "experiment_finished" in e]
    assert finished["status"] == "EXPERIMENT_STATUS_SUCCEEDED" and finished["files_follow"]
    assert kinds(events).index("artifact_stored") > kinds(events).index("experiment_finished")
    assert kinds(events)[-1] == "files_stored"


@on_stack
def test_a_socket_opened_after_the_end_before_the_files_stays_open_for_them(
    tmp_path: Path, nats_url: str, gate: Gate
):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, gate.config(epochs=1, hold_files=True))
        experiment_id = experiment["experiment_id"]
        gate.release(1)  # the run gives its verdict, then waits before writing its files
        async with gateway.http.ws_connect(
            gateway.events_url(experiment_id), protocols=protocols(token)
        ) as ws:
            async with asyncio.timeout(WAIT_S):
                async for message in ws:
                    if "experiment_finished" in json.loads(message.data):
                        break  # stored with the SUCCEEDED status, in one transaction
        ended = await gateway.get(token, experiment_id)
        async with gateway.http.ws_connect(
            gateway.events_url(experiment_id), protocols=protocols(token)
        ) as ws:
            first = json.loads((await ws.receive()).data)
            gate.open()
            rest = await read_all(ws)
        return ended, first, rest

    ended, first, rest = run(tmp_path, nats_url, scenario)

    assert ended["status"] == "EXPERIMENT_STATUS_SUCCEEDED"
    assert first["seq"] == 1
    assert (rest.code, rest.reason) == (1000, "experiment_finished")
    assert "artifact_stored" in kinds(rest.events)
    assert kinds(rest.events)[-1] == "files_stored"


@on_stack
def test_reconnecting_with_after_gets_exactly_the_missing_events(
    tmp_path: Path, nats_url: str, gate: Gate
):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, gate.config(epochs=4))
        gate.release(1)
        experiment_id = experiment["experiment_id"]
        first = []
        async with gateway.http.ws_connect(
            gateway.events_url(experiment_id), protocols=protocols(token)
        ) as ws:
            async with asyncio.timeout(WAIT_S):
                async for message in ws:
                    first.append(json.loads(message.data))
                    if "epoch_ended" in first[-1]:
                        break  # The connection drops half way through the run.
        gate.open()
        rest = await gateway.all_events(token, experiment_id, after=first[-1]["seq"])
        everything = await gateway.all_events(token, experiment_id)
        # Resuming a finished experiment, from near its end and from its end.
        last = everything.events[-1]["seq"]
        tail = await gateway.all_events(token, experiment_id, after=last - 2)
        nothing = await gateway.all_events(token, experiment_id, after=last)
        return first, rest, everything, tail, nothing

    first, rest, everything, tail, nothing = run(tmp_path, nats_url, scenario)

    assert "experiment_finished" not in kinds(first)
    assert (rest.code, rest.reason) == (1000, "experiment_finished")
    assert rest.events[0]["seq"] == first[-1]["seq"] + 1
    assert first + rest.events == everything.events
    assert seqs(everything.events) == list(range(1, len(everything.events) + 1))
    assert tail.events == everything.events[-2:]
    assert (nothing.events, nothing.code) == ([], 1000)


@on_stack
def test_the_token_may_come_as_header_or_first_message(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, {"epochs": 1})
        url = gateway.events_url(experiment["experiment_id"])
        async with gateway.http.ws_connect(url, headers=bearer(token)) as ws:
            by_header = await read_all(ws)
        async with gateway.http.ws_connect(url) as ws:
            await ws.send_json({"token": token})
            by_message = await read_all(ws)
        return by_header, by_message

    by_header, by_message = run(tmp_path, nats_url, scenario)

    assert kinds(by_header.events)[-1] == "files_stored"
    assert by_message.events == by_header.events


@on_stack
def test_bad_tokens_and_other_users_experiments_close_the_socket_with_clear_codes(
    tmp_path: Path, nats_url: str
):
    async def scenario(gateway: Gateway):
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        experiment = await gateway.submit(alice, {"epochs": 1})
        url = gateway.events_url(experiment["experiment_id"])
        results = {}
        for name, token in (("forged", "not-a-token"), ("bob", bob), ("alice", alice)):
            async with gateway.http.ws_connect(url, protocols=protocols(token)) as ws:
                results[name] = await read_all(ws)
        missing = gateway.events_url("no-such-experiment")
        async with gateway.http.ws_connect(missing, protocols=protocols(alice)) as ws:
            results["missing"] = await read_all(ws)
        async with gateway.http.ws_connect(url) as ws:
            await ws.send_str("hello")
            results["no token"] = await read_all(ws)
        return experiment["experiment_id"], results

    experiment_id, results = run(tmp_path, nats_url, scenario)

    for name in ("forged", "no token"):
        assert (results[name].events, results[name].code) == ([], 4401), name
    assert "log in" in results["forged"].reason
    assert "token" in results["no token"].reason
    # Bob learns nothing about Alice's experiment, not even that it exists.
    assert (results["bob"].events, results["bob"].code) == ([], 4404)
    missing = results["missing"].reason.replace("no-such-experiment", experiment_id)
    assert results["bob"].reason == missing
    assert results["alice"].code == 1000


@on_stack
def test_a_token_that_expires_closes_the_socket_with_where_to_resume(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, {"epochs": 20, "epoch_pause": 0.5})
        async with gateway.http.ws_connect(
            gateway.events_url(experiment["experiment_id"]), protocols=protocols(token)
        ) as ws:
            received = await read_all(ws)
        async with gateway.http.post(
            f"{API}/experiments/{experiment['experiment_id']}/cancel",
            headers=bearer(await gateway.login("admin", "admin-password")),
        ) as response:
            assert response.status == 200
        return received

    # Tokens last 5 s; the run takes 10 s or more.
    received = run(tmp_path, nats_url, scenario, token_lifetime=timedelta(seconds=5))

    assert received.code == 4401
    assert "expired" in received.reason
    last_seq = received.events[-1]["seq"] if received.events else 0
    assert received.reason.endswith(f"after={last_seq}")
    assert "experiment_finished" not in kinds(received.events)


@on_stack
def test_the_events_socket_sends_the_status_changes_of_the_callers_experiments(
    tmp_path: Path, nats_url: str
):
    async def scenario(gateway: Gateway):
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        changes = []
        async with gateway.http.ws_connect(f"{API}/events", protocols=protocols(alice)) as ws:
            await gateway.submit(bob, {"epochs": 1})
            alices = await gateway.submit(alice, {"epochs": 2, "epoch_pause": 0.3})
            async with asyncio.timeout(WAIT_S):
                async for message in ws:
                    changes.append(json.loads(message.data))
                    if changes[-1]["status"] == "EXPERIMENT_STATUS_SUCCEEDED":
                        break
        return alices["experiment_id"], changes

    alices, changes = run(tmp_path, nats_url, scenario)

    assert {change["experiment_id"] for change in changes} == {alices}
    assert {change["owner"] for change in changes} == {"alice"}
    assert [change["status"] for change in changes][-2:] == [
        "EXPERIMENT_STATUS_RUNNING",
        "EXPERIMENT_STATUS_SUCCEEDED",
    ]


def test_a_socket_that_sends_no_token_in_time_is_closed(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", websocket_auth_seconds=0.2)
        async with (
            lone_gateway(settings) as gateway,
            gateway.http.ws_connect(f"{API}/events") as ws,
        ):
            return await read_all(ws)

    received = asyncio.run(scenario())

    assert (received.events, received.code) == ([], 4401)
    assert "bearer.<token>" in received.reason


def test_an_after_that_is_no_seq_is_refused_before_the_upgrade(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9")
        async with lone_gateway(settings) as gateway:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await gateway.http.ws_connect(f"{API}/experiments/x/events?after=-1")
            return refused.value.status

    assert asyncio.run(scenario()) == 422


def test_a_plain_request_to_a_socket_route_is_400(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9")
        async with (
            lone_gateway(settings) as gateway,
            gateway.http.get(f"{API}/experiments/x/events") as response,
        ):
            return response.status, await response.json()

    status, body = asyncio.run(scenario())

    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert body["error"]["message"] == (
        "/api/v1/experiments/x/events is a WebSocket: open it with a WebSocket client "
        "(a GET with `Connection: Upgrade` and `Upgrade: websocket`), as docs/api.md shows"
    )
