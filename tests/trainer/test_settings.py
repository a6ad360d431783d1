"""Trainer settings from FORGE_* variables and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.certificates import Certificates
from trainer.settings import SettingsError, TrainerSettings, load_settings


def test_defaults_read_the_token_the_scheduler_wrote(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    (tmp_path / "cluster-token").write_text("from-file\n")

    settings = load_settings({"FORGE_DATA_DIR": str(tmp_path)})

    assert settings.cluster_token == "from-file"
    assert (settings.host, settings.port, settings.slots, settings.threads) == ("[::]", 50052, 1, 8)
    assert settings.scheduler_address == "127.0.0.1:50051"
    assert settings.pipeline_scan_s == 30
    assert settings.work_dir("t1") == tmp_path / "trainer" / "t1"
    assert "from-file" not in repr(settings)


def test_flags_win_over_variables(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    environ = {
        "FORGE_DATA_DIR": str(tmp_path),
        "FORGE_CLUSTER_TOKEN": "from-env",
        "FORGE_TRAINER_PORT": "6000",
        "FORGE_TRAINER_SLOTS": "4",
        "FORGE_SCHEDULER_ADDR": "scheduler:50051",
        "FORGE_TRAINER_ID": "",
    }

    from_env = load_settings(environ)
    flagged = load_settings(environ, port=0, slots=2, threads=3, scheduler_address="other:1")

    assert (from_env.cluster_token, from_env.port, from_env.slots) == ("from-env", 6000, 4)
    assert (from_env.threads, from_env.scheduler_address) == (2, "scheduler:50051")
    assert from_env.trainer_id is None
    assert (flagged.port, flagged.slots, flagged.threads) == (0, 2, 3)
    assert flagged.scheduler_address == "other:1"


def test_the_pipeline_scan_may_be_left_to_sighup(tmp_path: Path):
    environ = {"FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "t"}

    scanning = load_settings({**environ, "FORGE_TRAINER_PIPELINE_SCAN_SECONDS": "0"})

    assert scanning.pipeline_scan_s == 0


def test_without_a_scheduler_address_it_registers_with_the_one_on_this_machine(tmp_path: Path):
    environ = {"FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "t"}

    moved = load_settings({**environ, "FORGE_SCHEDULER_PORT": "6001"})

    assert moved.scheduler_address == "127.0.0.1:6001"


def test_without_a_token_it_says_where_to_get_one(tmp_path: Path):
    with pytest.raises(SettingsError, match="Set FORGE_CLUSTER_TOKEN to the scheduler's token"):
        load_settings({"FORGE_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("environ", "flags", "message"),
    [
        ({"FORGE_TRAINER_PORT": "x"}, {}, "FORGE_TRAINER_PORT='x' is not a whole number"),
        ({"FORGE_TRAINER_SLOTS": "0"}, {}, "FORGE_TRAINER_SLOTS=0 is out of range: use 1"),
        ({}, {"threads": 0}, "--threads 0 is out of range"),
        ({}, {"port": 70000}, "--port 70000 is out of range: use 0 to 65535"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, environ, flags, message):
    environ = {"FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "t", **environ}

    with pytest.raises(SettingsError, match=message):
        load_settings(environ, **flags)


@pytest.mark.parametrize(
    ("advertise", "scheduler", "expected"),
    [
        (None, None, "127.0.0.1:7000"),
        (None, "localhost:50051", "127.0.0.1:7000"),
        (None, "[::1]:50051", "127.0.0.1:7000"),
        (None, "10.0.0.5:50051", "HOST:7000"),
        ("gpu-box", "10.0.0.5:50051", "gpu-box:7000"),
        ("gpu-box:9000", None, "gpu-box:9000"),
        ("[fd00::2]", None, "[fd00::2]:7000"),
    ],
)
def test_the_advertised_address_is_one_the_scheduler_can_dial(
    monkeypatch, advertise, scheduler, expected
):
    monkeypatch.setattr("socket.gethostname", lambda: "HOST")
    settings = TrainerSettings("t", advertise=advertise, scheduler_address=scheduler)

    assert settings.advertised_address(7000) == expected
    assert settings.resolved_id(7000) == "HOST-7000"


def test_tls_settings_are_read_and_a_bad_one_is_named(tmp_path: Path, certificates: Certificates):
    environ = {"FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "token"}

    settings = load_settings(
        {**environ, **certificates.server_env(), "FORGE_TLS_CLIENT_CA": str(certificates.ca)}
    )
    with pytest.raises(SettingsError, match="FORGE_TLS_CERT and FORGE_TLS_KEY go together"):
        load_settings({**environ, "FORGE_TLS_KEY": str(certificates.server_key)})

    assert settings.tls.serves_tls and settings.tls.connects_with_tls
    assert settings.tls.describe_server().startswith("with mutual TLS")
    assert not load_settings(environ).tls.serves_tls
