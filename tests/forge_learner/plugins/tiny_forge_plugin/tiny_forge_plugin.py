"""A third-party AzuraForge pipeline: a linear model fitted to synthetic data in a second.

It uses only the public API a plugin author sees: a config schema, the two hooks every
pipeline must fill in, and an entry point in ``forge.pipelines`` (see its pyproject.toml).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from forge_core import nn
from forge_learner.config import LearningRate, PipelineConfig
from forge_learner.data import TensorDataset
from forge_learner.pipeline import BasePipeline, PipelineData


class TinyConfig(PipelineConfig):
    """Settings of the tiny regression."""

    learning_rate: LearningRate = 0.05

    samples: int = Field(default=64, ge=8, le=10_000, description="Synthetic samples to draw.")
    noise: float = Field(default=0.05, ge=0.0, le=1.0, description="Noise on the targets.")


class TinyRegression(BasePipeline[TinyConfig]):
    name = "tiny_regression"
    summary = "Fits y = x . w + b to synthetic samples with one Linear layer."
    Config = TinyConfig

    def load_data(self, config: TinyConfig) -> PipelineData:
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(config.samples, 3)).astype(np.float32)
        y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + config.noise * rng.normal(size=(len(x), 1))
        cut = [len(x) * 3 // 4, len(x) * 7 // 8]
        x_parts, y_parts = np.split(x, cut), np.split(y.astype(np.float32), cut)
        train, val, test = (TensorDataset(a, b) for a, b in zip(x_parts, y_parts, strict=True))
        return PipelineData(train, val, test, summary={"source": "synthetic", "features": 3})

    def create_model(self, config: TinyConfig, data: PipelineData) -> nn.Module:
        return nn.Linear(3, 1)
