"""Settings from FORGE_* variables, and the secrets made up once and kept in the data folder."""

from __future__ import annotations

import os
import re
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.bus import Bus
from scheduler.secrets import SecretFileError, read_or_create_secret
from scheduler.settings import CLUSTER_TOKEN_FILE, JWT_SECRET_FILE, Settings, SettingsError
from tests.certificates import Certificates

LONG_SECRET = "s" * 40


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    data_dir = tmp_path / "var"
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir / 'forge.db'}"
    assert settings.scheduler_port == 50051
    assert settings.scheduler_addr == "127.0.0.1:50051"
    assert settings.nats_url is None
    assert settings.admin_password is None
    assert settings.token_lifetime == timedelta(hours=12)
    assert settings.trainer_heartbeat_interval == timedelta(seconds=5)
    assert settings.trainer_timeout == timedelta(seconds=15)
    assert settings.jwt_secret == (data_dir / JWT_SECRET_FILE).read_text().strip()
    assert settings.cluster_token == (data_dir / CLUSTER_TOKEN_FILE).read_text().strip()
    assert len(settings.jwt_secret) >= 32
    assert settings.jwt_secret != settings.cluster_token


def test_environment_overrides_every_default(tmp_path: Path):
    settings = Settings.from_env(
        {
            "FORGE_DATA_DIR": str(tmp_path / "data"),
            "FORGE_DATABASE_URL": "postgresql+psycopg2://forge@db:5432/forge",
            "FORGE_SCHEDULER_PORT": "6000",
            "FORGE_SCHEDULER_ADDR": "scheduler:6000",
            "FORGE_NATS_URL": "nats://nats:4222",
            "FORGE_ADMIN_PASSWORD": "correct horse ",
            "FORGE_JWT_SECRET": LONG_SECRET,
            "FORGE_CLUSTER_TOKEN": "cluster",
            "FORGE_TOKEN_LIFETIME_SECONDS": "600",
            "FORGE_TRAINER_HEARTBEAT_SECONDS": "2",
        }
    )

    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == "postgresql+psycopg2://forge@db:5432/forge"
    assert settings.scheduler_port == 6000
    assert settings.scheduler_addr == "scheduler:6000"
    assert settings.nats_url == "nats://nats:4222"
    # Stripped like every FORGE_* value (azuraforge.settings): inner spaces stay, ends go.
    assert settings.admin_password == "correct horse"
    assert settings.jwt_secret == LONG_SECRET
    assert settings.cluster_token == "cluster"
    assert settings.token_lifetime == timedelta(minutes=10)
    assert settings.trainer_timeout == timedelta(seconds=6)
    # Both secrets were given, so nothing was written.
    assert not (tmp_path / "data").exists()


def test_the_address_follows_the_port_and_blank_means_unset(tmp_path: Path):
    settings = Settings.from_env(
        {"FORGE_DATA_DIR": str(tmp_path), "FORGE_SCHEDULER_PORT": "7000", "FORGE_NATS_URL": " "}
    )

    assert settings.scheduler_addr == "127.0.0.1:7000"
    assert settings.nats_url is None


def test_nats_credentials_are_a_user_and_password_or_a_token_and_never_shown(tmp_path: Path):
    base = {"FORGE_DATA_DIR": str(tmp_path)}
    user = Settings.from_env(
        {**base, "FORGE_NATS_USER": "forge-scheduler", "FORGE_NATS_PASSWORD": "pass word "}
    )
    token = Settings.from_env({**base, "FORGE_NATS_TOKEN": "t0ken"})

    assert user.bus_credentials.connect_options() == {
        "user": "forge-scheduler",
        "password": "pass word",
    }
    assert token.bus_credentials.connect_options() == {"token": "t0ken"}
    assert Settings.from_env(base).bus_credentials.connect_options() == {}
    assert "pass word" not in repr(user) and "t0ken" not in repr(token)
    for bad, message in (
        ({"FORGE_NATS_USER": "forge-scheduler"}, "FORGE_NATS_USER and FORGE_NATS_PASSWORD go"),
        ({"FORGE_NATS_PASSWORD": "secret"}, "FORGE_NATS_USER and FORGE_NATS_PASSWORD go"),
        (
            {"FORGE_NATS_USER": "u", "FORGE_NATS_PASSWORD": "p", "FORGE_NATS_TOKEN": "t"},
            "Set FORGE_NATS_TOKEN or FORGE_NATS_USER and FORGE_NATS_PASSWORD, not both",
        ),
    ):
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({**base, **bad})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://forge-scheduler:s3cret@nats:4222", "nats://forge-scheduler:***@nats:4222"),
        ("nats://s3cret-token@nats:4222", "nats://***@nats:4222"),
    ],
)
def test_a_nats_url_is_shown_without_its_secret(url: str, shown: str):
    assert Bus(url).url == shown


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FORGE_SCHEDULER_PORT", "http", "FORGE_SCHEDULER_PORT='http' is not a whole number"),
        ("FORGE_SCHEDULER_PORT", "70000", "FORGE_SCHEDULER_PORT=70000 is out of range"),
        ("FORGE_TOKEN_LIFETIME_SECONDS", "0", "FORGE_TOKEN_LIFETIME_SECONDS=0 is out of range"),
        ("FORGE_JWT_SECRET", "short", "FORGE_JWT_SECRET is 5 characters long"),
    ],
)
def test_unusable_values_are_named(tmp_path: Path, name: str, value: str, message: str):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({"FORGE_DATA_DIR": str(tmp_path), name: value})


def test_secret_files_are_created_once_with_mode_0600_and_reused(tmp_path: Path):
    environ = {"FORGE_DATA_DIR": str(tmp_path)}
    old_umask = os.umask(0)  # Even a permissive umask must not open the files up.
    try:
        first = Settings.from_env(environ)
    finally:
        os.umask(old_umask)
    files = {tmp_path / JWT_SECRET_FILE, tmp_path / CLUSTER_TOKEN_FILE}
    contents = {path: path.read_bytes() for path in files}

    second = Settings.from_env(environ)

    assert {mode(path) for path in files} == {0o600}
    assert (second.jwt_secret, second.cluster_token) == (first.jwt_secret, first.cluster_token)
    assert {path: path.read_bytes() for path in files} == contents
    assert set(tmp_path.iterdir()) == files  # no temporary files left behind


def test_an_existing_secret_file_is_used_as_written(tmp_path: Path):
    (tmp_path / CLUSTER_TOKEN_FILE).write_text("shared-by-hand\n")

    settings = Settings.from_env({"FORGE_DATA_DIR": str(tmp_path)})

    assert settings.cluster_token == "shared-by-hand"


def test_an_empty_secret_file_says_what_to_do(tmp_path: Path):
    (tmp_path / JWT_SECRET_FILE).write_text("\n")

    with pytest.raises(SecretFileError, match=r"is empty\. Delete it"):
        Settings.from_env({"FORGE_DATA_DIR": str(tmp_path)})


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path):
    path = tmp_path / "secret"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(read_or_create_secret(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8
    assert set(results) == {path.read_text().strip()}
    assert os.listdir(tmp_path) == ["secret"]


def test_repr_shows_no_secret(tmp_path: Path):
    settings = Settings.from_env(
        {"FORGE_DATA_DIR": str(tmp_path), "FORGE_ADMIN_PASSWORD": "hunter2hunter2"}
    )

    text = repr(settings)

    assert "hunter2hunter2" not in text
    assert settings.jwt_secret not in text
    assert settings.cluster_token not in text
    assert "data_dir" in text


def test_tls_settings_are_read_and_nats_takes_the_ca_unless_told_another(
    tmp_path: Path, certificates: Certificates
):
    base = {"FORGE_DATA_DIR": str(tmp_path), **certificates.server_env()}

    plain_nats = Settings.from_env({**base, "FORGE_NATS_URL": "nats://127.0.0.1:4222"})
    tls_nats = Settings.from_env({**base, "FORGE_NATS_URL": "tls://nats.example:4222"})
    own_ca = Settings.from_env(
        {
            **base,
            "FORGE_NATS_URL": "nats://nats.example:4222",
            "FORGE_NATS_TLS_CA": str(certificates.other_ca),
        }
    )

    assert plain_nats.tls.serves_tls and plain_nats.tls.connects_with_tls
    # TLS when that NATS asks for it; a tls:// URL or a NATS CA of its own requires it.
    assert not plain_nats.bus_tls.required
    assert tls_nats.bus_tls.required
    assert own_ca.bus_tls.required
    assert (tls_nats.bus_tls.ca, own_ca.bus_tls.ca) == (certificates.ca, certificates.other_ca)
    # The scheduler's certificate is what it shows NATS that asks.
    assert tls_nats.bus_tls.cert == certificates.server_cert
    assert Settings.from_env({"FORGE_DATA_DIR": str(tmp_path)}).bus_tls.context() is None


def test_unusable_tls_settings_are_named(tmp_path: Path, certificates: Certificates):
    with pytest.raises(SettingsError, match="FORGE_TLS_CERT and FORGE_TLS_KEY go together"):
        Settings.from_env(
            {"FORGE_DATA_DIR": str(tmp_path), "FORGE_TLS_CERT": str(certificates.server_cert)}
        )
    with pytest.raises(SettingsError, match=r"FORGE_NATS_TLS_CA=.*no CA certificate"):
        Settings.from_env(
            {"FORGE_DATA_DIR": str(tmp_path), "FORGE_NATS_TLS_CA": str(tmp_path / "none.pem")}
        )
