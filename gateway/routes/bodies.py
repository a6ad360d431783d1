"""What each route takes from a client, as pydantic models: bodies and query parameters.

One model per thing a client sends (the login form, a new user, a submission, the experiment
list's query, a live view's query) is both the check and the description: `parse` turns what
arrived into the model or a 422 naming the first wrong field, in the words the gateway has
always used (`max_restarts: must be a whole number from 0 to 100, got 1.5`), and
`gateway.openapi` publishes each model's JSON Schema, so the document cannot drift from what a
route accepts.

JSON is read the way JSON Schema reads it: `null` is an absent string, a number with no
fraction (`2.0`) is a whole number, and `true`, `"2"` or `1.5` are not. Query parameters
arrive as text and are whole numbers when they read as one.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from azuraforge.statuses import NAMES as STATUS_NAMES
from azuraforge.statuses import parse_status
from azuraforge.v1 import experiment_pb2
from gateway.errors import ApiError, invalid, quote, shorten

# The scheduler's bound on `SubmitExperimentRequest.max_restarts`, checked here too so that a
# bad value is a 422 before any call.
MAX_RESTARTS = 100
MAX_PAGE_SIZE = 500
# The scheduler checks names (`scheduler.names`); the gateway only says so.
NAME_HELP = (
    "What to call the experiment, shown instead of its pipeline where it is listed: at most "
    "100 characters once surrounding whitespace is trimmed, no control characters; "
    "left out or empty for none."
)
MAX_SEQ = 2**63 - 1


def _null_is_empty(value: object) -> object:
    return "" if value is None else value


def _integral_is_whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _encodable(value: str) -> str:
    """`value`, if protobuf can send it: JSON's `\\ud800` escapes can spell a lone surrogate,
    which is no character and has no UTF-8 form."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be text, without lone surrogates such as \\ud800") from None
    return value


# A JSON string; null counts as absent.
Text = Annotated[
    str, BeforeValidator(_null_is_empty), Field(strict=True), AfterValidator(_encodable)
]


class Request(BaseModel):
    """A model of what a client sends; `parse` is the only way in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # What to say, by field, when a field is missing or empty.
    required: ClassVar[dict[str, str]] = {}
    # What to say, by field, when a field has the wrong kind of value.
    expected: ClassVar[dict[str, str]] = {}
    # Query parameters arrive as text, which an error may quote; a body's values it names.
    quotes_input: ClassVar[bool] = False

    @classmethod
    def refusal(cls, problem: ErrorDetails) -> ApiError | None:
        """A model's own answer to `problem`, where it is not the usual 422."""
        return None


Model = TypeVar("Model", bound=Request)


def parse(model: type[Model], data: dict[str, Any]) -> Model:
    """`data` as a `model`, or the 422 (400 for an unsupported grant) of its first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        # A typo in a key explains the rest, so it is named first, as before any other check.
        problems.sort(key=lambda problem: problem["type"] != "extra_forbidden")
        raise _answer(model, problems[0]) from None


def _answer(model: type[Request], problem: ErrorDetails) -> ApiError:
    own = model.refusal(problem)
    if own is not None:
        return own
    name = str(problem["loc"][0]) if problem["loc"] else "body"
    kind = problem["type"]
    info = model.model_fields.get(name)
    if kind == "extra_forbidden":
        return invalid(name, f"unknown field; use {', '.join(sorted(model.model_fields))}")
    if info is None:  # a problem of the whole body: a model validator's
        return invalid(name, problem["msg"])
    if kind in ("missing", "string_too_short"):
        return invalid(name, model.required.get(name, "is required"))
    if kind == "value_error":
        return invalid(name, str(problem.get("ctx", {}).get("error", problem["msg"])))
    bounds = _bounds(info)
    value = problem["input"]
    if bounds is not None and kind in ("greater_than_equal", "less_than_equal"):
        return invalid(name, f"must be {bounds[0]} to {bounds[1]}, got {shorten(str(value))}")
    if bounds is not None:
        got = quote(value) if model.quotes_input and isinstance(value, str) else _kind(value)
        return invalid(name, f"must be a whole number from {bounds[0]} to {bounds[1]}, got {got}")
    if kind == "literal_error":
        choices = ", ".join(str(choice) for choice in _choices(info) if choice)
        return invalid(name, f"must be one of {choices}, got {_shown(value)}")
    return invalid(name, model.expected.get(name, "must be a string"))


def _bounds(info: FieldInfo) -> tuple[object, object] | None:
    """The range of a whole-number field; None for any other."""
    low = [item.ge for item in info.metadata if isinstance(item, annotated_types.Ge)]
    high = [item.le for item in info.metadata if isinstance(item, annotated_types.Le)]
    return (low[0], high[0]) if low and high else None


def _choices(info: FieldInfo) -> tuple[object, ...]:
    annotation = info.annotation
    return tuple(getattr(annotation, "__args__", ()))


def _shown(value: object) -> str:
    return quote(value) if isinstance(value, str) else _kind(value)


def _kind(value: object) -> str:
    """What a JSON value is, in JSON's words, to name it without echoing it back."""
    if isinstance(value, float):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    kinds = ((str, "a string"), (list, "an array"), (dict, "an object"), (type(None), "null"))
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


class LoginForm(Request):
    """`POST auth/token`: an OAuth2 password grant (RFC 6749 §4.3), as a form or JSON.

    `grant_type` comes first: an unsupported grant is answered as OAuth2 says (400), before
    anything else is looked at.
    """

    grant_type: Annotated[Literal["", "password"], BeforeValidator(_null_is_empty)] = Field(
        default="", description="`password`, or left out."
    )
    username: Text = Field(min_length=1)
    password: Text = Field(min_length=1, json_schema_extra={"format": "password"})
    scope: Text = Field(default="", description="Accepted and ignored: a token can do all.")
    client_id: Text = Field(default="", description="Accepted and ignored.")

    @classmethod
    def refusal(cls, problem: ErrorDetails) -> ApiError | None:
        """Another grant type is OAuth2's `unsupported_grant_type` (RFC 6749 §5.2), a 400."""
        grant = problem["input"]
        if problem["loc"] != ("grant_type",) or not isinstance(grant, str):
            return None
        return ApiError(
            HTTPStatus.BAD_REQUEST,
            "unsupported_grant_type",
            f"grant_type {quote(grant)} is not supported; use grant_type=password",
        )


def _default_role(value: object) -> object:
    return "user" if value is None or value == "" else value


class NewUser(Request):
    """`POST users`: an account; the scheduler checks the name and the password's length."""

    username: Text = ""
    password: Text = Field(default="", json_schema_extra={"format": "password"})
    role: Annotated[Literal["user", "admin"], BeforeValidator(_default_role)] = "user"


class Submission(Request):
    """`POST experiments`: a pipeline to run with its config."""

    required: ClassVar[dict[str, str]] = {
        "pipeline": "is required: the name of an installed pipeline"
    }
    expected: ClassVar[dict[str, str]] = {
        "config": "must be a JSON object of the pipeline's settings"
    }

    pipeline: Text = Field(
        min_length=1, description="An installed pipeline's name.", examples=["weather_forecaster"]
    )
    config: Annotated[dict[str, Any], BeforeValidator(lambda v: v or {})] = Field(
        default_factory=dict,
        description="Settings, checked against the pipeline's `config_schema`.",
        examples=[{"epochs": 20, "learning_rate": 0.001}],
    )
    max_restarts: Annotated[int | None, BeforeValidator(_integral_is_whole)] = Field(
        default=None,
        ge=0,
        le=MAX_RESTARTS,
        strict=True,
        description=(
            "How many times a lost run (its trainer died, say) is placed again from its latest "
            "checkpoint before the experiment fails; leave it out for the scheduler's default "
            "(`FORGE_MAX_RESTARTS`, 3)."
        ),
    )
    name: Text = Field(default="", description=NAME_HELP, examples=["baseline, two layers"])


class Rename(Request):
    """`PATCH experiments/{id}`: a new name for an experiment, or "" for none."""

    required: ClassVar[dict[str, str]] = {"name": 'is required: the new name, or "" to clear it'}

    name: Text = Field(description=NAME_HELP + ' `""` clears it.', examples=["lr 0.01"])


class PredictionInputs(Request):
    """`POST experiments/{id}/predictions` as JSON: the model's inputs, or none for its default."""

    inputs: Any = Field(
        default=None,
        description=(
            "The model's inputs; leave out for the pipeline's default. A forecaster: `lookback` "
            "rows, oldest first, each an object with the series' columns (as its "
            "`inputs.json` lists them) and a `timestamp` (required when the model reads the "
            "day of the year); a forecaster of one column also takes bare numbers. An image "
            "classifier: images, each rows of pixel values (0 to 1, or 0 to 255)."
        ),
        examples=[[{"timestamp": "2015-12-31", "temp_max": 8.3, "temp_min": 2.2}]],
    )


def _empty_is_absent(value: object) -> object:
    return None if value == "" else value


def _statuses(values: object) -> list[str]:
    """`status` as repeated and comma-separated short or full names, as the enum's names."""
    statuses = []
    for value in values if isinstance(values, list) else [values]:
        for name in filter(None, (part.strip() for part in str(value).split(","))):
            try:
                status = parse_status(name)
            except ValueError:
                raise ValueError(
                    f"{quote(name)} is not a status; use {', '.join(STATUS_NAMES)}"
                ) from None
            # The request message takes the enum's names as they are.
            statuses.append(experiment_pb2.ExperimentStatus.Name(status))
    return statuses


class ExperimentsQuery(Request):
    """`GET experiments`: a page of experiments, newest first, filtered."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    quotes_input: ClassVar[bool] = True

    page_size: Annotated[int | None, BeforeValidator(_empty_is_absent)] = Field(
        default=None, ge=1, le=MAX_PAGE_SIZE
    )
    page_token: str = Field(default="", description="`next_page_token` of a page.")
    status: Annotated[list[str], BeforeValidator(_statuses)] = Field(
        default_factory=list,
        description="Only these statuses (`running`, ...); repeat or comma-separate.",
    )
    pipeline: str = Field(default="", description="Only this pipeline's.")


class EventsQuery(Request):
    """`GET experiments/{id}/events`: where a live view starts."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    quotes_input: ClassVar[bool] = True

    after: Annotated[int | None, BeforeValidator(_empty_is_absent)] = Field(
        default=None,
        ge=0,
        le=MAX_SEQ,
        description="Send only the events after this `seq` (resuming).",
    )


# `scheduler.sweeps.search.MAX_TRIALS` and `scheduler.sweeps.plan.MAX_PARALLELISM`.
MAX_TRIALS = 1000
# Beyond any pipeline's epochs and any useful reduction; the scheduler checks them against the
# config's epochs.
MAX_GRACE_EPOCHS = 100_000
MAX_REDUCTION_FACTOR = 1000
MAX_PARALLELISM = 256
MAX_SEED = 2**64 - 1
WholeNumber = Annotated[int, BeforeValidator(_integral_is_whole), Field(strict=True)]


class SweepRequest(Request):
    """A part of a sweep's body; its problems are named by their path (`objective.mode`)."""

    @classmethod
    def refusal(cls, problem: ErrorDetails) -> ApiError | None:
        if len(problem["loc"]) < 2:
            return None
        path = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            return invalid(path, "unknown field")
        return invalid(path, problem["msg"])


class ObjectiveBody(SweepRequest):
    """What a sweep optimises: a metric of `epoch_ended` and whether lower or higher is better."""

    metric: Text = Field(min_length=1, description="A metric of EpochEnded.", examples=["val_loss"])
    mode: Literal["min", "max"] = Field(default="min", description="`min` or `max`.")


class AshaBody(SweepRequest):
    """ASHA: rungs at `grace_epochs`·`reduction_factor`^k epochs, each keeping the top 1/η."""

    grace_epochs: WholeNumber = Field(
        default=1, ge=1, le=MAX_GRACE_EPOCHS, description="The first rung, in epochs."
    )
    reduction_factor: WholeNumber = Field(
        default=3,
        ge=2,
        le=MAX_REDUCTION_FACTOR,
        description="η: each rung keeps the top 1/η of the trials there.",
    )


class EarlyStoppingBody(SweepRequest):
    """How trials that fall behind are stopped; leave out for never."""

    asha: AshaBody | None = None


class SweepSubmission(SweepRequest):
    """`POST sweeps`: a pipeline, a base config, a space to search, a budget and an objective.

    The scheduler checks the space against the pipeline's schema and answers a bad setting as
    a 422 naming it (`space.learning_rate`).
    """

    required: ClassVar[dict[str, str]] = {
        "pipeline": "is required: the name of an installed pipeline",
        "space": 'is required: e.g. {"learning_rate": {"loguniform": [0.0005, 0.05]}}',
        "objective": 'is required: e.g. {"metric": "val_loss", "mode": "min"}',
    }
    expected: ClassVar[dict[str, str]] = {
        "config": "must be a JSON object of the pipeline's settings",
        "space": "must be a JSON object of settings, each one of choice, uniform, loguniform, int",
        "objective": 'must be an object like {"metric": "val_loss", "mode": "min"}',
        "early_stopping": 'must be an object like {"asha": {"grace_epochs": 1}}',
    }

    pipeline: Text = Field(min_length=1, examples=["weather_forecaster"])
    config: Annotated[dict[str, Any], BeforeValidator(lambda v: v or {})] = Field(
        default_factory=dict,
        description="Settings every trial shares; its `epochs` is what a trial trains at most.",
        examples=[{"epochs": 9}],
    )
    space: dict[str, dict[str, Any]] = Field(
        description=(
            'Per setting, one of {"choice": [...]}, {"uniform": [lo, hi]}, {"loguniform": '
            '[lo, hi]}, {"int": [lo, hi]}.'
        ),
        examples=[
            {
                "learning_rate": {"loguniform": [0.0005, 0.05]},
                "hidden_size": {"choice": [4, 16, 32]},
            }
        ],
    )
    search: Literal["random", "grid"] = Field(
        default="random", description="`grid` takes choices and ints only."
    )
    seed: WholeNumber = Field(default=0, ge=0, le=MAX_SEED, description="Random search's seed.")
    max_trials: WholeNumber = Field(
        default=0, ge=0, le=MAX_TRIALS, description="How many trials; 0 runs a whole grid."
    )
    parallelism: WholeNumber = Field(
        default=1, ge=1, le=MAX_PARALLELISM, description="How many trials run at once."
    )
    objective: ObjectiveBody
    early_stopping: EarlyStoppingBody | None = None
    name: Text = Field(
        default="", description="What to call the sweep; its trials are named after it."
    )
