"""Many WatchExperiment streams at once, most hung up on while the scheduler writes to them.

A viewer's replay hangs up on the scheduler as soon as it has what it asked for, so under a
crowd of viewers hundreds of streams are cancelled while the scheduler is writing a response.
That once left the servicer's stream to the garbage collector, which closed it later in
another task: the caller's context variable could not be reset there (an ERROR with an
incident, then a failed abort), and each stream's NATS subscription stayed open until then.
Here a real scheduler on loopback serves the crowd; the test counts the scheduler's NATS
subscriptions from the NATS server's own monitoring endpoint, so it knows when every stream
has been wound up, and then asks that nothing was logged as an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from pathlib import Path

import grpc
import pytest

from azuraforge.v1 import scheduler_pb2
from scheduler.db.models import ExperimentStatus
from scheduler.recorder import finished_event, log_event
from tests.stack import ForgeNats, auth, running_forge_nats, running_stack
from tests.waiting import until

pytestmark = pytest.mark.timeout(180)

STORED = 40  # log lines before the finish: a replay that takes many writes
HANGING_UP = 150
FOLLOWING = 20
WAIT_S = 60.0


def scheduler_subscriptions(nats: ForgeNats) -> int:
    """How many subscriptions the scheduler's connection holds, as the NATS server counts."""
    url = f"http://127.0.0.1:{nats.monitoring_port}/connz?subs=1"
    with urllib.request.urlopen(url, timeout=10) as answer:
        connections = json.load(answer)["connections"]
    return sum(c.get("subscriptions", 0) for c in connections if c.get("name") == "forge-scheduler")


def test_streams_hung_up_on_mid_write_end_cleanly_log_no_error_and_unsubscribe(
    tmp_path: Path, probe_pipeline: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with running_forge_nats(tmp_path / "nats", monitoring=True) as nats:
        hung_up, followed, last_seq = asyncio.run(_crowd(tmp_path, nats))

    # Each stream that hung up had what it read, in order; each that stayed got all, then OK.
    assert hung_up == [list(range(1, 2 + number % 5)) for number in range(HANGING_UP)]
    assert followed == [(list(range(1, last_seq + 1)), grpc.StatusCode.OK)] * FOLLOWING
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.getMessage() for record in errors] == []


async def _crowd(
    tmp: Path, nats: ForgeNats
) -> tuple[list[list[int]], list[tuple[list[int], grpc.StatusCode]], int]:
    async with running_stack(
        tmp, f"sqlite:///{tmp}/forge.db", nats.scheduler_url, trainers=0
    ) as stack:
        experiment_id = (await stack.submit(stack.admin_token)).experiment_id
        store = stack.scheduler.store
        store.transition(experiment_id, ExperimentStatus.RUNNING, caller=None)
        for number in range(STORED):
            store.append_event(experiment_id, log_event(f"line {number}"))
        store.finish(
            experiment_id,
            ExperimentStatus.SUCCEEDED,
            finished_event(ExperimentStatus.SUCCEEDED),
            caller=None,
        )
        last_seq = (await stack.get(stack.admin_token, experiment_id)).last_seq
        before = await asyncio.to_thread(scheduler_subscriptions, nats)
        request = scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id)

        async def hang_up(number: int) -> list[int]:
            call = stack.stub.WatchExperiment(request, metadata=auth(stack.admin_token))
            seqs: list[int] = []
            async for response in call:
                seqs.append(response.event.seq)
                if len(seqs) == 1 + number % 5:
                    break
            call.cancel()
            return seqs

        async def follow() -> tuple[list[int], grpc.StatusCode]:
            call = stack.stub.WatchExperiment(request, metadata=auth(stack.admin_token))
            seqs = [response.event.seq async for response in call]
            return seqs, await call.code()

        async with asyncio.timeout(WAIT_S):
            hung_up, followed = await asyncio.gather(
                asyncio.gather(*(hang_up(number) for number in range(HANGING_UP))),
                asyncio.gather(*(follow() for _ in range(FOLLOWING))),
            )
        # Every stream wound up on the scheduler's side too: its subscription is gone.
        await until(
            lambda: _same_count(nats, before),
            WAIT_S,
            "the scheduler to release the NATS subscriptions of the streams",
        )
    return hung_up, followed, last_seq


async def _same_count(nats: ForgeNats, expected: int) -> bool:
    return await asyncio.to_thread(scheduler_subscriptions, nats) == expected
