"""A third-party plugin, really installed, is listed by `forge pipelines` and runs with `forge run`.

The plugin (``plugins/tiny_forge_plugin``) is a package of its own with its own pyproject.toml.
pip installs it into a temporary folder, offline (no dependencies, no build isolation: the
project's setuptools builds it), and the `forge` console script sees it through ``PYTHONPATH``
exactly as it would see a plugin installed into the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugins" / "tiny_forge_plugin"
FORGE = Path(sys.executable).parent / "forge"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder pip installed the plugin into."""
    # pip builds a local project in place; a copy keeps build/ and *.egg-info out of tests/.
    source = tmp_path_factory.mktemp("source") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
    result = subprocess.run(
        [*pip, "--no-index", "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def forge(*args: str, site: Path | None, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORGE_DATA_DIR": str(data_dir)}
    paths = [str(site)] if site is not None else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([str(FORGE), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_installed_plugin_is_listed_with_its_config(site: Path, tmp_path: Path) -> None:
    assert (site / "tiny_forge_plugin.py").is_file()
    assert "tiny_regression" not in forge("pipelines", site=None, data_dir=tmp_path).stdout

    listed = forge("pipelines", site=site, data_dir=tmp_path)
    as_json = forge("pipelines", "--json", site=site, data_dir=tmp_path)

    assert listed.returncode == 0, listed.stderr
    block = listed.stdout.split("tiny_regression  ", 1)[1].split("\n\n")[0]
    assert block.startswith("Fits y = x . w + b")
    assert "samples           int    64       >= 8, <= 10000" in block
    assert "Synthetic samples to draw." in block
    schema = json.loads(as_json.stdout)["pipelines"]["tiny_regression"]["config_schema"]
    assert schema["title"] == "TinyConfig"
    assert list(schema["properties"])[-2:] == ["samples", "noise"]


def test_the_installed_plugin_runs_and_writes_its_report(site: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"

    args = ["run", "tiny_regression", "--set", "epochs=2", "--out", str(out_dir)]
    result = forge(*args, site=site, data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"Report: {out_dir / 'report.md'}" in result.stdout
    assert "Epoch 2/2" in result.stderr
    for name in ["report.md", "metrics.json", "model.npz", "loss.png"]:
        assert (out_dir / name).is_file(), name
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert (metrics["pipeline"], metrics["status"], metrics["epochs_run"]) == (
        "tiny_regression",
        "completed",
        2,
    )
    assert "# Run report: tiny_regression" in (out_dir / "report.md").read_text()
