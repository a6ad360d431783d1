"""Fixtures every test folder may use to run the real stack (see `tests/stack.py`).

`tests.stack` is imported inside the fixtures, so that the many tests that need no stack do
not import gRPC, the scheduler and the trainer to be collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.certificates import Certificates
    from tests.stack import ForgeNats
    from tests.trainer.probe import Gate


@pytest.fixture(scope="session")
def forge_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeNats]:
    """A real nats-server for the whole session, with JetStream and the authorization config
    `forge up` gives it; experiments never share ids."""
    from tests.stack import running_forge_nats

    with running_forge_nats(tmp_path_factory.mktemp("nats")) as nats:
        yield nats


@pytest.fixture(scope="session")
def nats_url(forge_nats: ForgeNats) -> str:
    """Its URL with the scheduler's user and password: what a test scheduler connects with."""
    return forge_nats.scheduler_url


@pytest.fixture(scope="session")
def probe_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `trainer_probe` pipeline installed as a plugin; its name."""
    from tests.stack import installed_probe

    with installed_probe(tmp_path_factory.mktemp("site")) as name:
        yield name


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA of the session's own, and server and client certificates for loopback it signed."""
    from tests.certificates import make_certificates

    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    """A gate a `trainer_probe` run waits at before each epoch until the test releases it."""
    from tests.trainer.probe import Gate

    return Gate(tmp_path / "gate")
