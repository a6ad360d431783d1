"""A tiny pipeline that the pipeline, registry and CLI tests run (a line fitted in a second),
and a way to make pipelines look installed without installing anything."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Literal

import numpy as np
import pytest
from pydantic import Field

from forge_core import nn
from forge_learner import registry
from forge_learner.config import Epochs, PipelineConfig
from forge_learner.data import TensorDataset
from forge_learner.learner import Learner
from forge_learner.metrics import Metric
from forge_learner.pipeline import BasePipeline, Evaluation, PipelineData, RunContext
from forge_learner.plots import prediction_vs_actual
from forge_learner.report import ReportSection

LINE = "tests.forge_learner.toy_pipelines:LinePipeline"
"""The entry point value of ``LinePipeline``."""


class LineConfig(PipelineConfig):
    """Fit y = 2x + 1 from noisy samples."""

    epochs: Epochs = 3
    noise: float = Field(default=0.1, ge=0.0, le=1.0, description="Noise on the targets.")
    splits: Literal["all", "no_test", "train_only"] = Field(
        default="all", description="Which datasets load_data returns."
    )


class LinePipeline(BasePipeline[LineConfig]):
    name = "line"
    summary = "Fits a straight line to noisy synthetic points."
    Config = LineConfig

    def load_data(self, config: LineConfig) -> PipelineData:
        rng = np.random.default_rng(config.seed)
        x = rng.uniform(-1, 1, size=(96, 1)).astype(np.float32)
        y = (2 * x + 1 + config.noise * rng.normal(size=x.shape)).astype(np.float32)
        parts = [TensorDataset(x[i : i + 32], y[i : i + 32]) for i in (0, 32, 64)]
        val = None if config.splits == "train_only" else parts[1]
        test = parts[2] if config.splits == "all" else None
        return PipelineData(
            parts[0], val, test, summary={"source": "synthetic"}, extras={"x": x[64:], "y": y[64:]}
        )

    def create_model(self, config: LineConfig, data: PipelineData) -> nn.Module:
        return nn.Linear(1, 1)

    def create_metrics(self, config: LineConfig) -> list[Metric | str]:
        return ["rmse"]

    def evaluate(self, config: LineConfig, learner: Learner, data: PipelineData) -> Evaluation:
        evaluation = super().evaluate(config, learner, data)
        y = data.extras["y"]
        evaluation.baselines = {"mean": {"rmse": float(np.sqrt(np.mean((y - y.mean()) ** 2)))}}
        return evaluation

    def report_sections(self, context: RunContext[LineConfig]) -> list[ReportSection]:
        x, y = context.data.extras["x"], context.data.extras["y"]
        path = prediction_vs_actual(y, context.learner.predict(x), context.run_dir / "fit.png")
        return [ReportSection("Fit", "The line against the test points.", [path])]


def install_entry_points(monkeypatch: pytest.MonkeyPatch, **points: str | list[str]) -> None:
    """Make ``name=value`` the only ``forge.pipelines`` entry points discovery sees.

    A list of values registers one name several times, as two distributions might.
    """
    installed = [
        EntryPoint(name, value, registry.GROUP)
        for name, values in points.items()
        for value in ([values] if isinstance(values, str) else values)
    ]

    def entry_points(*, group: str) -> list[EntryPoint]:
        assert group == registry.GROUP
        return installed

    monkeypatch.setattr(registry, "entry_points", entry_points)
