"""``BasePipeline``: a training recipe that a plugin fills in and ``run`` carries out end to end.

A pipeline is a class with a registry ``name``, a one-line ``summary``, a ``Config`` schema
(see ``forge_learner.config``) and hooks. A plugin writes two of them: ``load_data`` (the
datasets) and ``create_model``; the others have defaults that a family (time series, image
classification) or a plugin overrides:

==========================================  =================================================
hook                                        default
==========================================  =================================================
``load_data(config) -> PipelineData``       abstract
``create_model(config, data) -> Module``    abstract
``create_loss(config)``                     ``nn.MSELoss()``
``create_optimizer(config, model)``         ``optim.Adam(..., lr=config.learning_rate)``
``create_metrics(config)``                  ``[]`` (the loss is always reported)
``create_callbacks(config, data, run_dir)``  ``ModelCheckpoint`` in ``run_dir/checkpoints``
``evaluate(config, learner, data)``         ``learner.evaluate`` on the test set
``report_sections(context)``                ``[]``
``predict(run_dir, request)``               ``PredictionUnavailable``: the family's to give
==========================================  =================================================

``run(config, callbacks, run_dir)`` does the rest, in this order: validate the config, seed
every generator from ``config.seed``, load the data, build the model, loss, optimizer, metrics
and a ``Learner``, fit (training data shuffled by the seed, batches of ``config.batch_size``),
evaluate, tell the callbacks the verdict (``Callback.on_run_evaluated``: a service reports the
run's end before its files are written), save the weights, draw the loss plot, collect the
family's report sections, write ``metrics.json`` and ``report.md``, and return a
``RunResult``. It prints nothing: the caller watches through the callbacks it passes (the
CLI's progress bar, the trainer's event stream), and ``run`` logs its steps with ``logging``.

A fit stopped by a callback or by ``learner.stop()`` (a user's cancel) still evaluates the
model as it stands and writes every file, with the run marked ``cancelled``. A fit that
``EarlyStopping`` ended is ``completed``: stopping early is how it is meant to finish.
An exception in a hook propagates, and the run writes no report.
"""

from __future__ import annotations

import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

import numpy as np

import forge_core
from forge_core import nn, optim
from forge_learner.artifacts import (
    CHECKPOINTS_DIR,
    METRICS_NAME,
    WEIGHTS_NAME,
    history_records,
    new_run_dir,
    write_metrics,
)
from forge_learner.callbacks import Callback, EarlyStopping, ModelCheckpoint
from forge_learner.checkpoint import Checkpoint
from forge_learner.config import PipelineConfig, parse_config
from forge_learner.data import DataLoader, Dataset
from forge_learner.events import Logs
from forge_learner.learner import Learner, LossFn
from forge_learner.metrics import Metric
from forge_learner.plots import loss_curves
from forge_learner.prediction import PredictionRequest, PredictionUnavailable
from forge_learner.report import REPORT_NAME, ReportSection, RunReport, write_report

__all__ = [
    "BasePipeline",
    "Evaluation",
    "PipelineData",
    "ReportSection",
    "RunContext",
    "RunResult",
    "RunStatus",
    "Verdict",
    "seed_everything",
]

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT", bound=PipelineConfig)
RunStatus = Literal["completed", "cancelled"]
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
"""A pipeline's ``name``: lowercase snake case, as the CLI, URLs and entry points use it."""


@dataclass
class PipelineData:
    """What ``load_data`` returns: the datasets, and what the report and the family need of them.

    ``val`` is validated after every epoch (``val_loss`` in the logs, the best checkpoint);
    ``test`` is what ``evaluate`` scores. ``summary`` fills the report's data section (the
    sample counts are added by ``run``): a source, a date range, a number of classes.
    ``extras`` carries what later hooks need and datasets do not hold: fitted scalers, class
    names, the raw series to plot predictions against.
    """

    train: Dataset
    val: Dataset | None = None
    test: Dataset | None = None
    summary: dict[str, str | int | float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """The trained model's scores, and the baselines' scores on the same data.

    ``metrics`` are the model's (e.g. ``{"rmse": 1.2, "mae": 0.9}``); ``baselines`` maps each
    baseline's name to its scores under the same metric names (e.g. ``{"persistence":
    {"rmse": 1.5}}``): the report's metrics table puts them side by side. ``split`` names the
    data they were measured on. ``details`` holds results that are no single number (per-class
    scores, a confusion matrix) as JSON-ready values: ``metrics.json`` stores them for
    programs, and the family's report sections show them to people. ``references`` maps each
    reference model (a simple model fitted on the training data, such as a linear
    autoregression or a logistic regression) to its scores, as ``baselines`` does: a baseline
    is naive and must be beaten; a reference is what the network is honestly compared with,
    shown whether it wins or not.
    """

    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    split: str = "test"
    details: dict[str, Any] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """How a run came out, known once the model is evaluated and before its files are written.

    ``run`` hands it to every callback's ``on_run_evaluated``: the weights, plots and report
    take a while longer (the plots most of it), and whoever waits for the run's end need not
    wait for them. ``status`` and ``stop_reason`` are as in ``RunResult``.
    """

    pipeline: str
    status: RunStatus
    stop_reason: str | None
    evaluation: Evaluation


@dataclass(frozen=True)
class RunContext(Generic[ConfigT]):
    """Everything a family's ``report_sections`` may draw on, once the model is evaluated.

    ``history`` is one dict of logs per finished epoch (as in ``RunResult``); plots go in
    ``run_dir`` (e.g. ``context.run_dir / "prediction.png"``).
    """

    config: ConfigT
    data: PipelineData
    model: nn.Module
    learner: Learner
    evaluation: Evaluation
    history: list[dict[str, Any]]
    run_dir: Path


@dataclass(frozen=True)
class RunResult:
    """What a run did and where it wrote it; every path is inside ``run_dir``."""

    pipeline: str
    status: RunStatus
    stop_reason: str | None
    config: dict[str, Any]
    evaluation: Evaluation
    history: list[dict[str, Any]]
    run_dir: Path
    report_path: Path
    metrics_path: Path
    weights_path: Path
    plot_paths: list[Path]
    started_at: datetime
    duration_s: float

    @property
    def epochs_run(self) -> int:
        return len(self.history)


class BasePipeline(ABC, Generic[ConfigT]):
    """A training recipe; subclass it as ``BasePipeline[MyConfig]`` and fill in the hooks.

    The module docstring lists the hooks and what ``run`` does around them. A pipeline holds
    no state between runs: each ``run`` builds everything from its config, so one instance
    may run many times, and two runs with one seed give the same model.
    """

    name: ClassVar[str]
    """The registry name (``forge run NAME``); equals the entry point's name."""
    summary: ClassVar[str] = ""
    """One line that says what the pipeline learns, for ``forge pipelines`` and the report."""
    Config: ClassVar[type[PipelineConfig]] = PipelineConfig
    """The config schema; a subclass of ``PipelineConfig``, the hooks' ``ConfigT``."""

    # ----- hooks -----
    @abstractmethod
    def load_data(self, config: ConfigT) -> PipelineData:
        """The datasets of this run (batches are ``(*inputs, target)``)."""

    @abstractmethod
    def create_model(self, config: ConfigT, data: PipelineData) -> nn.Module:
        """A new, untrained model; ``data`` tells it input sizes, class counts and the like."""

    def create_loss(self, config: ConfigT) -> LossFn:
        """The training loss; mean squared error by default."""
        return nn.MSELoss()

    def create_optimizer(self, config: ConfigT, model: nn.Module) -> optim.Optimizer:
        """The optimizer over ``model``'s parameters; Adam at ``config.learning_rate``."""
        return optim.Adam(model.parameters(), lr=config.learning_rate)

    def create_metrics(self, config: ConfigT) -> list[Metric | str]:
        """Metrics logged each epoch beside the loss (``Metric`` objects or names like "mae")."""
        return []

    def create_callbacks(
        self, config: ConfigT, data: PipelineData, run_dir: Path
    ) -> list[Callback]:
        """The pipeline's own callbacks; by default checkpoints in ``run_dir/checkpoints``.

        ``last.npz`` after every epoch (what a trainer resumes from) and, when there is
        validation data, ``best.npz`` at the lowest ``val_loss``. An override that adds to
        the defaults calls ``super().create_callbacks(...)``.
        """
        directory = run_dir / CHECKPOINTS_DIR
        if data.val is None:
            return [ModelCheckpoint(directory, save_best=False)]
        return [ModelCheckpoint(directory, monitor="val_loss")]

    def evaluate(self, config: ConfigT, learner: Learner, data: PipelineData) -> Evaluation:
        """Score the trained model: the loss and metrics on the test set, without baselines.

        Without a test set it scores the validation set (and says so in ``split``); with
        neither, it returns no metrics. Families override this to add their own measures
        and the baselines.
        """
        split, dataset = ("test", data.test) if data.test is not None else ("validation", data.val)
        if dataset is None:
            return Evaluation(metrics={}, split="none")
        loader = DataLoader(dataset, batch_size=config.batch_size)
        return Evaluation(metrics=learner.evaluate(loader), split=split)

    def report_sections(self, context: RunContext[ConfigT]) -> list[ReportSection]:
        """Report sections after the loss plot: a family's plots and tables."""
        return []

    # ----- predicting -----
    def predict(self, run_dir: Path, request: PredictionRequest) -> dict[str, Any]:
        """Answer ``request`` with the model a finished run left in ``run_dir``, as JSON.

        Families override it (``forge_learner.prediction`` says what they may raise); the
        model comes back through ``trained_model``, never by training again.
        """
        raise PredictionUnavailable(
            f"pipeline {self.name!r} does not make predictions: only forecasters and image "
            "classifiers do"
        )

    def trained_model(self, config: ConfigT, data: PipelineData, run_dir: Path) -> nn.Module:
        """``create_model(config, data)`` with the run's saved weights, in eval mode."""
        weights = run_dir / WEIGHTS_NAME
        if not weights.is_file():
            raise PredictionUnavailable(
                f"the run has no {WEIGHTS_NAME}: it did not finish; train the experiment again"
            )
        model = self.create_model(config, data)
        model.load_state_dict(forge_core.load(weights))
        model.eval()
        return model

    # ----- running -----
    @classmethod
    def parse_config(cls, config: Mapping[str, Any] | PipelineConfig) -> ConfigT:
        """``config`` validated against ``Config`` (a config object is checked as its fields).

        Raises ``forge_learner.config.ConfigError`` naming every bad field.
        """
        raw = config.model_dump() if isinstance(config, PipelineConfig) else config
        return cast(ConfigT, parse_config(cls.Config, raw))

    def run(
        self,
        config: Mapping[str, Any] | PipelineConfig,
        callbacks: Sequence[Callback] = (),
        run_dir: Path | None = None,
        resume_from: str | Path | Checkpoint | None = None,
    ) -> RunResult:
        """Train, evaluate and report; write everything into ``run_dir`` and say where.

        ``run_dir`` defaults to a new folder under ``$FORGE_DATA_DIR/runs``; an existing
        folder is written into. ``callbacks`` watch or steer the fit beside the pipeline's own.
        With ``resume_from`` (a checkpoint of an earlier run of the same config, or its file)
        the fit goes on exactly where that run stopped: data, model and optimizer are built as
        always, then take the checkpoint's state (see ``Learner.fit``).
        """
        cfg = self.parse_config(config)
        run_dir = new_run_dir(self.name) if run_dir is None else Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        started_at, started = datetime.now(UTC), time.perf_counter()
        log.info("%s: run in %s with %s", self.name, run_dir, cfg.model_dump())

        seed_everything(cfg.seed)
        data = self.load_data(cfg)
        model = self.create_model(cfg, data)
        watcher = _StopWatcher()
        learner = Learner(
            model,
            self.create_loss(cfg),
            self.create_optimizer(cfg, model),
            self.create_metrics(cfg),
            callbacks=[watcher, *self.create_callbacks(cfg, data, run_dir), *callbacks],
        )
        train = DataLoader(data.train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
        val = None if data.val is None else DataLoader(data.val, batch_size=cfg.batch_size)
        log.info("%s: fitting %d epochs on %d samples", self.name, cfg.epochs, len(data.train))
        learner.fit(train, cfg.epochs, val, resume_from=resume_from)
        status = _status(learner, watcher.reason)

        evaluation = self.evaluate(cfg, learner, data)
        verdict = Verdict(self.name, status, watcher.reason, evaluation)
        for callback in learner.callbacks:
            callback.on_run_evaluated(verdict)
        history = history_records(learner.history)
        weights_path = run_dir / WEIGHTS_NAME
        forge_core.save(model.state_dict(), weights_path)
        plot_paths = [loss_curves(history, run_dir / "loss.png")]
        context = RunContext(cfg, data, model, learner, evaluation, history, run_dir)
        sections = self.report_sections(context)
        plot_paths += [Path(image) for section in sections for image in section.images]
        duration = time.perf_counter() - started

        metrics_path = write_metrics(
            run_dir / METRICS_NAME,
            {
                "pipeline": self.name,
                "status": status,
                "stop_reason": watcher.reason,
                "split": evaluation.split,
                "metrics": evaluation.metrics,
                "baselines": evaluation.baselines,
                "references": evaluation.references,
                "details": evaluation.details,
                "final_epoch": history[-1] if history else {},
                "epochs_run": len(history),
                "epochs": cfg.epochs,
                "started_at": started_at,
                "duration_s": duration,
                "engine_version": forge_core.__version__,
                "config": cfg.model_dump(mode="json"),
            },
        )
        report = RunReport(
            pipeline=self.name,
            summary=self.summary,
            status=status,
            stop_reason=watcher.reason,
            started_at=started_at,
            duration_s=duration,
            engine_version=forge_core.__version__,
            config=cfg.model_dump(mode="json"),
            data_summary={**_sample_counts(data), **data.summary},
            split=evaluation.split,
            metrics=evaluation.metrics,
            baselines=evaluation.baselines,
            references=evaluation.references,
            epochs_run=len(history),
            epochs=cfg.epochs,
            final_logs=history[-1] if history else {},
            loss_plot=plot_paths[0],
            sections=sections,
            files=_files(run_dir, run_dir / REPORT_NAME),
        )
        report_path = write_report(report, run_dir)
        log.info("%s: %s in %.1f s; report at %s", self.name, status, duration, report_path)
        return RunResult(
            pipeline=self.name,
            status=status,
            stop_reason=watcher.reason,
            config=cfg.model_dump(mode="json"),
            evaluation=evaluation,
            history=history,
            run_dir=run_dir,
            report_path=report_path,
            metrics_path=metrics_path,
            weights_path=weights_path,
            plot_paths=plot_paths,
            started_at=started_at,
            duration_s=duration,
        )


def seed_everything(seed: int) -> None:
    """Seed the engine, NumPy's global generator and Python's ``random``.

    The engine's generator drives weight init, dropout and shuffling; the two global ones are
    seeded too because data code (scikit-learn splits, augmentations) often draws from them.
    """
    forge_core.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


class _StopWatcher(Callback):
    """Notes why a fit was cancelled; it runs first, so it hears the cancel before anyone."""

    order = -100

    def __init__(self) -> None:
        self.reason: str | None = None

    def on_train_begin(self, logs: Logs) -> None:
        self.reason = None

    def on_train_cancel(self, logs: Logs) -> None:
        self.reason = str(logs.get("reason", "cancelled"))


def _status(learner: Learner, reason: str | None) -> RunStatus:
    if reason is None:
        return "completed"
    stopped_early = any(
        isinstance(c, EarlyStopping) and c.stopped_epoch is not None for c in learner.callbacks
    )
    return "completed" if stopped_early else "cancelled"


def _sample_counts(data: PipelineData) -> dict[str, int]:
    splits = {"training": data.train, "validation": data.val, "test": data.test}
    return {f"{name} samples": len(d) for name, d in splits.items() if d is not None}


def _files(run_dir: Path, *also: Path) -> list[Path]:
    """Every file in the run folder (hidden ones left out), with ``also`` to be written."""
    found = {p for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith(".")}
    return sorted(found | set(also))
