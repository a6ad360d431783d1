"""Schemathesis fuzzes the live gateway from its OpenAPI document: no answer may be a 5xx.

A 5xx means a request a client can send reached a bug (or an error the gateway mapped wrong),
which docs/architecture.md (Security) rules out: bad input is a 4xx naming the field. The
real stack runs in a thread (a scheduler without a trainer, so submissions stay pending) with
a gateway in front,
and schemathesis' command line runs against it with an admin's token, through its examples,
coverage, fuzzing and stateful phases (the document's links lead from a new experiment to the
routes that take its id), for `FUZZ_SECONDS`, checking `not_a_server_error` only: the document
describes what a route takes, not every 4xx it may answer. A failure prints each request that
got a 5xx with a curl command to replay it, and the seed to rerun schemathesis with `--seed`.

The scheduler runs on Postgres where one answers (`tests/postgres.py`; required in CI), which
refuses more than SQLite does (a NUL character in text, say), else on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, ExitStack
from pathlib import Path

import pytest

from tests.gateway.harness import API, Gateway, gateway_on_stack
from tests.postgres import PostgresUnavailable, in_ci, throwaway_database
from tests.stack_thread import served_in_thread

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# About two minutes in all with the stack's start; FORGE_FUZZ_SECONDS=600 for a longer hunt.
FUZZ_SECONDS = int(os.environ.get("FORGE_FUZZ_SECONDS", "100"))


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh Postgres database where a server answers, else a SQLite file."""
    with ExitStack() as stack:
        try:
            database = stack.enter_context(throwaway_database())
        except PostgresUnavailable as error:
            if in_ci():
                pytest.fail(f"{error}; CI fuzzes the gateway on Postgres", pytrace=False)
            yield f"sqlite:///{tmp_path / 'forge.db'}"
            return
        yield database.url.render_as_string(hide_password=False)


@pytest.mark.timeout(FUZZ_SECONDS + 200)
@pytest.mark.usefixtures("probe_pipeline")
def test_no_request_gets_a_server_error(tmp_path: Path, nats_url: str, database_url: str):
    def serve() -> AbstractAsyncContextManager[Gateway]:
        return gateway_on_stack(tmp_path, nats_url, database_url=database_url, trainers=0)

    with served_in_thread(serve) as (gateway, loop):
        token = asyncio.run_coroutine_threadsafe(gateway.admin(), loop).result(60)
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--no-color",
                "run",
                f"{gateway.url}{API}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-time",
                str(FUZZ_SECONDS),
                "--header",
                f"Authorization: Bearer {token}",
                "--request-timeout",
                "20",
                "--generation-database",
                ":memory:",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=FUZZ_SECONDS + 120,
            env={**os.environ, "NO_COLOR": "1"},
        )

    print(run.stdout)
    assert run.returncode == 0, f"schemathesis found server errors:\n{run.stdout}\n{run.stderr}"
