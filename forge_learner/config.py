"""Pipeline config schemas: one typed declaration serves the CLI, the scheduler and the web form.

A pipeline declares its settings as a pydantic model that subclasses ``PipelineConfig``: each
field's type, default, bounds (``Field(ge=..., le=...)``), choices (``Literal[...]``) and help
text (``description=``). From that one declaration

- ``parse_config`` validates a submission (JSON from the web form, a ``Struct`` from gRPC) and
  raises ``ConfigError`` whose ``FieldError``\\ s name each bad field and the rule it broke;
- ``parse_config_strings`` does the same for the CLI's ``--set key=value`` strings;
- ``config_json_schema`` exports the JSON Schema that renders the web form, with the form's
  layout written into it (below);
- ``describe_config`` lists the fields for ``forge pipelines``.

The training settings every pipeline shares keep one name everywhere: ``epochs``,
``batch_size``, ``learning_rate``, ``seed``. A pipeline that wants another default for one
redeclares it with the shared type, which carries the bounds and the help text::

    class ForecasterConfig(PipelineConfig):
        epochs: Epochs = 50
        cell: Literal["lstm", "gru"] = Field(default="lstm", description="Recurrent layer type.")

The form's layout travels in the schema as extension keywords, which validators ignore:
``x-order`` lists the properties in declaration order (the schema reaches the browser as a
protobuf ``Struct``, whose maps keep no key order), each property has an ``x-group`` (one of
``x-groups``: Training, Data, Model, Split) and ``x-advanced: true`` when it is rarely changed and
the form folds it away. A config class says where its own fields go with the class variables
``field_groups`` and ``advanced_fields``, which add to its parents'; a field may instead carry
``json_schema_extra={"x-group": ..., "x-advanced": ...}`` itself, which wins. A field no class
places goes in a last group, "Other".

Configs are frozen: the settings a run reports are the settings it ran with. A nested group of
settings is a ``BaseModel`` field (``--set model.width=64`` reaches into it); give such a model
``ConfigDict(extra="forbid")`` too, so that a misspelt key there is an error as well.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from forge_learner.quoting import quote, shorten

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

Epochs = Annotated[int, Field(ge=1, le=100_000, description="Passes over the training data.")]
BatchSize = Annotated[int, Field(ge=1, le=1_000_000, description="Samples per optimizer step.")]
LearningRate = Annotated[float, Field(gt=0.0, le=10.0, description="The optimizer's step size.")]
Seed = Annotated[
    int,
    Field(
        ge=0,
        le=2**32 - 1,
        description="Seeds weights, shuffling and every other random draw; same seed, same run.",
    ),
]
CheckpointEvery = Annotated[
    int,
    Field(
        ge=1,
        le=100_000,
        description=(
            "Send a resume checkpoint to the scheduler every this many epochs: a run whose "
            "trainer dies loses at most the epochs since the last one."
        ),
    ),
]


class PipelineConfig(BaseModel):
    """The settings every pipeline shares; a pipeline's own config subclasses this one."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    field_groups: ClassVar[Mapping[str, str]] = {
        "epochs": "Training",
        "batch_size": "Training",
        "learning_rate": "Training",
        "seed": "Training",
        "checkpoint_every": "Training",
    }
    advanced_fields: ClassVar[frozenset[str]] = frozenset({"seed", "checkpoint_every"})

    epochs: Epochs = 10
    batch_size: BatchSize = 32
    learning_rate: LearningRate = 1e-3
    seed: Seed = 0
    checkpoint_every: CheckpointEvery = 1


ConfigT = TypeVar("ConfigT", bound=PipelineConfig)


@dataclass(frozen=True)
class FieldError:
    """One broken rule: ``field`` (a dotted path), ``rule`` (pydantic's error type), ``message``.

    ``rule`` is pydantic's stable error type (``greater_than_equal``, ``literal_error``,
    ``extra_forbidden``, ``int_parsing``, ...), for programs; ``message`` is for people and
    starts with the field, e.g. ``"epochs: must be at least 1, got 0"``.
    """

    field: str
    rule: str
    message: str


class ConfigError(ValueError):
    """A config that does not fit its schema; ``errors`` holds every broken rule."""

    def __init__(self, errors: Sequence[FieldError], schema_name: str = "config") -> None:
        self.errors = list(errors)
        self.schema_name = schema_name
        lines = "\n".join(f"  {error.message}" for error in self.errors)
        super().__init__(f"invalid {schema_name} ({len(self.errors)} error(s)):\n{lines}")


def parse_config(schema: type[ConfigT], raw: Mapping[str, Any]) -> ConfigT:
    """``raw`` validated against ``schema`` in pydantic's lax mode ("5" is read as 5).

    Raises ``ConfigError`` naming every bad field, including unknown ones.
    """
    try:
        return schema.model_validate(dict(raw))
    except ValidationError as error:
        raise _config_error(schema, error.errors()) from None


def parse_config_strings(schema: type[ConfigT], raw: Mapping[str, Any]) -> ConfigT:
    """Like ``parse_config``, for values typed as text (the CLI's ``--set``).

    Each value is first validated as the string it is, which lax mode reads as a number or a
    boolean where the field wants one. A value that fails that way and parses as JSON is
    tried as JSON, so ``n_layers=2`` fits ``Literal[1, 2]``, ``sizes=[32,16]`` a list and
    ``limit=null`` an optional field, while ``name=123`` stays the string ``"123"``.
    """
    values = nest_dotted(raw)
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        retried = False
        for detail in error.errors():
            path = _given_path(values, detail["loc"])
            if path is None or detail["type"] == "extra_forbidden":
                continue
            parsed = _json_or_none(_get(values, path))
            if parsed is not None:
                _set(values, path, parsed[0])
                retried = True
        if not retried:
            raise _config_error(schema, error.errors()) from None
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise _config_error(schema, error.errors()) from None


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["epochs=5", "model.width=64"]`` as ``{"epochs": "5", "model.width": "64"}``.

    Dotted keys reach into nested settings (``parse_config_strings`` nests them). A later
    assignment of a key wins, as a later flag does.
    """
    values: dict[str, str] = {}
    errors = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(
                FieldError(
                    field=key or item,
                    rule="assignment_syntax",
                    message=f"{item!r}: write KEY=VALUE, e.g. epochs=5",
                )
            )
            continue
        values[key] = value
    if errors:
        raise ConfigError(errors, "assignments")
    return values


FORM_GROUPS = ("Training", "Data", "Model", "Split")
OTHER_GROUP = "Other"


def config_json_schema(schema: type[PipelineConfig]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12, as pydantic writes it) that the web form renders.

    With the form's layout: ``x-order``, ``x-groups`` and each property's ``x-group`` and
    ``x-advanced`` (see the module's docstring).
    """
    json_schema = schema.model_json_schema()
    properties: dict[str, Any] = json_schema.get("properties", {})
    groups, advanced = _layout(schema)
    used: set[str] = set()
    for name, prop in properties.items():
        prop.setdefault("x-group", groups.get(name, OTHER_GROUP))
        prop.setdefault("x-advanced", name in advanced)
        used.add(prop["x-group"])
    order = [group for group in (*FORM_GROUPS, OTHER_GROUP) if group in used]
    order += sorted(used - set(order))
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **json_schema,
        "x-order": list(properties),
        "x-groups": order,
    }


def _layout(schema: type[PipelineConfig]) -> tuple[dict[str, str], set[str]]:
    """The groups and the advanced fields that ``schema`` and its parents declare."""
    groups: dict[str, str] = {}
    advanced: set[str] = set()
    for cls in reversed(schema.__mro__):
        own = vars(cls)
        groups.update(own.get("field_groups", {}))
        advanced |= set(own.get("advanced_fields", ()))
    return groups, advanced


@dataclass(frozen=True)
class ConfigField:
    """One setting as ``forge pipelines`` shows it, read from the JSON Schema."""

    name: str
    type: str
    default: Any
    required: bool
    bounds: str
    choices: tuple[Any, ...]
    help: str


def describe_config(schema: type[PipelineConfig]) -> list[ConfigField]:
    """Every field of ``schema`` in declaration order, with its type, default, bounds and help."""
    json_schema = schema.model_json_schema()
    required = set(json_schema.get("required", ()))
    return [
        ConfigField(
            name=name,
            type=_type_name(prop),
            default=prop.get("default"),
            required=name in required,
            bounds=_bounds(prop),
            choices=tuple(prop.get("enum", ())),
            help=prop.get("description", ""),
        )
        for name, prop in json_schema.get("properties", {}).items()
    ]


# ----- error messages -----

_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be greater than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
    "multiple_of": ("multiple_of", "must be a multiple of {}"),
    "literal_error": ("expected", "must be {}"),
}
_KINDS = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list, e.g. [1, 2]",
}


def _config_error(schema: type[BaseModel], details: Iterable[ErrorDetails]) -> ConfigError:
    return ConfigError([_field_error(schema, d) for d in details], schema.__name__)


def _field_error(schema: type[BaseModel], detail: ErrorDetails) -> FieldError:
    loc = detail["loc"]
    # Keys are the sender's: a 10,000-character one is named by its start.
    field = ".".join(shorten(str(part)) for part in loc) or "(config)"
    rule = detail["type"]
    ctx = detail.get("ctx") or {}
    got = f", got {_show(detail['input'])}"
    if rule in _BOUNDS and _BOUNDS[rule][0] in ctx:
        key, template = _BOUNDS[rule]
        text = template.format(ctx[key]) + got
    elif rule in _KINDS:
        text = _KINDS[rule] + got
    elif rule == "missing":
        text = "is required: give it a value"
    elif rule == "extra_forbidden":
        text = _unknown_field(schema, loc)
    else:
        message = detail["msg"].replace("Input should", "should")
        text = message[:1].lower() + message[1:] + got
    return FieldError(field=field, rule=rule, message=f"{field}: {text}")


def _unknown_field(schema: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    valid = sorted(_model_at(schema, loc[:-1]).model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}valid settings are {', '.join(valid)}"


def _model_at(schema: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel]:
    """The model that holds the field at ``loc`` (``schema`` unless the field is nested)."""
    model = schema
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = None if field is None else field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return model
        model = annotation
    return model


def _show(value: Any) -> str:
    return quote(value) if isinstance(value, str) else shorten(json.dumps(value, default=str))


# ----- strings from the CLI -----


def nest_dotted(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys (``model.width``) as nested dicts.

    A name given both a value and fields (``model=3`` beside ``model.width=4``, in either
    order) is a ``ConfigError`` naming it, rather than one silently replacing the other.
    """
    values: dict[str, Any] = {}
    for key, value in raw.items():
        *parents, last = key.split(".")
        node = values
        for depth, parent in enumerate(parents):
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                owner = ".".join(parents[: depth + 1])
                raise _clash(key, f"{owner} is set to a value and cannot have fields")
        if isinstance(node.get(last), dict):
            raise _clash(key, f"{key} has fields set and cannot be a value too")
        node[last] = value
    return values


def _clash(key: str, message: str) -> ConfigError:
    return ConfigError([FieldError(key, "dotted_key_clash", f"{key}: {message}")], "assignments")


def _given_path(values: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[str, ...] | None:
    """The path of the given string that the error at ``loc`` is about, if any."""
    node: Any = values
    path: list[str] = []
    for part in loc:
        if not isinstance(node, dict) or str(part) not in node:
            return None
        path.append(str(part))
        node = node[str(part)]
        if isinstance(node, str):
            return tuple(path)
    return None


def _get(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for part in path:
        node = node[part]
    return node


def _set(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = values
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _json_or_none(text: str) -> tuple[Any] | None:
    """``(value,)`` when ``text`` is JSON other than a plain string, else None."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return None if isinstance(value, str) else (value,)


# ----- JSON Schema, for people -----


def _type_name(prop: Mapping[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_type_name(option) for option in prop["anyOf"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type", "any")
    if kind == "array" and "items" in prop:
        return f"list of {_type_name(prop['items'])}"
    return {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}.get(
        kind, str(kind)
    )


def _bounds(prop: Mapping[str, Any]) -> str:
    signs = {
        "minimum": ">=",
        "exclusiveMinimum": ">",
        "maximum": "<=",
        "exclusiveMaximum": "<",
        "minLength": "length >=",
        "maxLength": "length <=",
        "minItems": "items >=",
        "maxItems": "items <=",
    }
    return ", ".join(f"{sign} {prop[key]}" for key, sign in signs.items() if key in prop)
