"""`forge pipelines`: each pipeline with its settings, as text and as JSON Schema."""

from __future__ import annotations

import json

import pytest

from forge_cli.main import main
from forge_learner.config import JSON_SCHEMA_DIALECT
from tests.forge_learner.toy_pipelines import LINE, install_entry_points


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(
        monkeypatch, line=LINE, ghost="tests.forge_learner.no_such_module:Pipeline"
    )


def test_lists_each_pipeline_with_its_summary_and_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["pipelines"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "line  Fits a straight line to noisy synthetic points."
    assert out[1].split() == ["setting", "type", "default", "allowed", "help"]
    rows = {line.split()[0]: line for line in out[2:]}
    assert list(rows) == [
        "epochs",
        "batch_size",
        "learning_rate",
        "seed",
        "checkpoint_every",
        "noise",
        "splits",
    ]
    assert rows["epochs"].split()[:6] == ["epochs", "int", "3", ">=", "1,", "<="]
    assert rows["epochs"].endswith("Passes over the training data.")
    assert rows["noise"].split()[:3] == ["noise", "float", "0.1"]
    assert "all | no_test | train_only" in rows["splits"]
    assert rows["splits"].endswith("Which datasets load_data returns.")
    columns = {line.index("float") for line in out[2:] if " float " in line}
    assert len(columns) == 1, "the type column is aligned"


def test_broken_plugins_are_reported_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipelines"]) == 0

    err = capsys.readouterr().err
    assert "Broken plugins" in err
    assert "  ghost: ModuleNotFoundError" in err


def test_json_prints_each_config_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipelines", "--json"]) == 0

    listing = json.loads(capsys.readouterr().out)
    line = listing["pipelines"]["line"]
    assert line["summary"] == "Fits a straight line to noisy synthetic points."
    schema = line["config_schema"]
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["title"] == "LineConfig"
    assert schema["properties"]["splits"]["enum"] == ["all", "no_test", "train_only"]
    assert schema["properties"]["epochs"]["default"] == 3
    assert list(listing["broken"]) == ["ghost"]


def test_a_name_shows_that_pipeline_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install_entry_points(monkeypatch, line=LINE, twice="tests.forge_learner.test_registry:Twice")

    assert main(["pipelines", "line", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert main(["pipelines", "twice"]) == 0
    out = capsys.readouterr().out

    assert (list(listing["pipelines"]), listing["broken"]) == (["line"], {})
    assert out.startswith("twice  ") and "\nline " not in out


@pytest.mark.parametrize("name", ["lin", "ghost"])
def test_an_unknown_or_broken_name_exits_2_listing_the_pipelines(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pipelines", name]) == 2

    err = capsys.readouterr().err
    assert f"'{name}'" in err
    assert "line" in err


def test_no_pipelines_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    install_entry_points(monkeypatch)

    assert main(["pipelines"]) == 0

    assert capsys.readouterr().out.startswith("No pipelines are installed")
