"""A gateway in front of a scheduler that serves TLS: with `FORGE_TLS_CA` it works as ever;
without, every call is a 503 that says to set it (docs/running.md, "TLS between machines")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from azuraforge.tls import TlsSettings
from gateway.settings import load_settings
from tests.certificates import Certificates
from tests.gateway.harness import API, gateway_on_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]


def on_tls_stack(
    tmp_path: Path, nats_url: str, certificates: Certificates, gateway_env: dict[str, str]
) -> Any:
    """Log in and submit through a gateway with `gateway_env` in front of a TLS stack."""
    settings = load_settings({**gateway_env, "FORGE_WEBAPP_DIR": str(tmp_path / "no-webapp")})
    stack_tls = TlsSettings.from_env(certificates.server_env())

    async def scenario() -> tuple[int, dict[str, Any], str]:
        async with gateway_on_stack(tmp_path, nats_url, settings, tls=stack_tls) as gateway:
            async with gateway.http.post(
                f"{API}/auth/token", data={"username": "admin", "password": "admin-password"}
            ) as response:
                status, body = response.status, await response.json()
            if status != 200:
                return status, body, ""
            token = body["access_token"]
            experiment = await gateway.submit(token, {"epochs": 1})
            finished = await gateway.finished(token, experiment["experiment_id"])
            return status, body, finished["status"]

    return asyncio.run(scenario())


def test_a_gateway_that_trusts_the_ca_reaches_a_tls_scheduler(
    tmp_path: Path, nats_url: str, certificates: Certificates
) -> None:
    status, body, finished = on_tls_stack(
        tmp_path, nats_url, certificates, certificates.client_env()
    )

    assert status == 200, body
    assert finished == "EXPERIMENT_STATUS_SUCCEEDED"


def test_a_gateway_without_the_ca_answers_503_naming_the_setting(
    tmp_path: Path, nats_url: str, certificates: Certificates
) -> None:
    status, body, _ = on_tls_stack(tmp_path, nats_url, certificates, {})

    assert status == 503
    assert body["error"]["code"] == "unavailable"
    message = body["error"]["message"]
    assert "if the scheduler serves TLS, set FORGE_TLS_CA on the gateway" in message
