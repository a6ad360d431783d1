"""The generated gRPC code imports as `azuraforge.v1`, builds messages and serves calls."""

from __future__ import annotations

import datetime
import importlib
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import FileDescriptor

import azuraforge.v1
from azuraforge.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    events_pb2,
    experiment_pb2,
    scheduler_pb2,
    trainer_pb2,
    trainer_pb2_grpc,
)

CONFIG: dict[str, Any] = {
    "epochs": 5,
    "optimizer": {"name": "adam", "lr": 0.001},
    "layers": [32, 16],
}
PROTO_NAMES = sorted(p.stem for p in Path(azuraforge.v1.__file__).parent.glob("*.proto"))


@pytest.mark.parametrize("name", PROTO_NAMES)
def test_every_proto_has_generated_modules(name: str) -> None:
    importlib.import_module(f"azuraforge.v1.{name}_pb2")
    importlib.import_module(f"azuraforge.v1.{name}_pb2_grpc")


@pytest.mark.parametrize(
    ("file", "service", "methods"),
    [
        (
            auth_pb2.DESCRIPTOR,
            "AuthService",
            {"Login": False, "WhoAmI": False, "CreateUser": False},
        ),
        (
            scheduler_pb2.DESCRIPTOR,
            "SchedulerService",
            {
                "ListPipelines": False,
                "SubmitExperiment": False,
                "GetExperiment": False,
                "ListExperiments": False,
                "CancelExperiment": False,
                "WatchExperiment": True,
                "WatchExperiments": True,
                "GetArtifact": True,
                "RegisterTrainer": False,
                "TrainerHeartbeat": False,
                "Predict": False,
                "RenameExperiment": False,
            },
        ),
        (
            trainer_pb2.DESCRIPTOR,
            "TrainerService",
            {"Train": True, "Attach": True, "Cancel": False, "Describe": False, "Predict": False},
        ),
    ],
)
def test_services_have_their_methods(
    file: FileDescriptor, service: str, methods: dict[str, bool]
) -> None:
    """Each method by name, and whether it streams its responses."""
    descriptor = file.services_by_name[service]

    assert descriptor.full_name == f"azuraforge.v1.{service}"
    assert {name: m.server_streaming for name, m in descriptor.methods_by_name.items()} == methods


def test_config_travels_as_plain_json() -> None:
    config = struct_pb2.Struct()
    config.update(CONFIG)
    request = scheduler_pb2.SubmitExperimentRequest(pipeline="digit_classifier", config=config)

    decoded = scheduler_pb2.SubmitExperimentRequest.FromString(request.SerializeToString())

    assert json_format.MessageToDict(decoded.config) == CONFIG
    assert json_format.MessageToDict(decoded) == {"pipeline": "digit_classifier", "config": CONFIG}


def test_event_carries_one_kind() -> None:
    emitted_at = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    event = events_pb2.ExperimentEvent(
        experiment_id="exp-1",
        seq=3,
        emitted_at=emitted_at,
        epoch_ended=events_pb2.EpochEnded(
            epoch=2, total_epochs=5, metrics={"loss": 0.5, "val_accuracy": 0.75}
        ),
    )

    decoded = events_pb2.ExperimentEvent.FromString(event.SerializeToString())

    assert decoded.WhichOneof("kind") == "epoch_ended"
    assert decoded.emitted_at.ToDatetime(datetime.UTC) == emitted_at
    assert dict(decoded.epoch_ended.metrics) == {"loss": 0.5, "val_accuracy": 0.75}

    decoded.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
    assert decoded.WhichOneof("kind") == "experiment_finished"


class FixedAuth(auth_pb2_grpc.AuthServiceServicer):
    def Login(
        self, request: auth_pb2.LoginRequest, context: grpc.ServicerContext
    ) -> auth_pb2.LoginResponse:
        return auth_pb2.LoginResponse(access_token=f"token-for-{request.username}")


class TwoEpochTrainer(trainer_pb2_grpc.TrainerServiceServicer):
    def Train(
        self, request: trainer_pb2.TrainRequest, context: grpc.ServicerContext
    ) -> Iterator[trainer_pb2.TrainResponse]:
        for epoch in (1, 2):
            yield trainer_pb2.TrainResponse(
                event=events_pb2.ExperimentEvent(
                    experiment_id=request.experiment_id,
                    seq=epoch,
                    epoch_ended=events_pb2.EpochEnded(epoch=epoch, total_epochs=2),
                )
            )


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    auth_pb2_grpc.add_AuthServiceServicer_to_server(FixedAuth(), server)
    trainer_pb2_grpc.add_TrainerServiceServicer_to_server(TwoEpochTrainer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        server.stop(grace=None)


def test_stubs_call_a_server(channel: grpc.Channel) -> None:
    login = auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(username="ada", password="secret"), timeout=10
    )
    assert login.access_token == "token-for-ada"

    responses = trainer_pb2_grpc.TrainerServiceStub(channel).Train(
        trainer_pb2.TrainRequest(experiment_id="exp-1", pipeline="digit_classifier"), timeout=10
    )
    assert [(r.event.seq, r.event.epoch_ended.epoch) for r in responses] == [(1, 1), (2, 2)]
