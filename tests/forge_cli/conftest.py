"""The `forge` commands' tests run some commands in this process, and each command makes the
process's umask private (`forge_cli.private`): the umask is put back after every test, so that
no test depends on which ran before it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def umask_restored() -> Iterator[None]:
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        yield
    finally:
        os.umask(umask)
