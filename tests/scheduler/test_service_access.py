"""Who may call what, what a bad request is answered, and what each caller sees, on the real stack.

No trainer runs here: experiments stay PENDING, which is all these rules need.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from azuraforge.v1 import auth_pb2, experiment_pb2, scheduler_pb2
from scheduler.auth import issue_token
from scheduler.db.models import Role
from scheduler.errors import field_errors, retry_after, rich_status
from scheduler.records import UserRecord
from tests.stack import (
    CLUSTER_TOKEN,
    PROBE,
    Stack,
    auth,
    installed_pipelines,
    running_stack,
    struct,
)

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

PENDING = experiment_pb2.EXPERIMENT_STATUS_PENDING
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    """The error a call (unary, or a stream read to its end) ends with."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return raised.value


def in_stack(tmp_path: Path, database_url: str, nats_url: str, scenario: Any) -> Any:
    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            return await scenario(stack)

    return asyncio.run(run())


def test_every_rpc_needs_a_valid_token(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        experiment = await stack.submit(alice, {"epochs": 1})
        # Claims an admin, signed with a key that is not the scheduler's.
        forged = issue_token(
            UserRecord("someone", "someone", Role.ADMIN, datetime.now(UTC)),
            secret="another-secret-that-is-long-enough-to-sign",
            lifetime=timedelta(hours=1),
        ).access_token
        stub = stack.stub
        errors = {}
        for name, metadata in (
            ("none", ()),
            ("garbage", auth("not-a-jwt")),
            ("forged", auth(forged)),
        ):
            errors[name] = [
                await refusal(
                    stub.ListPipelines(scheduler_pb2.ListPipelinesRequest(), metadata=metadata)
                ),
                await refusal(
                    stub.GetExperiment(
                        scheduler_pb2.GetExperimentRequest(experiment_id=experiment.experiment_id),
                        metadata=metadata,
                    )
                ),
                await refusal(
                    stub.SubmitExperiment(
                        scheduler_pb2.SubmitExperimentRequest(pipeline=PROBE), metadata=metadata
                    )
                ),
                await refusal(
                    stub.WatchExperiment(
                        scheduler_pb2.WatchExperimentRequest(
                            experiment_id=experiment.experiment_id
                        ),
                        metadata=metadata,
                    )
                ),
                await refusal(stack.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=metadata)),
                await refusal(
                    stub.TrainerHeartbeat(
                        scheduler_pb2.TrainerHeartbeatRequest(trainer_id="t"), metadata=metadata
                    )
                ),
            ]
        # A user's token is no cluster token, and the cluster token is no user's token.
        errors["user token for a trainer RPC"] = [
            await refusal(
                stub.RegisterTrainer(
                    scheduler_pb2.RegisterTrainerRequest(address="127.0.0.1:1", slots=1),
                    metadata=auth(alice),
                )
            )
        ]
        errors["cluster token for a user RPC"] = [
            await refusal(
                stub.ListExperiments(
                    scheduler_pb2.ListExperimentsRequest(), metadata=auth(CLUSTER_TOKEN)
                )
            )
        ]
        return errors

    errors = in_stack(tmp_path, database_url, nats_url, scenario)

    for name, refused in errors.items():
        assert [error.code() for error in refused] == [grpc.StatusCode.UNAUTHENTICATED] * len(
            refused
        ), name
    assert "authorization: Bearer" in (errors["none"][0].details() or "")
    assert "log in again" in (errors["forged"][0].details() or "")
    assert "cluster token" in (errors["user token for a trainer RPC"][0].details() or "")


def test_users_see_only_their_own_experiments_and_admins_see_all(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        bob = await stack.add_user("bob")
        mine = await stack.submit(alice, {"epochs": 1})
        theirs = await stack.submit(bob, {"epochs": 2})
        experiment_id = theirs.experiment_id
        stub = stack.stub
        hidden = [
            await refusal(
                stub.GetExperiment(
                    scheduler_pb2.GetExperimentRequest(experiment_id=experiment_id),
                    metadata=auth(alice),
                )
            ),
            await refusal(
                stub.WatchExperiment(
                    scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id),
                    metadata=auth(alice),
                )
            ),
            await refusal(
                stub.CancelExperiment(
                    scheduler_pb2.CancelExperimentRequest(experiment_id=experiment_id),
                    metadata=auth(alice),
                )
            ),
            await refusal(
                stub.GetArtifact(
                    scheduler_pb2.GetArtifactRequest(experiment_id=experiment_id, name="report.md"),
                    metadata=auth(alice),
                )
            ),
        ]
        unknown = await refusal(
            stub.GetExperiment(
                scheduler_pb2.GetExperimentRequest(experiment_id="no-such-experiment"),
                metadata=auth(alice),
            )
        )
        listed = {
            name: await stub.ListExperiments(
                scheduler_pb2.ListExperimentsRequest(), metadata=auth(token)
            )
            for name, token in (("alice", alice), ("admin", stack.admin_token))
        }
        seen_by_admin = await stack.get(stack.admin_token, experiment_id)
        still_pending = await stack.get(bob, experiment_id)
        return mine, theirs, hidden, unknown, listed, seen_by_admin, still_pending

    mine, theirs, hidden, unknown, listed, by_admin, still_pending = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    assert [error.code() for error in hidden] == [grpc.StatusCode.NOT_FOUND] * 4
    # Someone else's experiment reads exactly like one that does not exist.
    assert hidden[0].details() == (unknown.details() or "").replace(
        "no-such-experiment", theirs.experiment_id
    )
    assert still_pending.status == PENDING
    assert [e.experiment_id for e in listed["alice"].experiments] == [mine.experiment_id]
    assert {e.experiment_id for e in listed["admin"].experiments} == {
        mine.experiment_id,
        theirs.experiment_id,
    }
    assert (by_admin.owner, by_admin.config["epochs"]) == ("bob", 2)


def test_accounts_whoami_and_who_may_create_users(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        me = await stack.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=auth(alice))
        admin = await stack.auth.WhoAmI(auth_pb2.WhoAmIRequest(), metadata=auth(stack.admin_token))
        denied = await refusal(
            stack.auth.CreateUser(
                auth_pb2.CreateUserRequest(username="mallory", password="long-enough"),
                metadata=auth(alice),
            )
        )
        taken = await refusal(
            stack.auth.CreateUser(
                auth_pb2.CreateUserRequest(username="alice", password="long-enough"),
                metadata=auth(stack.admin_token),
            )
        )
        bad_name = await refusal(
            stack.auth.CreateUser(
                auth_pb2.CreateUserRequest(username="no spaces", password="long-enough"),
                metadata=auth(stack.admin_token),
            )
        )
        wrong = await refusal(
            stack.auth.Login(auth_pb2.LoginRequest(username="alice", password="wrong-password"))
        )
        login = await stack.auth.Login(
            auth_pb2.LoginRequest(username="alice", password="alice-password")
        )
        return me, admin, denied, taken, bad_name, wrong, login

    me, admin, denied, taken, bad_name, wrong, login = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    assert (me.user.username, me.user.role) == ("alice", auth_pb2.ROLE_USER)
    assert (admin.user.username, admin.user.role) == ("admin", auth_pb2.ROLE_ADMIN)
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert taken.code() == grpc.StatusCode.ALREADY_EXISTS
    assert bad_name.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [error.field for error in field_errors(bad_name.trailing_metadata() or ())] == [
        "username"
    ]
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == "wrong username or password"
    assert (login.token_type, login.user.username) == ("bearer", "alice")
    assert 0 < login.expires_in <= 3600


def test_repeated_failed_logins_are_throttled(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        await stack.add_user("alice")
        attempts = []
        for _ in range(6):
            attempts.append(
                await refusal(
                    stack.auth.Login(auth_pb2.LoginRequest(username="alice", password="guess-1234"))
                )
            )
        # Even the right password waits now: a throttled attempt is not even checked.
        right = await refusal(
            stack.auth.Login(auth_pb2.LoginRequest(username="alice", password="alice-password"))
        )
        return attempts, right

    attempts, right = in_stack(tmp_path, database_url, nats_url, scenario)

    codes = [error.code() for error in attempts]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 5 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    for throttled in (attempts[-1], right):
        assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too many failed logins" in (throttled.details() or "")
        assert (retry_after(throttled.trailing_metadata() or ()) or 0) >= 1


def test_a_bad_submission_is_refused_naming_the_field(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")

        async def submit(pipeline: str, config: dict[str, Any]) -> grpc.aio.AioRpcError:
            return await refusal(
                stack.stub.SubmitExperiment(
                    scheduler_pb2.SubmitExperimentRequest(pipeline=pipeline, config=struct(config)),
                    metadata=auth(alice),
                )
            )

        refused = {
            "bounds": await submit(PROBE, {"epochs": 0, "learning_rate": -1}),
            "unknown field": await submit(PROBE, {"epoch": 3}),
            "choice": await submit(PROBE, {"behaviour": "dance"}),
            "unknown pipeline": await submit("no_such_pipeline", {}),
            "no pipeline": await submit("", {}),
        }
        accepted = await stack.submit(alice, {"epochs": "4"})
        listed = await stack.stub.ListExperiments(
            scheduler_pb2.ListExperimentsRequest(), metadata=auth(alice)
        )
        return refused, accepted, listed

    refused, accepted, listed = in_stack(tmp_path, database_url, nats_url, scenario)

    for error in refused.values():
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {
        name: [(e.field, e.rule) for e in field_errors(error.trailing_metadata() or ())]
        for name, error in refused.items()
    }
    assert fields["bounds"] == [
        ("config.epochs", "greater_than_equal"),
        ("config.learning_rate", "greater_than"),
    ]
    assert fields["unknown field"] == [("config.epoch", "extra_forbidden")]
    assert fields["choice"] == [("config.behaviour", "literal_error")]
    assert fields["unknown pipeline"] == [("pipeline", "unknown_pipeline")]
    assert fields["no pipeline"] == [("pipeline", "missing")]
    assert "epochs" in (refused["bounds"].details() or "")
    assert "no_such_pipeline" in (refused["unknown pipeline"].details() or "")
    assert PROBE in (refused["unknown pipeline"].details() or "")
    # The standard rich status, which grpcurl and every gRPC client read.
    status = rich_status(refused["bounds"].trailing_metadata() or ())
    assert status is not None
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == refused["bounds"].details()
    assert [d.type_url for d in status.details] == ["type.googleapis.com/google.rpc.BadRequest"]
    (first, *_) = field_errors(refused["bounds"].trailing_metadata() or ())
    assert first.message.startswith("epochs: ")
    # Nothing refused was stored; the accepted config has its defaults filled in.
    assert [e.experiment_id for e in listed.experiments] == [accepted.experiment_id]
    assert accepted.config["epochs"] == 4
    assert accepted.config["behaviour"] == "train"
    assert accepted.total_epochs == 4


def test_list_experiments_pages_and_filters(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        submitted = [(await stack.submit(alice, {"epochs": n})).experiment_id for n in range(1, 6)]
        for experiment_id in submitted[:2]:
            await stack.stub.CancelExperiment(
                scheduler_pb2.CancelExperimentRequest(experiment_id=experiment_id),
                metadata=auth(alice),
            )
        pages = []
        token = ""
        while True:
            page = await stack.stub.ListExperiments(
                scheduler_pb2.ListExperimentsRequest(page_size=2, page_token=token),
                metadata=auth(alice),
            )
            pages.append(page)
            token = page.next_page_token
            if not token:
                break
        cancelled = await stack.stub.ListExperiments(
            scheduler_pb2.ListExperimentsRequest(statuses=[CANCELLED]), metadata=auth(alice)
        )
        other_pipeline = await stack.stub.ListExperiments(
            scheduler_pb2.ListExperimentsRequest(pipeline="digits"), metadata=auth(alice)
        )
        bad_token = await refusal(
            stack.stub.ListExperiments(
                scheduler_pb2.ListExperimentsRequest(page_token="not-a-token"),
                metadata=auth(alice),
            )
        )
        bad_status = await refusal(
            stack.stub.ListExperiments(
                scheduler_pb2.ListExperimentsRequest(
                    statuses=[experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED]
                ),
                metadata=auth(alice),
            )
        )
        return submitted, pages, cancelled, other_pipeline, bad_token, bad_status

    submitted, pages, cancelled, other, bad_token, bad_status = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    assert [len(page.experiments) for page in pages] == [2, 2, 1]
    assert {page.total_size for page in pages} == {5}
    listed = [e.experiment_id for page in pages for e in page.experiments]
    assert listed == submitted[::-1]  # newest first
    assert {e.experiment_id for e in cancelled.experiments} == set(submitted[:2])
    assert cancelled.total_size == 2
    assert (list(other.experiments), other.total_size) == ([], 0)
    for error, field in ((bad_token, "page_token"), (bad_status, "statuses")):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [e.field for e in field_errors(error.trailing_metadata() or ())] == [field]


def test_watch_experiments_streams_the_callers_own_status_changes(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def follow(
        stack: Stack, token: str, changes: list, count: int, ready: asyncio.Event
    ) -> None:
        call = stack.stub.WatchExperiments(
            scheduler_pb2.WatchExperimentsRequest(), metadata=auth(token)
        )
        await call.initial_metadata()  # the server's subscription is live from here on
        ready.set()
        async for response in call:
            changes.append(response.change)
            if len(changes) == count:
                call.cancel()
                return

    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        bob = await stack.add_user("bob")
        seen: dict[str, list] = {"alice": [], "bob": [], "admin": []}
        # Each stream stops after as many changes as it should show. The last it should show
        # comes after everything it must not, so a change it must not show would have taken
        # the place of one it should.
        counts = {"alice": 3, "bob": 1, "admin": 4}
        ready = {name: asyncio.Event() for name in seen}
        tokens = {"alice": alice, "bob": bob, "admin": stack.admin_token}
        watchers = asyncio.gather(
            *(follow(stack, tokens[n], seen[n], counts[n], ready[n]) for n in seen)
        )
        async with asyncio.timeout(60):
            for event in ready.values():
                await event.wait()
            experiment = await stack.submit(alice, {"epochs": 1})
            await stack.stub.CancelExperiment(
                scheduler_pb2.CancelExperimentRequest(experiment_id=experiment.experiment_id),
                metadata=auth(alice),
            )
            bobs = await stack.submit(bob, {"epochs": 1})
            alices = await stack.submit(alice, {"epochs": 1})
            await watchers
        return experiment, bobs, alices, seen

    experiment, bobs, alices, seen = in_stack(tmp_path, database_url, nats_url, scenario)

    def summary(changes: list) -> list[tuple[str, str, int, int]]:
        return [(c.experiment_id, c.owner, c.previous_status, c.status) for c in changes]

    alice_first = [
        (experiment.experiment_id, "alice", 0, PENDING),
        (experiment.experiment_id, "alice", PENDING, CANCELLED),
    ]
    bob_sentinel = (bobs.experiment_id, "bob", 0, PENDING)
    alice_sentinel = (alices.experiment_id, "alice", 0, PENDING)
    assert summary(seen["alice"]) == [*alice_first, alice_sentinel]
    assert summary(seen["bob"]) == [bob_sentinel]
    assert summary(seen["admin"]) == [*alice_first, bob_sentinel, alice_sentinel]


def test_unusable_requests_get_a_status_that_names_the_problem(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        experiment = await stack.submit(alice, {"epochs": 1})
        cluster = auth(CLUSTER_TOKEN)
        return [
            await refusal(
                stack.stub.GetArtifact(
                    scheduler_pb2.GetArtifactRequest(
                        experiment_id=experiment.experiment_id, name="report.md"
                    ),
                    metadata=auth(alice),
                )
            ),
            await refusal(
                stack.stub.RegisterTrainer(
                    scheduler_pb2.RegisterTrainerRequest(address="127.0.0.1:1", slots=0),
                    metadata=cluster,
                )
            ),
            await refusal(
                stack.stub.RegisterTrainer(
                    scheduler_pb2.RegisterTrainerRequest(slots=1), metadata=cluster
                )
            ),
            await refusal(
                stack.auth.CreateUser(
                    auth_pb2.CreateUserRequest(
                        username="carol", password="long-enough", role=cast(auth_pb2.Role, 7)
                    ),
                    metadata=auth(stack.admin_token),
                )
            ),
        ]

    missing, no_slots, no_address, bad_role = in_stack(tmp_path, database_url, nats_url, scenario)

    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert "report.md" in (missing.details() or "")
    for error, field in ((no_slots, "slots"), (no_address, "address"), (bad_role, "role")):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
        assert [e.field for e in field_errors(error.trailing_metadata() or ())] == [field]


def test_trainers_register_and_heartbeat_with_the_cluster_token(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        cluster = auth(CLUSTER_TOKEN)
        registered = await stack.stub.RegisterTrainer(
            scheduler_pb2.RegisterTrainerRequest(
                address="127.0.0.1:1",
                slots=2,
                pipelines=installed_pipelines(PROBE),
                trainer_id="far-away",
            ),
            metadata=cluster,
        )
        known = await stack.stub.TrainerHeartbeat(
            scheduler_pb2.TrainerHeartbeatRequest(trainer_id="far-away"), metadata=cluster
        )
        unknown = await stack.stub.TrainerHeartbeat(
            scheduler_pb2.TrainerHeartbeatRequest(trainer_id="never-registered"), metadata=cluster
        )
        return registered, known, unknown

    registered, known, unknown = in_stack(tmp_path, database_url, nats_url, scenario)

    assert registered.trainer_id == "far-away"
    assert registered.heartbeat_interval_seconds == 1
    assert known.registered and not unknown.registered


def test_reflection_health_and_the_pipeline_list(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        health = health_pb2_grpc.HealthStub(stack.channel)
        statuses = {
            service: (await health.Check(health_pb2.HealthCheckRequest(service=service))).status
            for service in ("", "azuraforge.v1.AuthService", "azuraforge.v1.SchedulerService")
        }
        reflection = reflection_pb2_grpc.ServerReflectionStub(stack.channel)
        call = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        services = [
            service.name
            async for response in call
            for service in response.list_services_response.service
        ]
        # No trainer is live: the pipelines announced before, which a client asks for to show
        # past experiments' configs.
        pipelines = await stack.stub.ListPipelines(
            scheduler_pb2.ListPipelinesRequest(include_offline=True),
            metadata=auth(stack.admin_token),
        )
        return statuses, services, pipelines

    statuses, services, pipelines = in_stack(tmp_path, database_url, nats_url, scenario)

    assert set(statuses.values()) == {health_pb2.HealthCheckResponse.SERVING}
    assert {
        "azuraforge.v1.AuthService",
        "azuraforge.v1.SchedulerService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= set(services)
    (probe,) = [pipeline for pipeline in pipelines.pipelines if pipeline.name == PROBE]
    assert probe.summary.startswith("Fits a line")
    assert probe.config_schema["properties"]["epochs"]["default"] == 3
    assert {"image_classifier", "weather_forecaster"} <= {p.name for p in pipelines.pipelines}
