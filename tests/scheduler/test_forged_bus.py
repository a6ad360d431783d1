"""Bus messages the scheduler never stored reach no watcher (docs/architecture.md#security).

The attacker here has publish rights on `forge.>`, as on a misconfigured or compromised NATS:
they publish with the scheduler's own credentials. On the real stack, with no trainer, so the
victim's experiment stays PENDING until its owner cancels it, which is its real end. Each
forgery is published and flushed before a real event that the watcher should see, so the
watcher has received the forgery by the time that real event arrives: the test waits on the
real event, never on a timer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest
from google.protobuf.message import Message

from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2
from scheduler.bus import STATUS_SUBJECT, events_subject
from tests.stack import Stack, auth, running_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

PENDING = experiment_pb2.EXPERIMENT_STATUS_PENDING
RUNNING = experiment_pb2.EXPERIMENT_STATUS_RUNNING
SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED


async def publish(nats_url: str, subject: str, *messages: Message) -> None:
    """Publish as whoever `nats_url` logs in as; back once the server has every message."""
    forger = await nats.connect(nats_url, allow_reconnect=False)
    try:
        for message in messages:
            await forger.publish(subject, message.SerializeToString())
        await forger.flush()
    finally:
        await forger.close()


async def cancel(stack: Stack, token: str, experiment_id: str) -> None:
    await stack.stub.CancelExperiment(
        scheduler_pb2.CancelExperimentRequest(experiment_id=experiment_id), metadata=auth(token)
    )


def in_stack(tmp_path: Path, database_url: str, nats_url: str, scenario: Any) -> Any:
    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            async with asyncio.timeout(120):
                return await scenario(stack)

    return asyncio.run(run())


def test_a_forged_finish_with_the_next_seq_never_reaches_the_watcher(
    tmp_path: Path, database_url: str, nats_url: str
) -> None:
    async def scenario(stack: Stack) -> tuple[list[Any], list[Any], int]:
        alice = await stack.add_user("alice")
        experiment_id = (await stack.submit(alice, {"epochs": 1})).experiment_id
        call = stack.stub.WatchExperiment(
            scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id),
            metadata=auth(alice),
        )
        await call.initial_metadata()  # the scheduler's subscription is live
        store = stack.scheduler.store
        stored = await asyncio.to_thread(store.events_after, experiment_id, 0)
        next_seq = (stored[-1].seq if stored else 0) + 1
        forged = events_pb2.ExperimentEvent(
            experiment_id=experiment_id,
            seq=next_seq,
            experiment_finished=events_pb2.ExperimentFinished(
                status=SUCCEEDED, metrics={"mae": 0.0}
            ),
        )
        # Also one far ahead, and one claiming a seq the log will never reach.
        ahead = events_pb2.ExperimentEvent()
        ahead.CopyFrom(forged)
        ahead.seq = next_seq + 1000
        await publish(nats_url, events_subject(experiment_id), forged, ahead)
        await cancel(stack, alice, experiment_id)  # the real end
        watched = [response.event async for response in call]
        stored = await asyncio.to_thread(store.events_after, experiment_id, 0)
        experiment = await stack.get(alice, experiment_id)
        return watched, stored, experiment.status

    watched, stored, status = in_stack(tmp_path, database_url, nats_url, scenario)

    assert watched == stored
    assert watched[-1].experiment_finished.status == CANCELLED
    assert status == CANCELLED
    assert all(event.experiment_finished.status != SUCCEEDED for event in watched)


def test_a_forged_status_change_reaches_nobody_who_should_not_see_it(
    tmp_path: Path, database_url: str, nats_url: str
) -> None:
    async def follow(
        stack: Stack, token: str, seen: list[Any], count: int, ready: asyncio.Event
    ) -> None:
        call = stack.stub.WatchExperiments(
            scheduler_pb2.WatchExperimentsRequest(), metadata=auth(token)
        )
        await call.initial_metadata()  # the scheduler's subscription is live
        ready.set()
        async for response in call:
            seen.append(response.change)
            if len(seen) == count:
                call.cancel()
                return

    async def scenario(stack: Stack) -> tuple[str, str, dict[str, list[Any]]]:
        alice = await stack.add_user("alice")
        bob = await stack.add_user("bob")
        victim = (await stack.submit(alice, {"epochs": 1})).experiment_id
        tokens = {"alice": alice, "bob": bob, "admin": stack.admin_token}
        seen: dict[str, list[Any]] = {name: [] for name in tokens}
        # Each stream stops after the real changes it should show, which come after every
        # forgery: a forgery it showed would take the place of one of them.
        counts = {"alice": 1, "bob": 1, "admin": 2}
        ready = {name: asyncio.Event() for name in tokens}
        watchers = asyncio.gather(
            *(follow(stack, tokens[n], seen[n], counts[n], ready[n]) for n in tokens)
        )
        for event in ready.values():
            await event.wait()

        def change(experiment_id: str, status: int, owner: str = "bob") -> Message:
            return experiment_pb2.ExperimentStatusChanged(
                experiment_id=experiment_id,
                pipeline="trainer_probe",
                owner=owner,
                status=status,  # type: ignore[arg-type]
                previous_status=PENDING,
            )

        await publish(
            nats_url,
            STATUS_SUBJECT,
            change(victim, SUCCEEDED),  # alice's, said to be bob's, and an ending it never had
            change(victim, SUCCEEDED, owner="alice"),
            change("no-such-experiment", RUNNING),
            change(victim, 99),  # no such status
        )
        bobs = (await stack.submit(bob, {"epochs": 1})).experiment_id
        await cancel(stack, alice, victim)
        await watchers
        return victim, bobs, seen

    victim, bobs, seen = in_stack(tmp_path, database_url, nats_url, scenario)

    def summary(changes: list[Any]) -> list[tuple[str, str, int]]:
        return [(c.experiment_id, c.owner, c.status) for c in changes]

    assert summary(seen["bob"]) == [(bobs, "bob", PENDING)]
    assert summary(seen["alice"]) == [(victim, "alice", CANCELLED)]
    assert summary(seen["admin"]) == [(bobs, "bob", PENDING), (victim, "alice", CANCELLED)]
