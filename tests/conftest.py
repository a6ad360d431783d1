"""Fixtures every test folder may use to run the real stack (see `tests/stack.py`).

`tests.stack` is imported inside the fixtures, so that the many tests that need no stack do
not import gRPC, the scheduler and the trainer to be collected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream for the whole session; experiments never share ids."""
    from tests.stack import running_nats

    with running_nats(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(scope="session")
def probe_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `trainer_probe` pipeline installed as a plugin; its name."""
    from tests.stack import installed_probe

    with installed_probe(tmp_path_factory.mktemp("site")) as name:
        yield name
