"""A trained forecaster's predictions from its run folder alone: past the data, or a window.

The model here is ``LastValue``, persistence through the network path, so every forecast it
makes is known exactly: the last value of its window, back through the saved transform.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forge_learner.prediction import PredictionInputError, PredictionRequest, PredictionUnavailable
from tests.forge_learner.families.test_time_series import LastValue, daily_cycle, pipeline_for

SERIES = daily_cycle(days=10)
CONFIG = {"epochs": 1, "lookback": 6, "horizon": 3, "scaling": "minmax", "log_target": True}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("forecaster")
    pipeline_for(SERIES, LastValue).run(CONFIG, run_dir=directory)
    return directory


def predict(run_dir: Path, inputs: object = None) -> dict:
    return pipeline_for(SERIES, LastValue).predict(run_dir, PredictionRequest(inputs=inputs))


def test_past_the_data_each_step_is_forecast_from_the_latest_window_that_reaches_it(run_dir: Path):
    answer = predict(run_dir)

    values = SERIES.values
    assert answer["from"] == "end of data"
    assert answer["forecast"]["timestamps"] == [
        "2021-03-11T00:00:00",
        "2021-03-11T01:00:00",
        "2021-03-11T02:00:00",
    ]
    # The origins are 2, 1 and 0 steps before the end: the last value model repeats them.
    assert answer["forecast"]["values"] == pytest.approx(values[-3:], rel=1e-5)
    assert answer["baselines"]["persistence"] == pytest.approx(values[-3:])
    assert answer["baselines"]["seasonal naive"] == pytest.approx(values[-24:-21])
    assert answer["history"]["values"] == pytest.approx(values[-48:])
    assert answer["history"]["timestamps"][-1] == "2021-03-10T23:00:00"
    assert json.loads(json.dumps(answer)) == answer


def test_a_window_is_forecast_horizon_steps_after_its_last_row(run_dir: Path):
    rows = [{"timestamp": f"2022-01-01T{h:02d}:00Z", "level": 10.0 + h} for h in range(6)]

    answer = predict(run_dir, rows)

    assert answer["from"] == "inputs"
    assert answer["forecast"]["timestamps"] == ["2022-01-01T08:00:00"]
    assert answer["forecast"]["values"] == pytest.approx([15.0], rel=1e-5)
    assert answer["baselines"] == {"persistence": [15.0]}
    assert predict(run_dir, [10.0 + h for h in range(6)])["forecast"]["timestamps"] == [None]


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"level": 1}, "inputs", "list of 6 rows"),
        ([1.0] * 5, "inputs", "got 5"),
        ([1.0, 2.0, float("inf"), 4.0, 5.0, 6.0], "inputs[2]", "finite number"),
        ([1.0, 2.0, "3", 4.0, 5.0, 6.0], "inputs[2]", "finite number"),
        ([1.0, 2.0, True, 4.0, 5.0, 6.0], "inputs[2]", "finite number"),
        ([{"level": 1.0}] * 5 + [{"lvl": 1.0}], "inputs[5]", "'lvl'"),
        ([{"timestamp": "2022-01-01"}] * 6, "inputs[0]", "no 'level' column"),
        (
            [{"level": 1.0, "timestamp": "2022-01-01"}] + [{"level": 1.0}] * 5,
            "inputs[1].timestamp",
            "missing",
        ),
        ([{"level": 1.0, "timestamp": "yesterday"}] * 6, "inputs[0].timestamp", "ISO 8601"),
        ([{"level": 1.0, "timestamp": "2022-01-01"}] * 6, "inputs[1].timestamp", "oldest first"),
    ],
)
def test_a_wrong_window_names_the_field(run_dir: Path, inputs: object, field: str, words: str):
    with pytest.raises(PredictionInputError) as raised:
        predict(run_dir, inputs)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_a_folder_without_the_transform_cannot_predict(run_dir: Path, tmp_path: Path):
    for name in ("metrics.json", "model.npz"):
        (tmp_path / name).write_bytes((run_dir / name).read_bytes())

    with pytest.raises(PredictionUnavailable, match=r"transform\.json"):
        predict(tmp_path)
