"""Sweeps run end to end on the real stack: NATS, the scheduler, two trainers, SQLite/Postgres.

The trials train the `trainer_probe` pipeline, whose `val_loss` after an epoch depends on its
learning rate, so ASHA has something real to rank. Every test submits and watches through the
public `SweepService` RPCs, as the gateway and the CLI do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import grpc
import pytest

from azuraforge.v1 import experiment_pb2, sweep_pb2, sweep_pb2_grpc
from scheduler.errors import field_errors
from tests.stack import PROBE, Stack, auth, running_stack, struct
from tests.trainer.probe import Gate
from tests.waiting import until

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("probe_pipeline")]

SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
RUNNING = experiment_pb2.EXPERIMENT_STATUS_RUNNING
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED
STOPPED_EARLY = experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY


def sweeps(stack: Stack) -> sweep_pb2_grpc.SweepServiceStub:
    return sweep_pb2_grpc.SweepServiceStub(stack.channel)


def spec(**fields: Any) -> sweep_pb2.SweepSpec:
    message = sweep_pb2.SweepSpec(
        pipeline=fields.pop("pipeline", PROBE),
        config=struct(fields.pop("config", {"epochs": 2})),
        space=struct(fields.pop("space", {"learning_rate": {"loguniform": [0.001, 0.5]}})),
        objective=sweep_pb2.Objective(metric="val_loss", mode="min"),
    )
    asha = fields.pop("asha", None)
    if asha is not None:
        message.early_stopping.asha.grace_epochs, message.early_stopping.asha.reduction_factor = (
            asha
        )
    for key, value in fields.items():
        setattr(message, key, value)
    return message


async def submit(stack: Stack, token: str, **fields: Any) -> sweep_pb2.Sweep:
    request = sweep_pb2.SubmitSweepRequest(spec=spec(**fields))
    response = await sweeps(stack).SubmitSweep(request, metadata=auth(token))
    return response.sweep


async def watch(stack: Stack, token: str, sweep_id: str, after_seq: int = 0) -> list:
    call = sweeps(stack).WatchSweep(
        sweep_pb2.WatchSweepRequest(sweep_id=sweep_id, after_seq=after_seq), metadata=auth(token)
    )
    async with asyncio.timeout(200):
        return [response.event async for response in call]


async def get(stack: Stack, token: str, sweep_id: str) -> sweep_pb2.Sweep:
    response = await sweeps(stack).GetSweep(
        sweep_pb2.GetSweepRequest(sweep_id=sweep_id), metadata=auth(token)
    )
    return response.sweep


def test_asha_stops_the_trials_left_behind_at_the_first_rung_and_completes_the_rest(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario() -> None:
        async with running_stack(tmp_path, database_url, nats_url, trainers=2) as stack:
            token = stack.admin_token
            sweep = await submit(
                stack,
                token,
                name="probe lr",
                # The pause after each epoch gives a stop time to land before the next one.
                config={"epochs": 3, "epoch_pause": 0.5},
                max_trials=9,
                parallelism=2,
                seed=3,
                asha=(1, 3),
            )
            assert sweep.status == sweep_pb2.SWEEP_STATUS_RUNNING
            events = await watch(stack, token, sweep.sweep_id)
            done = await get(stack, token, sweep.sweep_id)

            assert done.status == sweep_pb2.SWEEP_STATUS_SUCCEEDED
            assert [trial.number for trial in done.trials] == list(range(1, 10))
            decisions = [e.decision for e in events if e.HasField("decision")]
            assert sorted(d.trial for d in decisions) == list(range(1, 10))
            stopped = [t for t in done.trials if t.status == STOPPED_EARLY]
            completed = [t for t in done.trials if t.status == SUCCEEDED]
            assert stopped and completed
            assert len(stopped) + len(completed) == 9
            for trial in done.trials:
                (rung,) = trial.rungs  # epochs 3, grace 1, eta 3: one rung, at epoch 1
                assert (rung.rung, rung.epoch) == (0, 1)
                assert rung.objective == pytest.approx(
                    next(d.result.objective for d in decisions if d.trial == trial.number)
                )
                if rung.promoted:
                    assert trial.status == SUCCEEDED and trial.epochs_done == 3
                else:
                    assert trial.status == STOPPED_EARLY and trial.epochs_done < 3
                    assert trial.stop_reason.startswith("rung 0 (epoch 1): val_loss")
                    experiment = await stack.get(token, trial.experiment_id)
                    assert experiment.status == STOPPED_EARLY
                    assert trial.stop_reason in experiment.error_message
                    log = [
                        e.log_line.message
                        for e in await stack.watch(token, trial.experiment_id)
                        if e.HasField("log_line")
                    ]
                    assert f"sweep {sweep.sweep_id}, ASHA: {trial.stop_reason}" in log
            # The first trial at a rung always goes on; each later one only if in the top third.
            first = min(decisions, key=lambda d: d.trials_at_rung)
            assert first.trials_at_rung == 1 and first.result.promoted
            assert done.epochs_spent < done.epochs_budget == 27
            best = min((t for t in done.trials), key=lambda t: t.objective)
            assert done.best_trial.number == best.number
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert events[-1].finished.status == sweep_pb2.SWEEP_STATUS_SUCCEEDED
            experiment = await stack.get(token, done.trials[0].experiment_id)
            assert (experiment.name, experiment.sweep_id, experiment.sweep_trial) == (
                "probe lr #1",
                sweep.sweep_id,
                1,
            )

    asyncio.run(scenario())


def test_a_grid_runs_every_point_in_order_without_early_stopping(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        database = f"sqlite:///{tmp_path}/forge.db"
        async with running_stack(tmp_path, database, nats_url, trainers=2) as stack:
            token = await stack.add_user("alice")
            sweep = await submit(
                stack,
                token,
                config={"epochs": 1},
                space={"learning_rate": {"choice": [0.01, 0.2]}, "batch_size": {"int": [4, 5]}},
                search="grid",
                parallelism=2,
            )
            events = await watch(stack, token, sweep.sweep_id)
            done = await get(stack, token, sweep.sweep_id)

            assert done.status == sweep_pb2.SWEEP_STATUS_SUCCEEDED
            assert [dict(t.settings) for t in done.trials] == [
                # By name, the first changing slowest.
                {"batch_size": 4, "learning_rate": 0.01},
                {"batch_size": 4, "learning_rate": 0.2},
                {"batch_size": 5, "learning_rate": 0.01},
                {"batch_size": 5, "learning_rate": 0.2},
            ]
            assert all(t.status == SUCCEEDED and not t.rungs for t in done.trials)
            assert done.spec.max_trials == 4
            assert done.epochs_spent == done.epochs_budget == 4
            assert not [e for e in events if e.HasField("decision")]
            # A watcher resuming after a seq gets the rest, once.
            assert await watch(stack, token, sweep.sweep_id, after_seq=2) == events[2:]
            # Someone else's sweep is not found; an admin sees it.
            other = await stack.add_user("bob")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get(stack, other, sweep.sweep_id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            listed = await sweeps(stack).ListSweeps(
                sweep_pb2.ListSweepsRequest(), metadata=auth(stack.admin_token)
            )
            assert [s.sweep_id for s in listed.sweeps] == [sweep.sweep_id]

    asyncio.run(scenario())


def test_cancelling_a_sweep_cancels_its_running_trials_and_draws_no_more(
    tmp_path: Path, nats_url: str
):
    async def scenario() -> None:
        database = f"sqlite:///{tmp_path}/forge.db"
        gate = Gate(tmp_path / "gate")  # never released: every trial waits before epoch 1
        async with running_stack(tmp_path, database, nats_url, trainers=2) as stack:
            token = stack.admin_token
            sweep = await submit(
                stack, token, config=gate.config(epochs=2), max_trials=6, parallelism=2
            )

            async def both_running() -> bool:
                trials = (await get(stack, token, sweep.sweep_id)).trials
                return len(trials) == 2 and all(t.status == RUNNING for t in trials)

            await until(both_running, 60, "two trials to run")
            response = await sweeps(stack).CancelSweep(
                sweep_pb2.CancelSweepRequest(sweep_id=sweep.sweep_id), metadata=auth(token)
            )
            events = await watch(stack, token, sweep.sweep_id)
            done = await get(stack, token, sweep.sweep_id)

            assert response.sweep.status == sweep_pb2.SWEEP_STATUS_CANCELLED
            assert done.status == sweep_pb2.SWEEP_STATUS_CANCELLED
            assert [t.status for t in done.trials] == [CANCELLED, CANCELLED]
            assert events[-1].finished.status == sweep_pb2.SWEEP_STATUS_CANCELLED
            again = await sweeps(stack).CancelSweep(
                sweep_pb2.CancelSweepRequest(sweep_id=sweep.sweep_id), metadata=auth(token)
            )
            assert again.sweep.status == sweep_pb2.SWEEP_STATUS_CANCELLED

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        (
            {"space": {"learning_rate": {"loguniform": [0, 1]}}},
            "space.learning_rate",
            "loguniform_positive",
        ),
        (
            {"space": {"learning_rate": {"uniform": [0.1, 20]}}},
            "space.learning_rate",
            "less_than_equal",
        ),
        ({"space": {"batch_size": {"uniform": [4, 8]}}}, "space.batch_size", "type"),
        ({"space": {"behaviour": {"choice": ["train", "fly"]}}}, "space.behaviour", "enum"),
        ({"space": {"nope": {"int": [1, 2]}}}, "space.nope", "unknown_setting"),
        ({"space": {}}, "space", "missing"),
        ({"search": "grid"}, "space.learning_rate", "grid_needs_discrete"),
        ({"max_trials": 0}, "max_trials", "missing"),
        ({"asha": (3, 3)}, "early_stopping.asha.grace_epochs", "less_than"),
        ({"asha": (1, 1)}, "early_stopping.asha.reduction_factor", "greater_than_equal"),
        ({"config": {"epochs": 0}}, "config.epochs", "greater_than_equal"),
        ({"pipeline": "nope"}, "pipeline", "unknown_pipeline"),
        ({"parallelism": 1000}, "parallelism", "less_than_equal"),
        ({"pipeline": "trainer\x00probe"}, "pipeline", "nul_character"),
        ({"name": "a\x00b"}, "name", "nul_character"),
    ],
)
def test_a_bad_sweep_is_invalid_argument_naming_the_field_and_rule(
    tmp_path: Path, nats_url: str, fields: dict[str, Any], field: str, rule: str
):
    async def scenario() -> None:
        database = f"sqlite:///{tmp_path}/forge.db"
        async with running_stack(tmp_path, database, nats_url, trainers=0) as stack:
            fields.setdefault("max_trials", 2)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await submit(stack, stack.admin_token, **fields)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            errors = field_errors(cast(Any, caught.value.trailing_metadata()) or ())
            assert (field, rule) in [(e.field, e.rule) for e in errors]
            listed = await sweeps(stack).ListSweeps(
                sweep_pb2.ListSweepsRequest(), metadata=auth(stack.admin_token)
            )
            assert not listed.sweeps

    asyncio.run(scenario())


def test_a_restarted_scheduler_carries_on_the_sweep_and_its_rung_history(
    tmp_path: Path, nats_url: str
):
    async def scenario() -> None:
        database = f"sqlite:///{tmp_path}/forge.db"
        gate = Gate(tmp_path / "gate")
        async with running_stack(tmp_path, database, nats_url, trainers=1) as stack:
            token = stack.admin_token
            sweep = await submit(
                stack,
                token,
                config=gate.config(epochs=3),
                space={"learning_rate": {"choice": [0.05, 0.0001, 0.2]}},
                search="grid",
                asha=(1, 3),
            )
            gate.release(1)  # every trial may train its first epoch, then waits

            async def first_judged() -> bool:
                trials = (await get(stack, token, sweep.sweep_id)).trials
                return len(trials) == 1 and len(trials[0].rungs) == 1

            await until(first_judged, 60, "trial 1 to reach its first rung")
            await stack.restart_scheduler()
            gate.open()
            events = await watch(stack, token, sweep.sweep_id)
            done = await get(stack, token, sweep.sweep_id)

            assert done.status == sweep_pb2.SWEEP_STATUS_SUCCEEDED
            assert [t.number for t in done.trials] == [1, 2, 3]
            # Judged once, before the restart: the first trial at a rung goes on.
            first = done.trials[0]
            assert [(r.rung, r.epoch, r.promoted) for r in first.rungs] == [(0, 1, True)]
            assert first.status == SUCCEEDED and first.epochs_done == 3
            decisions = [e.decision.trial for e in events if e.HasField("decision")]
            assert sorted(decisions) == [1, 2, 3]
            assert [e.seq for e in events] == list(range(1, len(events) + 1))

    asyncio.run(scenario())


def test_bad_list_and_watch_requests_are_invalid_argument(tmp_path: Path, nats_url: str):
    async def scenario() -> None:
        database = f"sqlite:///{tmp_path}/forge.db"
        async with running_stack(tmp_path, database, nats_url, trainers=0) as stack:
            token = stack.admin_token
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await sweeps(stack).ListSweeps(
                    sweep_pb2.ListSweepsRequest(page_token="garbage!"), metadata=auth(token)
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            sweep = await submit(stack, token, max_trials=1)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await watch(stack, token, sweep.sweep_id, after_seq=2**63)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            for call in (
                sweeps(stack).GetSweep(
                    sweep_pb2.GetSweepRequest(sweep_id="nope"), metadata=auth(token)
                ),
                sweeps(stack).CancelSweep(
                    sweep_pb2.CancelSweepRequest(sweep_id="nope"), metadata=auth(token)
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await sweeps(stack).ListSweeps(sweep_pb2.ListSweepsRequest())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    asyncio.run(scenario())
