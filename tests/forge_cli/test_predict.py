"""`forge predict` against the real stack: a forecaster and an image classifier trained on it.

The stack runs in a thread (`tests/stack_thread.py`) and the command through
`forge_cli.main.main`, as the console script would run it, logged in as the admin.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from azuraforge.v1 import experiment_pb2
from forge_cli.client import EXIT_NOT_FOUND, EXIT_USAGE
from forge_cli.main import main
from tests.stack import ADMIN_PASSWORD
from tests.stack_thread import LiveStack, stack_in_thread

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("probe_pipeline")]

WEATHER = {
    "source": "sample",
    "calendar_features": False,
    "epochs": 1,
    "hidden_size": 4,
    "end": "2010-01-31",
    "horizon": 2,
    "lookback": 6,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> Iterator[LiveStack]:
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url) as live:
        yield live


@pytest.fixture
def logged_in(
    stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_SCHEDULER_ADDR", stack.address)
    for variable in ("FORGE_TOKEN", "FORGE_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    assert main(["login", "--username", "admin", "--password-stdin"]) == 0
    capsys.readouterr()


def trained(stack: LiveStack, pipeline: str, config: dict[str, Any]) -> str:
    token = stack.stack.admin_token
    experiment = stack.run(stack.stack.submit(token, config, pipeline=pipeline))
    experiment_id = str(experiment.experiment_id)
    finished = stack.run(stack.stack.finished(token, experiment_id, timeout=180))
    assert finished.status == experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED, finished
    return experiment_id


@pytest.fixture(scope="module")
def forecaster(stack: LiveStack) -> str:
    return trained(stack, "weather_forecaster", WEATHER)


def forge(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.usefixtures("logged_in")
def test_without_inputs_it_prints_the_forecast_past_the_data_beside_the_baselines(
    forecaster: str, capsys: Any
) -> None:
    status, out, err = forge(capsys, "predict", forecaster)

    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "temperature in °C, the 2 step(s) after the end of its data:"
    assert lines[1].split() == ["TIME", "FORECAST", "PERSISTENCE", "SEASONAL", "NAIVE"]
    assert lines[2].startswith("2010-02-01T00:00:00")
    assert lines[3].startswith("2010-02-01T01:00:00")


@pytest.mark.usefixtures("logged_in")
def test_a_csv_window_is_read_by_its_header_and_json_comes_out_with_json(
    forecaster: str, tmp_path: Path, capsys: Any
) -> None:
    window = tmp_path / "window.csv"
    hours = [f"2011-01-01T{h:02d}:00,{4 + h / 2}" for h in range(6)]
    window.write_text("timestamp,temperature\n" + "\n".join(hours) + "\n")

    status, out, err = forge(capsys, "predict", forecaster, "--input", str(window), "--json")

    assert status == 0, err
    prediction = json.loads(out)
    assert prediction["from"] == "inputs"
    assert prediction["forecast"]["timestamps"] == ["2011-01-01T07:00:00"]
    assert prediction["baselines"]["persistence"] == [6.5]


@pytest.mark.usefixtures("logged_in")
def test_a_wrong_window_names_the_row_and_exits_2(
    forecaster: str, tmp_path: Path, capsys: Any
) -> None:
    window = tmp_path / "window.csv"
    cells = ["1", "2", "", "4", "5", "6"]
    window.write_text(
        "timestamp,temperature\n"
        + "".join(f"2011-01-01T0{h}:00,{cell}\n" for h, cell in enumerate(cells))
    )
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"inputs": [1, 2, 3]}))

    status, _, hole = forge(capsys, "predict", forecaster, "--input", str(window))
    short_status, _, too_short = forge(capsys, "predict", forecaster, "--input", str(short))

    assert status == EXIT_USAGE
    assert "inputs[2].temperature: must be a finite number, got None" in hole
    assert short_status == EXIT_USAGE
    assert "got 3" in too_short


@pytest.mark.usefixtures("logged_in")
def test_an_image_classifier_names_each_file_with_its_likeliest_classes(
    stack: LiveStack, tmp_path: Path, capsys: Any
) -> None:
    from PIL import Image

    experiment_id = trained(stack, "image_classifier", {"epochs": 1, "channels": [4]})
    paper = np.full((24, 24), 255, dtype=np.uint8)
    paper[3:21, 10:14] = 0
    Image.fromarray(paper, mode="L").save(tmp_path / "one.png")
    Image.fromarray(paper, mode="L").convert("RGB").save(tmp_path / "also.jpg")

    status, out, err = forge(
        capsys,
        "predict",
        experiment_id,
        "--input",
        str(tmp_path / "one.png"),
        "--input",
        str(tmp_path / "also.jpg"),
    )

    assert status == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["one.png", "also.jpg"]
    assert all(line.count("%") == 3 for line in lines)


@pytest.mark.usefixtures("logged_in")
def test_inputs_it_cannot_send_and_unknown_experiments_are_refused(
    forecaster: str, tmp_path: Path, capsys: Any
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "w.csv").write_text("temperature\n1\n")

    assert forge(capsys, "predict", "no-such-id")[0] == EXIT_NOT_FOUND
    status, _, err = forge(capsys, "predict", forecaster, "--input", str(tmp_path / "notes.txt"))
    assert status == EXIT_USAGE and "give a .csv or .json file" in err
    status, _, err = forge(
        capsys,
        "predict",
        forecaster,
        "--input",
        str(tmp_path / "w.csv"),
        "--input",
        str(tmp_path / "a.png"),
    )
    assert status == EXIT_USAGE and "not a mix" in err
    status, _, err = forge(capsys, "predict", forecaster, "--input", str(tmp_path / "gone.csv"))
    assert status == EXIT_USAGE and "gone.csv" in err


def test_a_forecast_that_is_not_a_number_prints_as_a_dash() -> None:
    from forge_cli.predict import forecast_text

    text = forecast_text(
        {
            "from": "inputs",
            "horizon": 1.0,
            "series": {"name": "temperature", "unit": "°C"},
            "forecast": {"timestamps": [None], "values": [None]},
            "baselines": {"persistence": [4.5]},
        }
    )

    assert text.splitlines()[-1].split() == ["+1", "steps", "-", "4.5"]
