"""BasePipeline.run: every artefact written and consistent, cancels honest, seeds repeatable."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import forge_core
from forge_core import nn
from forge_learner import Callback, CancelFit, EarlyStopping, History
from forge_learner.artifacts import history_records, new_run_dir, runs_root
from forge_learner.config import ConfigError, PipelineConfig
from forge_learner.events import Logs
from forge_learner.learner import Learner
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunResult
from tests.forge_learner.toy_pipelines import LineConfig, LinePipeline
from tests.forge_learner.toys import Recorder


def run(tmp_path: Path, name: str = "run", **config: object) -> RunResult:
    return LinePipeline().run(config, run_dir=tmp_path / name)


class StopAt(Callback):
    """Stops the fit at the end of epoch ``epoch``, as a user's cancel does."""

    def __init__(self, epoch: int, raise_cancel: bool = False) -> None:
        self.epoch = epoch
        self.raise_cancel = raise_cancel

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        if epoch == self.epoch:
            if self.raise_cancel:
                raise CancelFit("user pressed stop")
            self.learner.stop("user pressed stop")


def test_run_writes_every_artefact_and_says_where(tmp_path: Path) -> None:
    result = run(tmp_path)

    run_dir = tmp_path / "run"
    assert result.run_dir == run_dir
    assert result.report_path == run_dir / "report.md"
    assert result.metrics_path == run_dir / "metrics.json"
    assert result.weights_path == run_dir / "model.npz"
    assert result.plot_paths == [run_dir / "loss.png", run_dir / "fit.png"]
    for path in [
        result.report_path,
        result.metrics_path,
        result.weights_path,
        *result.plot_paths,
        run_dir / "checkpoints" / "best.npz",
        run_dir / "checkpoints" / "last.npz",
    ]:
        assert path.is_file() and path.stat().st_size > 0, path
    assert (result.status, result.stop_reason, result.epochs_run) == ("completed", None, 3)
    assert result.pipeline == "line"
    assert result.config == {
        "epochs": 3,
        "batch_size": 32,
        "learning_rate": 0.001,
        "seed": 0,
        "checkpoint_every": 1,
        "noise": 0.1,
        "splits": "all",
    }
    assert result.duration_s > 0


def test_the_report_has_each_section(tmp_path: Path) -> None:
    result = run(tmp_path, epochs="2")

    report = result.report_path.read_text(encoding="utf-8")
    titles = [line[3:] for line in report.splitlines() if line.startswith("## ")]
    assert titles == ["Configuration", "Data", "Metrics", "Training", "Fit", "Files"]
    assert report.startswith("# Run report: line\n\n> Fits a straight line")
    assert f"| engine | forge_core {forge_core.__version__} |" in report
    assert "| epochs | 2 |" in report
    assert "| training samples | 32 |" in report
    assert "| source | synthetic |" in report
    assert "| metric | model | mean |" in report
    assert "![Loss per epoch](loss.png)" in report
    assert "![Fit: fit](fit.png)" in report
    for name in ["model.npz", "metrics.json", "report.md", "checkpoints/best.npz"]:
        assert f"- [{name}]({name})" in report


def test_metrics_json_holds_the_same_numbers(tmp_path: Path) -> None:
    result = run(tmp_path)

    saved = json.loads(result.metrics_path.read_text())
    evaluation = result.evaluation
    assert set(evaluation.metrics) == {"loss", "rmse"}
    assert saved["metrics"] == evaluation.metrics
    assert (
        saved["baselines"]
        == evaluation.baselines
        == {"mean": {"rmse": pytest.approx(1.15, abs=0.1)}}
    )
    assert saved["split"] == "test"
    assert saved["details"] == {}
    assert saved["final_epoch"] == result.history[-1]
    assert set(saved["final_epoch"]) == {"epoch", "loss", "rmse", "val_loss", "val_rmse"}
    assert (saved["epochs_run"], saved["epochs"], saved["status"]) == (3, 3, "completed")
    assert saved["duration_s"] == pytest.approx(result.duration_s)
    assert saved["config"] == result.config
    assert saved["pipeline"] == "line"
    assert datetime.fromisoformat(saved["started_at"]).tzinfo is not None
    rmse_row = (
        f"| rmse | {evaluation.metrics['rmse']:.5g} | {evaluation.baselines['mean']['rmse']:.5g} |"
    )
    assert rmse_row in result.report_path.read_text(encoding="utf-8")


def test_the_weights_are_the_trained_models(tmp_path: Path) -> None:
    result = run(tmp_path, epochs=20, batch_size=4, learning_rate=0.05)

    state = forge_core.load(result.weights_path)
    nn.Linear(1, 1).load_state_dict(state)
    weight, bias = state["weight"].numpy().item(), state["bias"].numpy().item()
    assert weight == pytest.approx(2.0, abs=0.3) and bias == pytest.approx(1.0, abs=0.3)
    assert result.evaluation.metrics["rmse"] < result.evaluation.baselines["mean"]["rmse"] / 2


@pytest.mark.parametrize("raise_cancel", [False, True])
def test_a_cancelled_fit_still_reports_marked_cancelled(tmp_path: Path, raise_cancel: bool) -> None:
    result = LinePipeline().run(
        {"epochs": 5}, callbacks=[StopAt(1, raise_cancel)], run_dir=tmp_path
    )

    assert (result.status, result.stop_reason) == ("cancelled", "user pressed stop")
    assert result.epochs_run == (2 if not raise_cancel else 1)
    assert json.loads(result.metrics_path.read_text())["status"] == "cancelled"
    report = result.report_path.read_text(encoding="utf-8")
    assert "| status | **cancelled**: user pressed stop |" in report
    assert f"| epochs run | {result.epochs_run} of 5 |" in report
    assert result.weights_path.is_file()
    assert set(result.evaluation.metrics) == {"loss", "rmse"}


def test_early_stopping_completes_the_run(tmp_path: Path) -> None:
    class StopEarly(LinePipeline):
        def create_callbacks(
            self, config: LineConfig, data: PipelineData, run_dir: Path
        ) -> list[Callback]:
            stop = EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
            return [*super().create_callbacks(config, data, run_dir), stop]

    result = StopEarly().run({"epochs": 5}, run_dir=tmp_path)

    assert result.status == "completed"
    assert result.stop_reason is not None and result.stop_reason.startswith("early stopping")
    assert result.epochs_run == 2


def test_one_seed_gives_one_run_and_another_seed_another(tmp_path: Path) -> None:
    first, second = run(tmp_path, "a", seed=7), run(tmp_path, "b", seed=7)
    other = run(tmp_path, "c", seed=8)

    assert first.history == second.history
    assert first.evaluation == second.evaluation
    weights = [dict(forge_core.load(r.weights_path)) for r in (first, second, other)]
    for name, tensor in weights[0].items():
        np.testing.assert_array_equal(tensor.numpy(), weights[1][name].numpy())
    assert first.history != other.history


def test_callbacks_passed_to_run_see_every_epoch(tmp_path: Path) -> None:
    recorder = Recorder()

    LinePipeline().run({"epochs": 2}, callbacks=[recorder], run_dir=tmp_path)

    names = recorder.names()
    assert names[0] == "on_train_begin" and names[-1] == "on_train_end"
    assert names.count("on_epoch_end") == 2


def test_run_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(tmp_path, epochs=1)

    assert capsys.readouterr() == ("", "")


def test_a_bad_config_fails_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error_info:
        LinePipeline().run({"epochs": 0, "splits": "some"}, run_dir=tmp_path / "run")

    assert [e.field for e in error_info.value.errors] == ["epochs", "splits"]
    assert not (tmp_path / "run").exists()


def test_a_config_object_is_checked_against_the_pipelines_schema() -> None:
    class OtherConfig(PipelineConfig):
        width: int = 3

    config = LineConfig(epochs=1, noise=0.0)

    assert LinePipeline.parse_config(config) == config
    with pytest.raises(ConfigError) as error_info:
        LinePipeline.parse_config(OtherConfig())
    assert [e.field for e in error_info.value.errors] == ["width"]


def test_without_a_test_set_the_validation_set_is_scored(tmp_path: Path) -> None:
    result = run(tmp_path, splits="no_test")

    assert result.evaluation.split == "validation"
    assert "On the validation set" in result.report_path.read_text(encoding="utf-8")


def test_without_validation_only_the_last_checkpoint_is_kept_and_nothing_is_scored(
    tmp_path: Path,
) -> None:
    class NoBaselines(LinePipeline):
        def evaluate(self, config: LineConfig, learner: Learner, data: PipelineData) -> Evaluation:
            return BasePipeline.evaluate(self, config, learner, data)

    result = NoBaselines().run({"splits": "train_only"}, run_dir=tmp_path)

    assert (tmp_path / "checkpoints" / "last.npz").is_file()
    assert not (tmp_path / "checkpoints" / "best.npz").exists()
    assert (result.evaluation.metrics, result.evaluation.split) == ({}, "none")
    assert set(result.history[-1]) == {"epoch", "loss", "rmse"}


def test_the_default_run_dir_is_under_forge_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path / "data"))

    result = LinePipeline().run({"epochs": 1})

    assert result.run_dir.parent == tmp_path / "data" / "runs" == runs_root()
    assert result.run_dir.name.startswith("line-")
    assert result.report_path.is_file()


def test_new_run_dirs_started_in_one_second_do_not_collide(tmp_path: Path) -> None:
    now = datetime(2026, 3, 4, 5, 6, 7)

    paths = [new_run_dir("line", tmp_path, now) for _ in range(3)]

    assert [p.name for p in paths] == [
        "line-20260304-050607",
        "line-20260304-050607-2",
        "line-20260304-050607-3",
    ]
    assert all(p.is_dir() for p in paths)


def test_history_records_leave_out_what_an_epoch_did_not_log() -> None:
    history = History()
    history.on_epoch_end(0, {"loss": 1.0})
    history.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})

    assert history_records(history) == [
        {"epoch": 0, "loss": 1.0},
        {"epoch": 1, "loss": 0.5, "val_loss": 0.7},
    ]
