"""``trainer_probe``: a pipeline the trainer tests steer through its config.

It fits a line to synthetic points in well under a second, and its ``behaviour`` makes it do
what a trainer must cope with: train at a pace a test can watch, raise, hang where no batch
boundary comes, or die of a signal (while training, or after its verdict while it writes its
files). ``conftest.py`` registers it through a real
``forge.pipelines`` entry point.

A test that must act at a known point of a run — kill a process while epoch 2 is the last one
seen, cancel mid-run — gives the probe a ``gate`` (a `Gate`'s folder): after each epoch has
ended and been reported, the run waits there until the test releases it, in whichever process
the run is in by then. With ``hold_files`` it waits there once more after its verdict, before
it writes its report, until epoch ``epochs + 1`` is released. Nothing depends on how fast the
machine is.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from forge_core import nn
from forge_learner import Callback, Logs
from forge_learner.config import BatchSize, Epochs, LearningRate, PipelineConfig
from forge_learner.data import TensorDataset
from forge_learner.learner import Learner
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunContext
from forge_learner.report import ReportSection

log = logging.getLogger(__name__)

ENTRY_POINT = "tests.trainer.probe:TrainerProbe"
FAILURE = "the probe's data source is down"


class ProbeConfig(PipelineConfig):
    """How the probe trains, and what goes wrong."""

    epochs: Epochs = 3
    batch_size: BatchSize = 8
    learning_rate: LearningRate = 0.05
    behaviour: Literal["train", "raise", "hang", "die", "die_writing", "raise_writing"] = Field(
        default="train",
        description="train; raise or hang in load_data; SIGKILL itself as epoch 2 begins; "
        "SIGKILL itself or raise after the verdict, as the report is written.",
    )
    batch_pause: float = Field(default=0.0, ge=0.0, le=1.0, description="Sleep after each batch.")
    epoch_pause: float = Field(default=0.0, ge=0.0, le=10.0, description="Sleep after each epoch.")
    gate: str = Field(
        default="",
        description="A Gate's folder: epoch N starts once the test has released N.",
    )
    hold_files: bool = Field(
        default=False,
        description="Wait at the gate after the verdict until epoch `epochs + 1` is released.",
    )


class Gate:
    """Where a test holds a probe run after each epoch, and lets it go on.

    The folder holds one file, ``released``: the number of epochs the run may train before it
    waits (written whole, so the probe never reads half a number). A new gate releases none.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.release(0)

    def config(self, **settings: object) -> dict[str, object]:
        """A probe config that waits at this gate, with `settings` besides."""
        return {**settings, "gate": str(self.folder)}

    def release(self, epochs: int) -> None:
        """Let the run train epochs up to `epochs` (counting from 1), then wait again."""
        partial = self.folder / f".released.{os.getpid()}"
        partial.write_text(str(epochs))
        partial.replace(self.folder / "released")

    def open(self) -> None:
        """Let the run go to its end."""
        self.release(1_000_000)

    @staticmethod
    def released(folder: str) -> int:
        return int((Path(folder) / "released").read_text())


class Pace(Callback):
    """Slows the fit down to a pace a test can watch, and dies on request."""

    def __init__(self, config: ProbeConfig) -> None:
        self.config = config

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        time.sleep(self.config.batch_pause)

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        if self.config.gate:
            # ``epoch`` counts from 0, so this is epoch ``epoch + 1``: it starts once released,
            # and every callback has seen the epoch before it end.
            while Gate.released(self.config.gate) <= epoch:
                time.sleep(0.01)
        if self.config.behaviour == "die" and epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        time.sleep(self.config.epoch_pause)


class TrainerProbe(BasePipeline[ProbeConfig]):
    name = "trainer_probe"
    summary = "Fits a line, at a given pace, or fails in a chosen way."
    Config = ProbeConfig

    def load_data(self, config: ProbeConfig) -> PipelineData:
        log.info("probe loading with %s BLAS threads", os.environ.get("OPENBLAS_NUM_THREADS"))
        if config.behaviour == "raise":
            raise RuntimeError(FAILURE)
        if config.behaviour == "hang":
            time.sleep(600)
        rng = np.random.default_rng(config.seed)
        x = rng.uniform(-1, 1, size=(48, 1)).astype(np.float32)
        y = (2 * x + 1 + 0.05 * rng.normal(size=x.shape)).astype(np.float32)
        train, val, test = (TensorDataset(x[i : i + 16], y[i : i + 16]) for i in (0, 16, 32))
        return PipelineData(train, val, test, summary={"source": "synthetic"})

    def create_model(self, config: ProbeConfig, data: PipelineData) -> nn.Module:
        return nn.Linear(1, 1)

    def evaluate(self, config: ProbeConfig, learner: Learner, data: PipelineData) -> Evaluation:
        """The test loss beside a baseline and a reference model whose names hold a space and an
        underscore, which must come back as they are."""
        evaluation = super().evaluate(config, learner, data)
        evaluation.baselines = {"predict zero": {"loss": 5.0}}
        evaluation.references = {"least_squares": {"loss": 0.0025}}
        return evaluation

    def create_callbacks(
        self, config: ProbeConfig, data: PipelineData, run_dir: Path
    ) -> list[Callback]:
        return [*super().create_callbacks(config, data, run_dir), Pace(config)]

    def report_sections(self, context: RunContext[ProbeConfig]) -> list[ReportSection]:
        """Nothing to add; where a run that gave its verdict waits, dies or fails writing."""
        config = context.config
        if config.gate and config.hold_files:
            while Gate.released(config.gate) <= config.epochs:
                time.sleep(0.01)
        if config.behaviour == "die_writing":
            os.kill(os.getpid(), signal.SIGKILL)
        if config.behaviour == "raise_writing":
            raise RuntimeError("the probe's report could not be written")
        return []
