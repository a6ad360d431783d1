"""report.md: its sections in order, the metrics beside the baselines, links that move with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forge_learner.report import (
    ReportSection,
    RunReport,
    format_number,
    markdown_table,
    render_report,
    write_report,
)


def make_report(run_dir: Path, **changes: Any) -> RunReport:
    fields: dict[str, Any] = {
        "pipeline": "weather_forecaster",
        "summary": "Forecasts tomorrow's temperature.",
        "status": "completed",
        "stop_reason": None,
        "started_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "duration_s": 12.345,
        "engine_version": "9.8.7",
        "config": {"epochs": 3, "learning_rate": 0.001, "sizes": [32, 16]},
        "data_summary": {"training samples": 80, "source": "open-meteo"},
        "split": "test",
        "metrics": {"loss": 0.25, "rmse": 0.5, "mae": 0.4},
        "baselines": {"persistence": {"rmse": 0.75, "mae": 0.6}, "mean": {"rmse": 1.5}},
        "epochs_run": 3,
        "epochs": 3,
        "final_logs": {"epoch": 2, "loss": 0.3, "val_loss": 0.35},
        "loss_plot": run_dir / "loss.png",
        "sections": [
            ReportSection(
                "Forecast", "The last 30 days.", [run_dir / "prediction.png", run_dir / "r.png"]
            )
        ],
        "files": [run_dir / "loss.png", run_dir / "checkpoints" / "last.npz"],
    }
    return RunReport(**(fields | changes))


def section_titles(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def test_sections_come_in_the_readers_order(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    assert markdown.startswith("# Run report: weather_forecaster\n\n> Forecasts tomorrow's")
    assert section_titles(markdown) == [
        "Configuration",
        "Data",
        "Metrics",
        "Training",
        "Forecast",
        "Files",
    ]


def test_overview_states_status_start_duration_epochs_and_engine(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    for row in [
        "| status | completed |",
        "| started | 2026-01-02T03:04:05+00:00 |",
        "| duration | 12.3 s |",
        "| epochs run | 3 of 3 |",
        "| engine | forge_core 9.8.7 |",
    ]:
        assert row in markdown


def test_config_and_data_are_tables(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    assert "| learning_rate | 0.001 |" in markdown
    assert "| sizes | [32, 16] |" in markdown
    assert "| training samples | 80 |" in markdown
    assert "| source | open-meteo |" in markdown


def test_metrics_table_puts_each_baseline_beside_the_model(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    table = markdown.split("## Metrics")[1].split("## Training")[0]
    assert "On the test set, beside the baselines" in table
    assert [line for line in table.splitlines() if line.startswith("|")] == [
        "| metric | model | persistence | mean |",
        "| --- | --- | --- | --- |",
        "| loss | 0.25 | — | — |",
        "| rmse | 0.5 | 0.75 | 1.5 |",
        "| mae | 0.4 | 0.6 | — |",
    ]


def test_reference_models_stand_after_the_baselines_marked_as_such(tmp_path: Path) -> None:
    report = make_report(
        tmp_path,
        metrics={"rmse": 0.5},
        baselines={"naive": {"rmse": 0.75}},
        references={"linear": {"rmse": 0.45, "mae": 0.3}},
    )

    markdown = render_report(report, tmp_path)

    assert "and beside the reference models, fitted on the training data only" in markdown
    assert "| metric | model | naive | linear (reference) |" in markdown
    assert "| rmse | 0.5 | 0.75 | 0.45 |" in markdown
    assert "| mae | — | — | 0.3 |" in markdown


def test_a_metric_only_a_baseline_has_gets_a_row(tmp_path: Path) -> None:
    report = make_report(tmp_path, metrics={"rmse": 0.5}, baselines={"naive": {"mape": 3.0}})

    markdown = render_report(report, tmp_path)

    assert "| rmse | 0.5 | — |" in markdown
    assert "| mape | — | 3 |" in markdown


def test_images_and_files_are_linked_relative_to_the_run_folder(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    assert "![Loss per epoch](loss.png)" in markdown
    assert "![Forecast: prediction](prediction.png)" in markdown
    assert "- [checkpoints/last.npz](checkpoints/last.npz)" in markdown
    assert str(tmp_path) not in markdown


def test_training_states_the_last_epochs_logs(tmp_path: Path) -> None:
    markdown = render_report(make_report(tmp_path), tmp_path)

    assert "Last epoch: loss 0.3, val_loss 0.35." in markdown


def test_a_cancelled_run_says_so_and_qualifies_its_metrics(tmp_path: Path) -> None:
    report = make_report(
        tmp_path, status="cancelled", stop_reason="stopped by request", epochs_run=1
    )

    markdown = render_report(report, tmp_path)

    assert "| status | **cancelled**: stopped by request |" in markdown
    assert "| epochs run | 1 of 3 |" in markdown
    assert "The run was cancelled after 1 of 3 epochs" in markdown


def test_a_run_without_evaluation_data_says_so(tmp_path: Path) -> None:
    report = make_report(tmp_path, metrics={}, baselines={}, split="none", final_logs={})

    markdown = render_report(report, tmp_path)

    assert "no evaluation data" in markdown
    assert "No epoch finished." in markdown


def test_write_report_writes_report_md(tmp_path: Path) -> None:
    path = write_report(make_report(tmp_path), tmp_path)

    assert path == tmp_path / "report.md"
    assert path.read_text(encoding="utf-8") == render_report(make_report(tmp_path), tmp_path)


def test_markdown_table_escapes_pipes_and_line_breaks() -> None:
    assert markdown_table(["a", "b"], [["x|y", "two\nlines"]]) == (
        "| a | b |\n| --- | --- |\n| x\\|y | two lines |"
    )


def test_numbers_keep_five_significant_digits() -> None:
    assert format_number(0.123456789) == "0.12346"
    assert format_number(12345678.0) == "1.2346e+07"
    assert format_number(7) == "7"
    assert format_number(True) == "True"
    assert format_number(float("nan")) == "nan"
