"""The gateway's settings: `FORGE_*` variables, flags over them, and refusals that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import gateway
from gateway.settings import GatewaySettings, SettingsError, load_settings
from tests.certificates import Certificates


def test_defaults_need_nothing_set():
    assert load_settings({}) == GatewaySettings()
    assert GatewaySettings().port == 8080
    assert GatewaySettings().scheduler_addr == "127.0.0.1:50051"
    assert GatewaySettings().cors_origins == frozenset()
    assert GatewaySettings().webapp_dir == Path(__file__).resolve().parents[2] / "webapp" / "dist"


def test_the_web_ui_is_found_beside_the_package_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    assert (
        load_settings({}).webapp_dir
        == Path(gateway.__file__).resolve().parents[1] / "webapp" / "dist"
    )
    assert load_settings({"FORGE_WEBAPP_DIR": "ui"}).webapp_dir == Path("ui")


def test_variables_are_read_and_flags_win():
    env = {
        "FORGE_GATEWAY_PORT": "9090",
        "FORGE_SCHEDULER_PORT": "50999",
        "FORGE_GATEWAY_MAX_BODY_BYTES": "4096",
        "FORGE_GATEWAY_CORS_ORIGINS": "https://a.example.com, http://localhost:5173/",
        "FORGE_WEBAPP_DIR": "/srv/forge/ui",
        "FORGE_GATEWAY_VIEWER_QUEUE": "50",
        "FORGE_GATEWAY_HOST": " ",
    }

    settings = load_settings(env)
    assert settings.port == 9090
    assert settings.scheduler_addr == "127.0.0.1:50999"
    assert settings.max_body_bytes == 4096
    assert settings.cors_origins == {"https://a.example.com", "http://localhost:5173"}
    assert settings.webapp_dir == Path("/srv/forge/ui")
    assert settings.viewer_queue_size == 50
    assert settings.host is None

    flagged = load_settings(
        {**env, "FORGE_SCHEDULER_ADDR": "sched:1"}, port=0, host="127.0.0.1", scheduler_addr="s:2"
    )
    assert (flagged.port, flagged.host, flagged.scheduler_addr) == (0, "127.0.0.1", "s:2")
    assert load_settings({"FORGE_SCHEDULER_ADDR": "sched:1"}).scheduler_addr == "sched:1"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FORGE_GATEWAY_PORT": "eighty"}, "FORGE_GATEWAY_PORT"),
        ({"FORGE_GATEWAY_PORT": "70000"}, "FORGE_GATEWAY_PORT"),
        ({"FORGE_GATEWAY_MAX_BODY_BYTES": "10"}, "FORGE_GATEWAY_MAX_BODY_BYTES"),
        ({"FORGE_GATEWAY_CORS_ORIGINS": "example.com"}, "https://"),
        ({"FORGE_GATEWAY_VIEWER_QUEUE": "0"}, "FORGE_GATEWAY_VIEWER_QUEUE"),
    ],
)
def test_unusable_values_are_refused_by_name(env: dict[str, str], named: str):
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_a_bad_port_flag_is_refused():
    with pytest.raises(SettingsError, match="--port"):
        load_settings({}, port=-1)


def test_the_cluster_token_comes_from_the_variable_or_the_schedulers_data_folder(tmp_path: Path):
    assert load_settings({}).cluster_token is None
    assert load_settings({"FORGE_DATA_DIR": str(tmp_path)}).cluster_token is None
    (tmp_path / "cluster-token").write_text("from-the-file\n")

    assert load_settings({"FORGE_DATA_DIR": str(tmp_path)}).cluster_token == "from-the-file"
    env = {"FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "from-the-variable"}
    assert load_settings(env).cluster_token == "from-the-variable"
    assert "from-the" not in repr(load_settings(env))


def test_trusted_proxies_are_addresses_or_networks():
    settings = load_settings({"FORGE_GATEWAY_TRUSTED_PROXIES": "10.0.0.7, 10.1.0.0/16,fd00::/8"})

    assert [str(network) for network in settings.trusted_proxies] == [
        "10.0.0.7/32",
        "10.1.0.0/16",
        "fd00::/8",
    ]
    with pytest.raises(SettingsError, match="FORGE_GATEWAY_TRUSTED_PROXIES: 'proxy"):
        load_settings({"FORGE_GATEWAY_TRUSTED_PROXIES": "proxy.local"})


def test_the_scheduler_is_reached_over_tls_with_a_ca(certificates: Certificates):
    settings = load_settings({"FORGE_TLS_CA": str(certificates.ca)})

    assert settings.tls.connects_with_tls
    with pytest.raises(SettingsError, match="FORGE_TLS_CA="):
        load_settings({"FORGE_TLS_CA": str(certificates.server_key)})
