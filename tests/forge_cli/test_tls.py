"""The `forge` commands against a scheduler that serves TLS (docs/running.md, "TLS between
machines"): `FORGE_TLS_CA` is all they need; without it, or with a CA file that is no CA, the
one line they print says which setting to fix."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from azuraforge.tls import TlsSettings
from forge_cli.client import EXIT_UNAVAILABLE, EXIT_USAGE
from forge_cli.main import main
from tests.certificates import Certificates
from tests.stack import ADMIN_PASSWORD
from tests.stack_thread import LiveStack, stack_in_thread

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, certificates: Certificates
) -> Iterator[LiveStack]:
    tls = TlsSettings.from_env(certificates.server_env())
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url, tls=tls) as live:
        yield live


@pytest.fixture
def cli(stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user of the TLS stack with no saved login and no TLS setting yet."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_SCHEDULER_ADDR", stack.address)
    for variable in ("FORGE_TOKEN", "FORGE_TOKEN_FILE", "FORGE_TLS_CERT", "FORGE_TLS_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("FORGE_TLS_CA", raising=False)


def login(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    status = main(["login", "--username", "admin", "--password-stdin"])
    return status, capsys.readouterr().err


@pytest.mark.usefixtures("cli")
def test_with_the_ca_the_commands_log_in_and_list_over_tls(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("FORGE_TLS_CA", str(certificates.ca))

    status, err = login(monkeypatch, capsys)
    listed = main(["experiments"])

    assert status == 0, err
    assert listed == 0, capsys.readouterr().err


@pytest.mark.usefixtures("cli")
def test_without_the_ca_the_command_says_the_scheduler_serves_tls(
    stack: LiveStack, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    status, err = login(monkeypatch, capsys)

    assert status == EXIT_UNAVAILABLE
    assert err.startswith(f"forge login: cannot reach the scheduler at {stack.address}: ")
    assert "the scheduler serves TLS, and this connected without: set FORGE_TLS_CA" in err
    assert err.count("\n") == 1


@pytest.mark.usefixtures("cli")
def test_a_ca_setting_that_names_no_ca_is_a_usage_error(
    certificates: Certificates, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("FORGE_TLS_CA", str(certificates.server_key))

    status, err = login(monkeypatch, capsys)

    assert status == EXIT_USAGE
    assert err.startswith(f"forge login: FORGE_TLS_CA={certificates.server_key} holds no CA")
