"""A submitted sweep checked whole, before anything is stored: the `SweepPlan` it runs by.

Every part is checked against the pipeline, and every mistake is named at once, in the words
of the request's JSON (`space.learning_rate`, `objective.mode`,
`early_stopping.asha.grace_epochs`). The space is checked against the pipeline's JSON Schema,
which covers every value it can draw (type, bounds, allowed values), and the base config and
the first trial's config go through the same check a submitted experiment does
(`scheduler.submissions.check_submission`), which also catches rules between settings. Each
later trial's config goes through that check again when the trial is submitted
(`trial_config`): a check costs milliseconds, and a thousand of them would hold the submission
up for seconds. The trials are drawn here (`scheduler.sweeps.search`) and kept with the plan,
so that a scheduler that restarts carries on with exactly the trials drawn at submission.

Checking imports plugins: callers run these functions in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2

from azuraforge.v1 import sweep_pb2
from scheduler.errors import BadRequest, FieldError
from scheduler.names import MAX_NAME_LENGTH, check_name
from scheduler.submissions import Catalogue, check_submission, config_values
from scheduler.sweeps.asha import MODES, rungs
from scheduler.sweeps.search import trial_settings
from scheduler.sweeps.space import BUDGET_SETTING, parse_space

MAX_PARALLELISM = 256
# Room left in an experiment's name for a trial's " #<n>".
NAME_ROOM = len(" #10000")


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: what `SweepSpec` asked for, its defaults filled, and its trials."""

    pipeline: str
    name: str
    config: dict[str, Any]
    space: dict[str, Any]
    search: str
    seed: int
    max_trials: int
    parallelism: int
    metric: str
    mode: str
    # ASHA's (grace_epochs, reduction_factor); None without early stopping.
    asha: tuple[int, int] | None
    epochs: int
    # Each trial's drawn settings, the first trial first.
    trials: list[dict[str, Any]]

    @property
    def rungs(self) -> list[int]:
        return [] if self.asha is None else rungs(*self.asha, self.epochs)

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "name": self.name,
            "config": self.config,
            "space": self.space,
            "search": self.search,
            "seed": self.seed,
            "max_trials": self.max_trials,
            "parallelism": self.parallelism,
            "objective": {"metric": self.metric, "mode": self.mode},
            "asha": list(self.asha) if self.asha else None,
            "epochs": self.epochs,
            "trials": self.trials,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepPlan:
        asha = data["asha"]
        return cls(
            pipeline=data["pipeline"],
            name=data["name"],
            config=data["config"],
            space=data["space"],
            search=data["search"],
            seed=data["seed"],
            max_trials=data["max_trials"],
            parallelism=data["parallelism"],
            metric=data["objective"]["metric"],
            mode=data["objective"]["mode"],
            asha=(asha[0], asha[1]) if asha else None,
            epochs=data["epochs"],
            trials=data["trials"],
        )

    def to_spec(self) -> sweep_pb2.SweepSpec:
        """The plan as the `SweepSpec` it was asked as, its defaults filled in."""
        spec = sweep_pb2.SweepSpec(
            pipeline=self.pipeline,
            search=self.search,
            seed=self.seed,
            max_trials=self.max_trials,
            parallelism=self.parallelism,
            objective=sweep_pb2.Objective(metric=self.metric, mode=self.mode),
            name=self.name,
        )
        spec.config.update(self.config)
        spec.space.update(self.space)
        if self.asha is not None:
            spec.early_stopping.asha.grace_epochs, spec.early_stopping.asha.reduction_factor = (
                self.asha
            )
        return spec


def pipeline_schema(catalogue: Catalogue, pipeline: str) -> dict[str, Any]:
    """The pipeline's config JSON Schema, as its trainers announced it."""
    announced = catalogue.announced_pipeline(pipeline)
    return {} if announced is None else announced.config_schema


def check_sweep(catalogue: Catalogue, spec: sweep_pb2.SweepSpec) -> SweepPlan:
    """`spec` checked whole against the pipelines `catalogue` holds; `BadRequest` naming every
    bad field it could tell."""
    errors: list[FieldError] = []
    _no_nul(spec)
    # An unknown pipeline or a bad base config: nothing else can be checked.
    base = check_submission(catalogue, spec.pipeline, spec.config)
    space_values = config_values(spec.space)
    schema = pipeline_schema(catalogue, base.pipeline)
    space = _collect(errors, lambda: parse_space(space_values, schema))
    name = _collect(errors, lambda: _name(spec.name, base.pipeline))
    metric, mode = spec.objective.metric.strip(), spec.objective.mode.strip().lower() or "min"
    if not metric:
        errors.append(
            FieldError(
                "objective.metric",
                "missing",
                "objective.metric: name a metric of EpochEnded to optimise, e.g. val_loss",
            )
        )
    if mode not in MODES:
        errors.append(
            FieldError(
                "objective.mode", "enum", f"objective.mode: must be min or max, got {mode[:40]!r}"
            )
        )
    parallelism = spec.parallelism or 1
    if parallelism > MAX_PARALLELISM:
        errors.append(
            FieldError(
                "parallelism",
                "less_than_equal",
                f"parallelism: must be at most {MAX_PARALLELISM}, got {parallelism}",
            )
        )
    asha = _collect(errors, lambda: _asha(spec, base.total_epochs))
    search = spec.search or "random"
    trials = None
    if space is not None:
        trials = _collect(errors, lambda: trial_settings(space, search, spec.seed, spec.max_trials))
    if errors:
        raise BadRequest(errors, "invalid sweep")
    assert trials is not None and name is not None
    if trials:
        _trial_config(catalogue, base.pipeline, base.config, trials[0])
    return SweepPlan(
        pipeline=base.pipeline,
        name=name,
        config=base.config,
        space=space_values,
        search=search,
        seed=spec.seed,
        max_trials=spec.max_trials or len(trials),
        parallelism=parallelism,
        metric=metric,
        mode=mode,
        asha=asha,
        epochs=base.total_epochs,
        trials=trials,
    )


def trial_config(catalogue: Catalogue, plan: SweepPlan, number: int) -> dict[str, Any]:
    """Trial `number`'s full config (from 1), checked as a submission; else `BadRequest`."""
    return _trial_config(catalogue, plan.pipeline, plan.config, plan.trials[number - 1])


def _no_nul(spec: sweep_pb2.SweepSpec) -> None:
    """`BadRequest` for a NUL in a text field of the spec, which Postgres can neither store nor
    compare (`scheduler.requests` checks only a request's top-level fields)."""
    texts = {
        "pipeline": spec.pipeline,
        "search": spec.search,
        "name": spec.name,
        "objective.metric": spec.objective.metric,
        "objective.mode": spec.objective.mode,
    }
    for field, text in texts.items():
        if "\x00" in text:
            raise BadRequest.field(
                field, "nul_character", f"{field}: must not contain NUL characters"
            )


def _collect(errors: list[FieldError], check: Any) -> Any:
    try:
        return check()
    except BadRequest as error:
        errors.extend(error.errors)
        return None


def _name(name: str, pipeline: str) -> str:
    trimmed = check_name(name) or f"{pipeline} sweep"
    if len(trimmed) > MAX_NAME_LENGTH - NAME_ROOM:
        raise BadRequest.field(
            "name",
            "max_length",
            f"name: a sweep's name must be at most {MAX_NAME_LENGTH - NAME_ROOM} characters "
            f"(its trials are named after it), got {len(trimmed)}",
        )
    return trimmed


def _asha(spec: sweep_pb2.SweepSpec, epochs: int) -> tuple[int, int] | None:
    if not spec.HasField("early_stopping") or not spec.early_stopping.HasField("asha"):
        return None
    asha = spec.early_stopping.asha
    path = "early_stopping.asha"
    if asha.grace_epochs < 1:
        raise BadRequest.field(
            f"{path}.grace_epochs",
            "greater_than_equal",
            f"{path}.grace_epochs: must be at least 1 (the first rung, in epochs), "
            f"got {asha.grace_epochs}",
        )
    if asha.reduction_factor < 2:
        raise BadRequest.field(
            f"{path}.reduction_factor",
            "greater_than_equal",
            f"{path}.reduction_factor: must be at least 2 (each rung keeps 1/η), "
            f"got {asha.reduction_factor}",
        )
    if asha.grace_epochs >= epochs:
        raise BadRequest.field(
            f"{path}.grace_epochs",
            "less_than",
            f"{path}.grace_epochs: must be below config.{BUDGET_SETTING} ({epochs}), or ASHA "
            f"never decides; got {asha.grace_epochs}",
        )
    return asha.grace_epochs, asha.reduction_factor


def _trial_config(
    catalogue: Catalogue, pipeline: str, base: dict[str, Any], settings: dict[str, Any]
) -> dict[str, Any]:
    """The full config of one trial, checked as a submission; errors named after the space."""
    config = struct_pb2.Struct()
    config.update({**base, **settings})
    try:
        return check_submission(catalogue, pipeline, config).config
    except BadRequest as error:
        raise BadRequest(
            [
                FieldError(
                    _space_field(e.field, settings),
                    e.rule,
                    f"a trial drawing {settings} is refused: {e.message}",
                )
                for e in error.errors
            ],
            "invalid space",
        ) from None


def _space_field(field: str, settings: dict[str, Any]) -> str:
    name = field.removeprefix("config.")
    return f"space.{name}" if name in settings else field
