"""``bench_ticker``: a pipeline that trains nothing and reports epochs at a set rate.

The platform benchmark (``bench/platform.py``) needs runs whose events come at a rate it
chooses, with no NumPy work competing for the two cores the services measured share. So this
pipeline skips the fit: it binds the trainer's callbacks to a one-weight ``Learner`` (they read
the learner for checkpoints) and fires ``on_train_begin``, then ``on_batch_end`` and
``on_epoch_end`` for each epoch on a fixed schedule, ``rate`` epochs a second. Everything after
the child's callbacks is the real path: the trainer's pipe, its Train stream, the scheduler's
store and NATS, the gateway's fan-out. At the end it writes a small report and weights file, so
the run has artifacts to send, as every real run does.

The schedule is absolute (epoch ``n`` is due ``n / rate`` seconds after the start), so a child
that falls behind catches up instead of drifting; ``emitted_at`` is when the event was fired,
as for any pipeline. The benchmark registers it
under ``forge.pipelines`` the way the tests register their probe pipeline (a ``.dist-info``
folder on ``PYTHONPATH``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

import forge_core
from forge_core import nn, optim
from forge_learner import Callback, Learner
from forge_learner.config import PipelineConfig
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunResult, Verdict

log = logging.getLogger(__name__)

ENTRY_POINT = "bench.ticker:Ticker"
NAME = "bench_ticker"
START_TIMEOUT_S = 600.0


class TickerConfig(PipelineConfig):
    """How many epochs to report, how fast, and how many batches each one has."""

    epochs: int = Field(default=100, ge=1, le=1_000_000, description="Epochs to report.")
    rate: float = Field(default=10.0, gt=0.0, le=100_000.0, description="Epochs a second.")
    batches: int = Field(default=1, ge=1, le=1000, description="Batches each epoch has.")
    # Far apart, so the benchmark measures events, not checkpoint files.
    checkpoint_every: int = Field(default=100_000, ge=1, le=100_000)
    start_file: str = Field(
        default="",
        description="A path: the fit begins once a file is there (the benchmark's viewers are in).",
    )


class Ticker(BasePipeline[TickerConfig]):
    name = NAME
    summary = "Trains nothing; reports epochs at a set rate (the platform benchmark)."
    Config = TickerConfig

    def load_data(self, config: TickerConfig) -> PipelineData:
        raise NotImplementedError("the ticker has no data: its `run` skips the fit")

    def create_model(self, config: TickerConfig, data: PipelineData) -> nn.Module:
        return nn.Linear(1, 1)

    def run(
        self,
        config: Any,
        callbacks: Any = (),
        run_dir: Path | None = None,
        resume_from: Any = None,
    ) -> RunResult:
        """Fire the fit's events on schedule; write a report and weights; return the run."""
        cfg = self.parse_config(config)
        assert run_dir is not None, "the ticker runs under a trainer, which gives it a folder"
        run_dir.mkdir(parents=True, exist_ok=True)
        model = nn.Linear(1, 1)
        learner = Learner(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
        forwarded: list[Callback] = list(callbacks)
        for callback in forwarded:
            learner.add_callback(callback)
        _wait_for(cfg.start_file)
        started_at, started = datetime.now(UTC), time.perf_counter()
        _fire(
            forwarded,
            "on_train_begin",
            {"epochs": cfg.epochs, "steps": cfg.batches, "initial_epoch": 0},
        )
        period = 1.0 / cfg.rate
        begin = time.monotonic()
        for epoch in range(cfg.epochs):
            due = begin + (epoch + 1) * period
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            learner.epoch = epoch
            for batch in range(cfg.batches):
                _fire(forwarded, "on_batch_end", batch, {"loss": 1.0 / (epoch + 1)})
            logs = {"loss": 1.0 / (epoch + 1), "val_loss": 1.1 / (epoch + 1)}
            _fire(forwarded, "on_epoch_end", epoch, logs)
        # As the bundled pipelines do: the verdict before the files, which the trainer sends
        # after the run's ExperimentFinished.
        verdict = Verdict(NAME, "completed", None, Evaluation({"loss": 0.0}))
        for callback in forwarded:
            callback.on_run_evaluated(verdict)
        report = run_dir / "report.md"
        report.write_text(f"# {NAME}\n\n{cfg.epochs} epochs at {cfg.rate:g} a second.\n")
        weights = run_dir / "model.npz"
        forge_core.save(model.state_dict(), weights)
        metrics = run_dir / "metrics.json"
        metrics.write_text('{"loss": 0.0}\n')
        history = [{"epoch": epoch + 1} for epoch in range(cfg.epochs)]
        return RunResult(
            pipeline=NAME,
            status="completed",
            stop_reason=None,
            config=cfg.model_dump(mode="json"),
            evaluation=Evaluation({"loss": 0.0}),
            history=history,
            run_dir=run_dir,
            report_path=report,
            metrics_path=metrics,
            weights_path=weights,
            plot_paths=[],
            started_at=started_at,
            duration_s=time.perf_counter() - started,
        )


def _wait_for(start_file: str) -> None:
    """Until `start_file` exists; the log line says so, and is the run's first event a viewer
    gets, which tells the benchmark the viewer has joined."""
    if not start_file:
        return
    log.info("waiting for %s", start_file)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not Path(start_file).exists() and time.monotonic() < deadline:
        time.sleep(0.005)


def _fire(callbacks: list[Callback], event: str, *args: Any) -> None:
    for callback in callbacks:
        callback(event, *args)
