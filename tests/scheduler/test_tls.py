"""TLS between machines (docs/architecture.md, Security): the stack with `FORGE_TLS_*`, NATS too.

The CA and the loopback certificates are made for the session (`tests/certificates.py`). The
scheduler and the trainers serve TLS only; the stack's client, the trainers registering and the
scheduler reaching its trainers all verify with the CA, and an experiment runs end to end. NATS
is the nats-server binary with the `tls {}` block of docs/running.md, which verifies clients'
certificates too.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc.aio
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.msg import Msg

from azuraforge.tls import TlsSettings, connection_hint
from azuraforge.v1 import auth_pb2, auth_pb2_grpc, events_pb2, experiment_pb2
from scheduler.bus import Bus, BusUnavailable
from scheduler.bus_credentials import BusCredentials, BusTls
from scheduler.settings import Settings
from tests.certificates import Certificates
from tests.stack import ADMIN_PASSWORD, ForgeNats, running_forge_nats, running_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED


def tls_of(environ: dict[str, str]) -> TlsSettings:
    return TlsSettings.from_env(environ)


def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'forge.db'}"


async def log_in(address: str, tls: TlsSettings) -> grpc.aio.AioRpcError | None:
    """Log in as the admin over a channel of `tls`; the error, or None when it worked."""
    async with tls.aio_channel(address) as channel:
        try:
            await auth_pb2_grpc.AuthServiceStub(channel).Login(
                auth_pb2.LoginRequest(username="admin", password=ADMIN_PASSWORD), timeout=10
            )
        except grpc.aio.AioRpcError as error:
            return error
    return None


# gRPC


def test_over_tls_a_client_logs_in_and_a_tls_trainer_runs_the_experiment(
    tmp_path: Path, nats_url: str, certificates: Certificates
) -> None:
    tls = tls_of(certificates.server_env())

    async def scenario() -> tuple[experiment_pb2.Experiment, bool, bool]:
        async with running_stack(tmp_path, database(tmp_path), nats_url, tls=tls) as stack:
            token = await stack.add_user("alice")  # logged in over TLS
            experiment = await stack.submit(token, {"epochs": 2})
            finished = await stack.finished(token, experiment.experiment_id)
            trainer = stack.trainers[0]
            return (
                finished,
                trainer.settings.tls.serves_tls,
                stack.scheduler.settings.tls.serves_tls,
            )

    finished, trainer_tls, scheduler_tls = asyncio.run(scenario())

    assert trainer_tls and scheduler_tls
    assert finished.status == SUCCEEDED, finished
    assert finished.epochs_done == 2


def test_a_plaintext_client_or_one_trusting_another_ca_cannot_log_in_and_is_told_why(
    tmp_path: Path, nats_url: str, certificates: Certificates
) -> None:
    tls = tls_of(certificates.server_env())
    wrong_ca = tls_of({"FORGE_TLS_CA": str(certificates.other_ca)})

    async def hint(error: grpc.aio.AioRpcError | None, client: TlsSettings) -> str:
        assert error is not None, "logged in all the same"
        assert error.code() is grpc.StatusCode.UNAVAILABLE
        details = error.details() or ""
        return await asyncio.to_thread(connection_hint, details, tls=client.connects_with_tls)

    async def scenario() -> tuple[str, str]:
        stack_ = running_stack(tmp_path, database(tmp_path), nats_url, trainers=0, tls=tls)
        async with stack_ as stack:
            assert await log_in(stack.address, tls_of(certificates.client_env())) is None
            # The hint asks the running scheduler whether it speaks TLS.
            plaintext = await hint(await log_in(stack.address, TlsSettings()), TlsSettings())
            distrusting = await hint(await log_in(stack.address, wrong_ca), wrong_ca)
            return plaintext, distrusting

    plaintext_hint, wrong_ca_hint = asyncio.run(scenario())

    assert plaintext_hint.startswith("the scheduler serves TLS, and this connected without")
    assert "set FORGE_TLS_CA to the CA certificate that signed" in plaintext_hint
    assert "not to be trusted" in wrong_ca_hint
    assert "FORGE_TLS_CA here must name the CA that signed it" in wrong_ca_hint


def test_trainers_with_mutual_tls_run_the_schedulers_experiments_and_no_one_elses(
    tmp_path: Path, nats_url: str, certificates: Certificates
) -> None:
    tls = tls_of(certificates.server_env())
    trainer_tls = tls_of({**certificates.server_env(), "FORGE_TLS_CLIENT_CA": str(certificates.ca)})

    async def scenario() -> tuple[experiment_pb2.Experiment, grpc.aio.AioRpcError | None]:
        async with running_stack(
            tmp_path, database(tmp_path), nats_url, tls=tls, trainer_settings={"tls": trainer_tls}
        ) as stack:
            experiment = await stack.submit(stack.admin_token, {"epochs": 1})
            finished = await stack.finished(stack.admin_token, experiment.experiment_id)
            # A client that trusts the CA but shows no certificate of its own.
            port = stack.trainers[0].port
            async with tls_of(certificates.client_env()).aio_channel(f"127.0.0.1:{port}") as ch:
                try:
                    await health_pb2_grpc.HealthStub(ch).Check(
                        health_pb2.HealthCheckRequest(), timeout=10
                    )
                except grpc.aio.AioRpcError as error:
                    return finished, error
            return finished, None

    finished, stranger = asyncio.run(scenario())

    assert finished.status == SUCCEEDED, finished
    assert stranger is not None, "a client without a certificate got in"
    assert stranger.code() is grpc.StatusCode.UNAVAILABLE


# NATS


@pytest.fixture(scope="module")
def tls_nats(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[ForgeNats]:
    with running_forge_nats(tmp_path_factory.mktemp("nats-tls"), certificates=certificates) as n:
        yield n


def test_the_scheduler_publishes_events_on_a_nats_that_requires_tls(
    tmp_path: Path, tls_nats: ForgeNats, certificates: Certificates
) -> None:
    # As the scheduler's settings would have it: a tls:// URL, NATS's CA from FORGE_TLS_CA,
    # FORGE_TLS_CERT shown to a NATS that verifies clients.
    settings = Settings.from_env(
        {
            **certificates.server_env(),
            "FORGE_DATA_DIR": str(tmp_path / "settings"),
            "FORGE_NATS_URL": tls_nats.scheduler_url,
        }
    )
    assert settings.bus_tls.required and settings.bus_tls.ca == certificates.ca
    reader_tls = ssl.create_default_context(cafile=str(certificates.ca))
    reader_tls.load_cert_chain(certificates.client_cert, certificates.client_key)

    async def scenario() -> tuple[experiment_pb2.Experiment, list[events_pb2.ExperimentEvent]]:
        async with running_stack(
            tmp_path,
            database(tmp_path),
            tls_nats.scheduler_url,
            tls=settings.tls,
            bus_tls=settings.bus_tls,
        ) as stack:
            reader = await nats.connect(tls_nats.reader_url, tls=reader_tls)
            received: list[events_pb2.ExperimentEvent] = []
            finished = asyncio.Event()

            async def on_event(msg: Msg) -> None:
                event = events_pb2.ExperimentEvent.FromString(msg.data)
                received.append(event)
                if event.HasField("experiment_finished"):
                    finished.set()

            await reader.subscribe("forge.experiments.*.events", cb=on_event)
            await reader.flush()
            experiment = await stack.submit(stack.admin_token, {"epochs": 2})
            async with asyncio.timeout(60):
                await finished.wait()
            await reader.close()
            return await stack.get(stack.admin_token, experiment.experiment_id), received

    experiment, received = asyncio.run(scenario())

    assert experiment.status == SUCCEEDED, experiment
    assert {event.experiment_id for event in received} == {experiment.experiment_id}
    assert sum(event.HasField("epoch_ended") for event in received) == 2


def test_a_scheduler_that_requires_tls_refuses_a_nats_without_it(
    forge_nats: ForgeNats, certificates: Certificates
) -> None:
    plain = forge_nats.scheduler_url.replace("nats://", "tls://")
    bus = Bus(plain, BusCredentials(), BusTls(ca=certificates.ca, required=True))

    with pytest.raises(BusUnavailable) as refused:
        asyncio.run(bus.connect())

    assert "the server offers no TLS, yet the scheduler requires it" in str(refused.value)
    assert "***" in str(refused.value), "the password stays out of the message"


def test_a_nats_certificate_the_scheduler_does_not_trust_is_named(
    tls_nats: ForgeNats, certificates: Certificates
) -> None:
    tls = BusTls(
        ca=certificates.other_ca,
        cert=certificates.server_cert,
        key=certificates.server_key,
        required=True,
    )

    with pytest.raises(BusUnavailable) as refused:
        asyncio.run(Bus(tls_nats.scheduler_url, BusCredentials(), tls).connect())

    assert "its certificate is not to be trusted" in str(refused.value)
    assert "FORGE_NATS_TLS_CA, else FORGE_TLS_CA" in str(refused.value)


def test_a_nats_that_verifies_clients_asks_for_the_schedulers_certificate(
    tls_nats: ForgeNats, certificates: Certificates
) -> None:
    tls = BusTls(ca=certificates.ca, required=True)

    with pytest.raises(BusUnavailable) as refused:
        asyncio.run(Bus(tls_nats.scheduler_url, BusCredentials(), tls).connect())

    assert "requires a client certificate" in str(refused.value)
