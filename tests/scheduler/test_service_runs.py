"""Experiments run end to end on the real stack: NATS, the scheduler, trainers, SQLite and Postgres.

Every test submits through the public RPCs and watches through them (and through a raw NATS
subscription), as the gateway and the CLI will.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2
from scheduler.watch import is_last
from tests.stack import (
    CLUSTER_TOKEN,
    Stack,
    auth,
    epoch_points,
    free_port,
    installed_pipelines,
    running_stack,
    sha256,
)
from tests.trainer.probe import FAILURE, Gate
from tests.waiting import until

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("probe_pipeline")]

PENDING = experiment_pb2.EXPERIMENT_STATUS_PENDING
RUNNING = experiment_pb2.EXPERIMENT_STATUS_RUNNING
SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
FAILED = experiment_pb2.EXPERIMENT_STATUS_FAILED
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED


def kinds(events: list[events_pb2.ExperimentEvent]) -> list[str]:
    return [event.WhichOneof("kind") or "" for event in events]


def finished(events: list[events_pb2.ExperimentEvent]) -> events_pb2.ExperimentFinished:
    """The one ExperimentFinished of a whole log, which ends at its last event."""
    (ending,) = [e.experiment_finished for e in events if e.HasField("experiment_finished")]
    assert is_last(events[-1]), kinds(events)
    return ending


def seqs(events: list[events_pb2.ExperimentEvent]) -> list[int]:
    return [event.seq for event in events]


async def watch_until(stack: Stack, token: str, experiment_id: str, kind: str) -> list:
    """The events WatchExperiment streams up to the first of `kind`; then it hangs up."""
    call = stack.stub.WatchExperiment(
        scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id), metadata=auth(token)
    )
    events = []
    async with asyncio.timeout(60):
        async for response in call:
            events.append(response.event)
            if response.event.HasField(kind):
                break
    call.cancel()
    return events


def test_a_run_streams_its_events_to_watchers_and_nats_and_keeps_its_files(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            nats = Nats()
            await nats.connect(nats_url)
            on_nats: list[events_pb2.ExperimentEvent] = []
            finished_on_nats = asyncio.Event()

            async def received(msg: Msg) -> None:
                event = events_pb2.ExperimentEvent.FromString(msg.data)
                on_nats.append(event)
                if is_last(event):
                    finished_on_nats.set()

            # The id is known only after submitting, so the subscription takes every experiment.
            await nats.subscribe("forge.experiments.*.events", cb=received)
            await nats.flush()
            experiment = await stack.submit(token, {"epochs": 3})
            watched = await stack.watch(token, experiment.experiment_id)
            async with asyncio.timeout(30):
                await finished_on_nats.wait()
            await nats.close()
            final = await stack.get(token, experiment.experiment_id)
            files = {
                artifact.name: await stack.artifact(token, experiment.experiment_id, artifact.name)
                for artifact in final.artifacts
            }
            return experiment, watched, on_nats, final, files

    experiment, watched, on_nats, final, files = asyncio.run(scenario())

    assert experiment.status == PENDING
    assert seqs(watched) == list(range(1, len(watched) + 1))
    assert {event.experiment_id for event in watched} == {experiment.experiment_id}
    assert kinds(watched).count("experiment_started") == 1
    assert [e.epoch_ended.epoch for e in watched if e.HasField("epoch_ended")] == [1, 2, 3]
    # The verdict first, then the files, then FilesStored: the watch ends there.
    ending = kinds(watched).index("experiment_finished")
    assert watched[ending].experiment_finished.status == SUCCEEDED
    assert watched[ending].experiment_finished.files_follow
    assert kinds(watched).index("artifact_stored") > ending
    assert kinds(watched)[-1] == "files_stored"
    assert watched[-1].files_stored.count == len(files)
    assert watched[-1].files_stored.error_message == ""
    # NATS carried the very same events, in the same order.
    assert [e for e in on_nats if e.experiment_id == experiment.experiment_id] == watched

    assert final.status == SUCCEEDED
    assert (final.epochs_done, final.total_epochs, final.last_seq) == (3, 3, len(watched))
    assert "loss" in final.metrics
    assert final.trainer_id == "trainer-0"
    assert final.started_at.ToDatetime() <= final.finished_at.ToDatetime()
    stored = {
        e.artifact_stored.artifact.name: e.artifact_stored.artifact
        for e in watched[:-1]
        if e.HasField("artifact_stored")
    }
    assert {"report.md", "loss.png", "model.npz", "metrics.json"} <= set(files)
    assert set(stored) == set(files)
    for name, (artifact, content) in files.items():
        assert artifact == stored[name]
        assert artifact.sha256 == sha256(content)
        assert artifact.size_bytes == len(content)
    assert "# Run report: trainer_probe" in files["report.md"][1].decode()
    assert files["report.md"][0].content_type == "text/markdown; charset=utf-8"
    assert files["loss.png"][1].startswith(b"\x89PNG")
    assert set(np.load(io.BytesIO(files["model.npz"][1]))) == {"weight", "bias"}


def test_a_run_faster_than_one_message_an_event_has_every_event_stored_once_in_order(
    tmp_path: Path, database_url: str, nats_url: str
):
    """Its events pile up on the trainer and travel as batches; each is stored and sent once."""
    epochs = 400

    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"epochs": epochs})
            watched = await stack.watch(token, experiment.experiment_id)
            return watched, await stack.get(token, experiment.experiment_id)

    watched, final = asyncio.run(scenario())

    assert seqs(watched) == list(range(1, len(watched) + 1))
    ended = [e.epoch_ended.epoch for e in watched if e.HasField("epoch_ended")]
    assert ended == list(range(1, epochs + 1))
    assert finished(watched).status == SUCCEEDED
    assert (final.epochs_done, final.last_seq) == (epochs, len(watched))


def test_a_watcher_joining_mid_run_gets_the_history_then_the_live_events_once_each(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=5))
            gate.release(1)
            experiment_id = experiment.experiment_id
            early = await watch_until(stack, token, experiment_id, "epoch_ended")
            status_when_joining = (await stack.get(token, experiment_id)).status
            resume_after = early[-1].seq
            watching = asyncio.gather(
                stack.watch(token, experiment_id),
                stack.watch(token, experiment_id, after_seq=resume_after),
            )
            gate.open()
            joined, resumed = await watching
            replayed = await stack.watch(token, experiment_id)
            beyond = await stack.watch(token, experiment_id, after_seq=len(replayed) + 5)
            return status_when_joining, resume_after, joined, resumed, replayed, beyond

    status, resume_after, joined, resumed, replayed, beyond = asyncio.run(scenario())

    assert status == RUNNING
    assert seqs(joined) == list(range(1, len(joined) + 1))
    assert joined == replayed
    assert resumed == replayed[resume_after:]
    assert kinds(joined).count("epoch_ended") == 5
    assert finished(joined).status == SUCCEEDED
    assert beyond == []


def test_two_trainers_run_two_experiments_at_once(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url, trainers=2) as stack:
            token = await stack.add_user("alice")
            config = gate.config(epochs=4)
            first = await stack.submit(token, config)
            second = await stack.submit(token, config)
            # Neither can train an epoch until both have started.
            for experiment in (first, second):
                await watch_until(stack, token, experiment.experiment_id, "experiment_started")
            gate.open()
            return await asyncio.gather(
                stack.finished(token, first.experiment_id),
                stack.finished(token, second.experiment_id),
            )

    first, second = asyncio.run(scenario())

    assert (first.status, second.status) == (SUCCEEDED, SUCCEEDED)
    assert {first.trainer_id, second.trainer_id} == {"trainer-0", "trainer-1"}
    assert first.started_at.ToDatetime() < second.finished_at.ToDatetime()
    assert second.started_at.ToDatetime() < first.finished_at.ToDatetime()


def test_a_submission_no_live_trainer_runs_is_accepted_and_says_so_at_once(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"epochs": 1})
            events = await watch_until(stack, token, experiment.experiment_id, "log_line")
            return experiment, events, await stack.get(token, experiment.experiment_id)

    submitted, events, later = asyncio.run(scenario())

    assert (submitted.status, later.status) == (PENDING, PENDING)
    (notice,) = events
    assert (notice.seq, notice.log_line.level) == (1, "WARNING")
    assert notice.log_line.message.startswith(
        "no live trainer runs pipeline 'trainer_probe'; the experiment waits until one that "
        "does registers. Install the pipeline on a trainer, which picks it up within "
        "FORGE_TRAINER_PIPELINE_SCAN_SECONDS (30 s by default) or at once on SIGHUP"
    )


def test_a_pipeline_that_raises_fails_and_the_trainer_runs_the_next(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            broken = await stack.submit(token, {"behaviour": "raise"})
            after = await stack.submit(token, {"epochs": 1})
            failed = await stack.finished(token, broken.experiment_id)
            events = await stack.watch(token, broken.experiment_id)
            succeeded = await stack.finished(token, after.experiment_id)
            return failed, events, succeeded

    failed, events, succeeded = asyncio.run(scenario())

    assert failed.status == FAILED
    assert FAILURE in failed.error_message
    assert events[-1].experiment_finished.status == FAILED
    assert FAILURE in events[-1].experiment_finished.error_message
    assert succeeded.status == SUCCEEDED
    assert succeeded.trainer_id == failed.trainer_id == "trainer-0"


def test_cancel_ends_a_pending_experiment_at_once_and_a_running_one_within_two_seconds(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def cancel(stack: Stack, token: str, experiment_id: str):
        started = time.monotonic()
        response = await stack.stub.CancelExperiment(
            scheduler_pb2.CancelExperimentRequest(experiment_id=experiment_id),
            metadata=auth(token),
        )
        return response.experiment, time.monotonic() - started

    async def scenario():
        async with running_stack(
            tmp_path, database_url, nats_url, trainer_settings={"cancel_grace_s": 2}
        ) as stack:
            token = await stack.add_user("alice")
            # Trains slowly, one batch at a time: the trainer stops it at its next batch.
            training = await stack.submit(token, {"epochs": 10_000, "batch_pause": 0.05})
            await watch_until(stack, token, training.experiment_id, "epoch_ended")
            # The only slot is taken, so this one waits.
            waiting = await stack.submit(token, {"epochs": 1})
            pending = await cancel(stack, token, waiting.experiment_id)
            running = await cancel(stack, token, training.experiment_id)
            # Hangs where no batch comes: only hanging up on the trainer stops it.
            hanging = await stack.submit(token, {"behaviour": "hang"})
            await watch_until(stack, token, hanging.experiment_id, "log_line")
            hung = await cancel(stack, token, hanging.experiment_id)
            again = await cancel(stack, token, hanging.experiment_id)
            events = {
                name: await stack.watch(token, experiment.experiment_id)
                for name, experiment in (
                    ("pending", waiting),
                    ("running", training),
                    ("hung", hanging),
                )
            }
            files = (await stack.get(token, training.experiment_id)).artifacts
            return pending, running, hung, again, events, files

    pending, running, hung, again, events, files = asyncio.run(scenario())

    (experiment, took) = pending
    assert experiment.status == CANCELLED and took < 1.0
    assert "before it started" in experiment.error_message
    assert kinds(events["pending"]) == ["experiment_finished"]
    for experiment, took in (running, hung):
        assert experiment.status == CANCELLED, experiment.error_message
        assert took < 2.0
        assert experiment.finished_at.seconds > 0
    assert again[0] == hung[0]
    # The cancelled run's report and files follow its status, and then its last event.
    assert kinds(events["running"])[-1] == "experiment_finished", [
        e.log_line.message or e.WhichOneof("kind") for e in events["running"][-8:]
    ]
    assert "artifact_stored" in kinds(events["running"])
    assert {"report.md", "metrics.json", "checkpoints/last.npz"} <= {f.name for f in files}
    ended = events["running"][-1].experiment_finished
    assert ended.status == CANCELLED and "not kept" not in ended.error_message
    # One that does not stop is killed after the trainer's cancel grace, and says so.
    last = events["hung"][-1].experiment_finished
    assert last.status == CANCELLED
    assert "did not stop within 2 s, so its process was killed" in last.error_message


def test_a_restarted_scheduler_follows_its_runs_again_and_nothing_is_trained_twice(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=4))
            gate.release(1)
            seen = await watch_until(stack, token, experiment.experiment_id, "epoch_ended")
            await stack.restart_scheduler()
            gate.open()
            # A watcher that lost its stream comes back after the last seq it saw.
            rest = await stack.watch(token, experiment.experiment_id, after_seq=seen[-1].seq)
            final = await stack.get(token, experiment.experiment_id)
            return final, seen, rest

    final, seen, rest = asyncio.run(scenario())

    assert final.status == SUCCEEDED, final.error_message
    events = seen + rest
    assert seqs(events) == list(range(1, len(events) + 1))
    assert kinds(events).count("experiment_started") == 1
    assert "experiment_resumed" not in kinds(events)
    assert sorted(epoch_points(events)) == [1, 2, 3, 4]  # each epoch trained once
    again = [e.log_line.message for e in events if "again, from item" in e.log_line.message]
    assert len(again) == 1 and "on trainer trainer-0" in again[0]
    assert again[0].endswith("nothing was lost")
    assert len(final.attempts) == 1


def test_a_scheduler_restarted_between_a_runs_end_and_its_files_stores_them_on_its_return(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=2, hold_files=True))
            gate.release(2)  # the run gives its verdict, then waits before writing its files
            seen = await watch_until(stack, token, experiment.experiment_id, "experiment_finished")
            ended = await stack.get(token, experiment.experiment_id)
            with pytest.raises(grpc.aio.AioRpcError) as early:
                await stack.stub.Predict(
                    scheduler_pb2.PredictRequest(experiment_id=experiment.experiment_id),
                    metadata=auth(token),
                )
            await stack.restart_scheduler()
            gate.open()
            rest = await stack.watch(token, experiment.experiment_id, after_seq=seen[-1].seq)
            final = await stack.get(token, experiment.experiment_id)
            return ended, early.value, seen, rest, final

    ended, early, seen, rest, final = asyncio.run(scenario())

    assert ended.status == SUCCEEDED and not ended.artifacts
    assert ended.files_pending and not final.files_pending
    # Its model is not there yet: a prediction is refused, saying so, not as a broken run.
    assert early.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "still being stored" in (early.details() or "")
    assert seen[-1].experiment_finished.files_follow
    events = seen + rest
    assert seqs(events) == list(range(1, len(events) + 1))
    assert kinds(rest)[-1] == "files_stored"
    stored = [e.artifact_stored.artifact.name for e in rest if e.HasField("artifact_stored")]
    assert {"report.md", "model.npz", "metrics.json"} <= set(stored)
    assert rest[-1].files_stored.count == len(stored) == len(final.artifacts)
    assert rest[-1].files_stored.error_message == ""
    again = [e.log_line.message for e in rest if "again, from item" in e.log_line.message]
    assert len(again) == 1 and again[0].endswith("nothing was lost")
    assert final.status == SUCCEEDED


def test_a_run_whose_process_dies_writing_its_files_keeps_its_verdict_and_says_so(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"epochs": 2, "behaviour": "die_writing"})
            events = await stack.watch(token, experiment.experiment_id)
            return events, await stack.get(token, experiment.experiment_id)

    events, final = asyncio.run(scenario())

    assert final.status == SUCCEEDED and len(final.attempts) == 1
    assert kinds(events)[-1] == "files_stored"
    assert "experiment_finished" in kinds(events) and "artifact_stored" not in kinds(events)
    assert events[-1].files_stored.count == 0
    assert "killed by signal SIGKILL" in events[-1].files_stored.error_message


def test_a_scheduler_away_past_the_grace_finds_its_run_stopped_and_resumes_it(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(
            tmp_path, database_url, nats_url, trainer_settings={"grace_s": 1}
        ) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=6))
            gate.release(1)
            await watch_until(stack, token, experiment.experiment_id, "epoch_ended")
            await stack.scheduler.stop(None)
            trainer = stack.trainers[0].trainer
            await until(
                lambda: not trainer.running_experiment_ids,
                60,
                "the trainer to stop the run nobody follows",
            )
            await stack.start_scheduler_again()
            gate.open()
            final = await stack.finished(token, experiment.experiment_id)
            return final, await stack.watch(token, experiment.experiment_id)

    final, events = asyncio.run(scenario())

    assert final.status == SUCCEEDED, final.error_message
    assert seqs(events) == list(range(1, len(events) + 1))
    (resumed,) = [e.experiment_resumed for e in events if e.HasField("experiment_resumed")]
    assert resumed.from_epoch >= 1
    assert "no scheduler followed the run for 1 s" in resumed.reason
    assert sorted(epoch_points(events)) == [1, 2, 3, 4, 5, 6]


def test_cancelling_a_finished_experiment_is_refused(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"epochs": 1})
            await stack.finished(token, experiment.experiment_id)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stack.stub.CancelExperiment(
                    scheduler_pb2.CancelExperimentRequest(experiment_id=experiment.experiment_id),
                    metadata=auth(token),
                )
            return refused.value

    refused = asyncio.run(scenario())

    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "succeeded" in (refused.details() or "")


def test_an_unreachable_trainer_hands_its_experiment_to_another(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            # Registered with more free slots than the real trainer, so it is tried first.
            await stack.stub.RegisterTrainer(
                scheduler_pb2.RegisterTrainerRequest(
                    address=f"127.0.0.1:{free_port()}",
                    slots=4,
                    pipelines=installed_pipelines("trainer_probe"),
                    trainer_id="gone",
                ),
                metadata=auth(CLUSTER_TOKEN),
            )
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"epochs": 1})
            final = await stack.finished(token, experiment.experiment_id)
            return final, await stack.watch(token, experiment.experiment_id)

    final, events = asyncio.run(scenario())

    assert final.status == SUCCEEDED, final.error_message
    assert final.trainer_id == "trainer-0"
    assert kinds(events).count("experiment_started") == 1


def test_a_trainer_that_goes_away_mid_run_hands_the_run_to_another_from_its_checkpoint(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url, trainers=2) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=5))
            gate.release(1)
            seen = await watch_until(stack, token, experiment.experiment_id, "epoch_ended")
            running_on = next(e for e in seen if e.HasField("experiment_started"))
            lost = next(
                t
                for t in stack.trainers
                if t.trainer.trainer_id == running_on.experiment_started.trainer_id
            )
            await lost.stop(None)
            gate.open()
            final = await stack.finished(token, experiment.experiment_id)
            return (
                lost.trainer.trainer_id,
                final,
                await stack.watch(token, experiment.experiment_id),
            )

    lost_id, final, events = asyncio.run(scenario())

    assert final.status == SUCCEEDED, final.error_message
    (resumed,) = [e.experiment_resumed for e in events if e.HasField("experiment_resumed")]
    assert resumed.previous_trainer_id == lost_id != resumed.trainer_id == final.trainer_id
    assert resumed.attempt == 2 and resumed.from_epoch >= 1
    assert f"trainer {lost_id} at 127.0.0.1:" in resumed.reason and "was lost" in resumed.reason
    after = kinds(events).index("experiment_resumed")
    started = next(e.experiment_started for e in events[after:] if e.HasField("experiment_started"))
    assert started.initial_epoch == resumed.from_epoch
    first_epoch = next(e.epoch_ended.epoch for e in events[after:] if e.HasField("epoch_ended"))
    assert first_epoch == resumed.from_epoch + 1
    assert sorted(epoch_points(events)) == [1, 2, 3, 4, 5]
    assert [(a.number, a.trainer_id) for a in final.attempts] == [
        (1, lost_id),
        (2, final.trainer_id),
    ]
    assert final.attempts[0].lost_reason == resumed.reason
    assert final.attempts[1].lost_reason == "" and final.attempts[1].HasField("ended_at")
    assert final.max_restarts == 3


def test_a_training_process_that_keeps_dying_fails_after_max_restarts_listing_each_loss(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"behaviour": "die"}, max_restarts=2)
            final = await stack.finished(token, experiment.experiment_id)
            return final, await stack.watch(token, experiment.experiment_id)

    final, events = asyncio.run(scenario())

    assert final.status == FAILED
    assert final.error_message.startswith(
        "the run was lost 3 times, more than max_restarts (2) allows: attempt 1: on trainer "
        "trainer-0, the training process was killed by signal SIGKILL"
    )
    assert "attempt 2: " in final.error_message and "attempt 3: " in final.error_message
    assert len(final.attempts) == 3
    assert all("SIGKILL" in attempt.lost_reason for attempt in final.attempts)
    resumed = [e.experiment_resumed for e in events if e.HasField("experiment_resumed")]
    # The probe dies as epoch 2 begins, after the checkpoint of epoch 1.
    assert [(r.attempt, r.from_epoch) for r in resumed] == [(2, 1), (3, 1)]
    assert kinds(events)[-1] == "experiment_finished"


def test_a_pipeline_that_raises_fails_at_once_without_a_restart(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, {"behaviour": "raise"})
            final = await stack.finished(token, experiment.experiment_id)
            return final, await stack.watch(token, experiment.experiment_id)

    final, events = asyncio.run(scenario())

    assert final.status == FAILED and FAILURE in final.error_message
    assert len(final.attempts) == 1 and final.attempts[0].lost_reason == ""
    assert "experiment_resumed" not in kinds(events)


def test_an_experiment_waiting_to_be_placed_again_is_cancelled_at_once(
    tmp_path: Path, database_url: str, nats_url: str, gate: Gate
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            experiment = await stack.submit(token, gate.config(epochs=100))
            gate.release(1)
            await watch_until(stack, token, experiment.experiment_id, "epoch_ended")
            await stack.trainers[0].stop(None)  # the only trainer: nowhere to go on
            await stack.wait_for(token, experiment.experiment_id, frozenset({PENDING}))
            response = await stack.stub.CancelExperiment(
                scheduler_pb2.CancelExperimentRequest(experiment_id=experiment.experiment_id),
                metadata=auth(token),
            )
            return response.experiment, await stack.watch(token, experiment.experiment_id)

    cancelled, events = asyncio.run(scenario())

    assert cancelled.status == CANCELLED
    assert cancelled.error_message == "cancelled before it started"
    assert len(cancelled.attempts) == 1 and "was lost" in cancelled.attempts[0].lost_reason
    assert kinds(events)[-1] == "experiment_finished"


def test_a_restart_budget_past_the_limit_is_refused_naming_the_field(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario():
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            token = await stack.add_user("alice")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stack.submit(token, {"epochs": 1}, max_restarts=101)
            chosen = await stack.submit(token, {"epochs": 1}, max_restarts=0)
            default = await stack.submit(token, {"epochs": 1})
            return refused.value, chosen, default

    refused, chosen, default = asyncio.run(scenario())

    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (refused.details() or "").startswith("max_restarts: must be at most 100, got 101")
    assert (chosen.max_restarts, default.max_restarts) == (0, 3)
