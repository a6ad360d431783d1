"""`forge run`: settings checked before anything runs, a report at the end, Ctrl-C honoured."""

from __future__ import annotations

import dataclasses
import json
import signal
from pathlib import Path

import pytest

from forge_cli.main import main
from forge_cli.run import summary
from forge_learner import Callback
from forge_learner.events import Logs
from forge_learner.pipeline import Evaluation, PipelineData
from forge_learner.sources import DataRequestError
from tests.forge_learner.toy_pipelines import LINE, LineConfig, LinePipeline, install_entry_points


class CtrlC(Callback):
    """Presses Ctrl-C ``times`` times at the end of the first epoch."""

    def __init__(self, times: int) -> None:
        self.times = times

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if epoch == 0:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


class InterruptedLine(LinePipeline):
    name = "interrupted_line"

    def create_callbacks(
        self, config: LineConfig, data: PipelineData, run_dir: Path
    ) -> list[Callback]:
        return [*super().create_callbacks(config, data, run_dir), CtrlC(config.seed + 1)]


class MissingRangeLine(LinePipeline):
    """Asks its source for a range the source does not have, as a user's setting can."""

    name = "missing_range_line"

    def load_data(self, config: LineConfig) -> PipelineData:
        raise DataRequestError("the sample has no prices from 2011-01-01; it ends 2010-03-01")


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    install_entry_points(
        monkeypatch,
        line=LINE,
        interrupted_line="tests.forge_cli.test_run:InterruptedLine",
        missing_range_line="tests.forge_cli.test_run:MissingRangeLine",
    )
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path / "data"))


def test_the_summary_puts_reference_models_beside_the_baselines(tmp_path: Path) -> None:
    result = LinePipeline().run({"epochs": 1}, run_dir=tmp_path)
    scored = Evaluation(
        metrics={"rmse": 1.0},
        baselines={"mean": {"rmse": 2.0}},
        references={"least squares": {"rmse": 0.5, "mae": 0.4}},
    )
    lines = summary(dataclasses.replace(result, evaluation=scored)).splitlines()
    assert lines[3].split() == [
        "test",
        "metric",
        "model",
        "mean",
        "least",
        "squares",
        "(reference)",
    ]
    assert lines[4].split() == ["rmse", "1", "2", "0.5"]
    assert lines[5].split() == ["mae", "-", "-", "0.4"]


def test_runs_with_settings_into_out_and_says_where_the_report_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"

    code = main(["run", "line", "--set", "epochs=2", "--set", "noise=0.2", "--out", str(out_dir)])

    assert code == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("Run completed in ") and lines[0].endswith(f" s: {out_dir}")
    assert lines[1] == f"Report: {out_dir / 'report.md'}"
    assert lines[3].split() == ["test", "metric", "model", "mean"]
    assert [line.split()[0] for line in lines[4:]] == ["loss", "rmse"]
    assert lines[5].split()[2] != "-", "the baseline's rmse stands beside the model's"
    assert "Epoch 1/2" in err and "Epoch 2/2" in err
    saved = json.loads((out_dir / "metrics.json").read_text())
    assert (saved["config"]["epochs"], saved["config"]["noise"]) == (2, 0.2)
    assert (out_dir / "report.md").is_file() and (out_dir / "model.npz").is_file()


def test_the_default_run_folder_is_under_forge_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "line", "--set", "epochs=1"]) == 0

    (run_dir,) = (tmp_path / "data" / "runs").iterdir()
    assert run_dir.name.startswith("line-")
    assert f"Report: {run_dir / 'report.md'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("settings", "messages"),
    [
        (["epochs=0"], ["epochs: must be at least 1, got 0"]),
        (["epochs=many"], ["epochs: must be a whole number, got 'many'"]),
        (["splits=none"], ["splits: must be 'all', 'no_test' or 'train_only', got 'none'"]),
        (["noise=2", "seed=-1"], ["seed: must be at least 0, got -1", "noise: must be at most 1"]),
        (["epoch=3"], ["epoch: unknown setting; did you mean 'epochs'? valid settings are"]),
        (["epochs"], ["'epochs': write KEY=VALUE, e.g. epochs=5"]),
    ],
)
def test_bad_settings_exit_2_naming_the_field_and_write_nothing(
    settings: list[str], messages: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [arg for setting in settings for arg in ("--set", setting)]

    assert main(["run", "line", *args]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("forge run: invalid settings for line:\n")
    for message in messages:
        assert f"\n  {message}" in err
    assert "`forge pipelines line` lists its settings." in err
    assert not (tmp_path / "data").exists()


def test_an_unknown_pipeline_exits_2_listing_the_available_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "lines"]) == 2

    err = capsys.readouterr().err
    assert err == (
        "forge run: unknown pipeline 'lines'; available pipelines: "
        "interrupted_line, line, missing_range_line\n"
    )


def test_data_the_settings_ask_for_but_no_source_has_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "missing_range_line", "--out", str(tmp_path / "run")]) == 2

    assert capsys.readouterr().err == (
        "forge run: the sample has no prices from 2011-01-01; it ends 2010-03-01\n"
    )


def test_out_must_not_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken").write_text("")

    assert main(["run", "line", "--out", str(tmp_path / "taken")]) == 2

    assert "is a file" in capsys.readouterr().err


def test_ctrl_c_stops_training_and_still_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = signal.getsignal(signal.SIGINT)

    code = main(["run", "interrupted_line", "--set", "epochs=5", "--out", str(tmp_path / "r")])

    assert code == 130
    out, err = capsys.readouterr()
    assert out.startswith("Run cancelled in ")
    assert "Stopped: interrupted (Ctrl-C)" in err
    report = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "| status | **cancelled**: interrupted (Ctrl-C) |" in report
    assert "| epochs run | 1 of 5 |" in report
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_second_ctrl_c_aborts_at_once(tmp_path: Path) -> None:
    handler = signal.getsignal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        main(["run", "interrupted_line", "--set", "seed=1", "--out", str(tmp_path / "r")])

    assert not (tmp_path / "r" / "report.md").exists()
    signal.signal(signal.SIGINT, handler)
