"""A config checked against the JSON Schema its pipeline's trainers announced, with no engine.

Trainers build each pipeline's schema from its typed config (pydantic, `forge_learner.config`)
and announce it when they register; the scheduler checks submissions against it with the
`jsonschema` library, so that it needs no pipeline installed. The answers are the ones the
typed config itself would give, so that moving the check changed nothing a user sees:

- Lax values, as pydantic's lax mode reads them: where the schema wants an integer, a number
  or a boolean, a string that reads as one is taken as one (`"4"` is 4, `"true"` is true), 0
  and 1 are booleans where a boolean is wanted and booleans 0 and 1 where a number is; a
  choice (`enum`) is matched as given (`lax_values`).
- One `FieldError` per broken rule, named by its path in the config and by pydantic's rule
  names (`greater_than_equal`, `extra_forbidden`, `literal_error`, `int_parsing`, ...), each
  unknown key on its own, in the schema's order of settings (`config_errors`).
- The config completed: every default filled in, in the schema's order (`x-order`), integers
  as ints and numbers as floats (`completed_config`), so that an experiment records exactly
  the settings it runs with.

Dates (`"format": "date"`) are checked too, as `YYYY-MM-DD`. A schema travels as a
`google.protobuf.Struct`, whose numbers are all doubles; `schema_from_struct` gives whole
numbers back as ints, and a bound of a float setting is written as a float again ("at least
1" for epochs, "greater than 0.0" for a learning rate). Rules a JSON Schema cannot state (a
pydantic validator relating two settings, such as a folder required for one data source) are
not checked here: the trainer checks them when the run starts, and the run fails naming them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import deepcopy
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from scheduler.errors import FieldError
from scheduler.quoting import quote, shorten

ORDER_KEY = "x-order"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})

JsonSchema = Mapping[str, Any]
# The formats a pipeline's typed config checks: pydantic writes `"format": "date"` for a date.
FORMATS = FormatChecker(["date"])


def schema_from_struct(schema: Any) -> Any:
    """`schema` (JSON, as a Struct gave it) with its whole numbers as ints."""
    if isinstance(schema, float) and schema.is_integer():
        return int(schema)
    if isinstance(schema, dict):
        return {key: schema_from_struct(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [schema_from_struct(value) for value in schema]
    return schema


def schema_problem(schema: JsonSchema) -> str | None:
    """Why `schema` is not a JSON Schema (draft 2020-12) for a config object, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        return f"not a JSON Schema (draft 2020-12): {shorten(error.message)}"
    if schema.get("type") != "object":
        return 'not of an object: a config schema has "type": "object"'
    outside = next(_outside_references(schema), None)
    if outside is not None:
        return f"referring outside itself ({quote(outside)}): a config schema is self-contained"
    return None


def _outside_references(node: Any) -> Iterator[str]:
    """Every `$ref` in `node` to anything but a part of the schema itself (`#/...`)."""
    if isinstance(node, Mapping):
        reference = node.get("$ref")
        if isinstance(reference, str) and not reference.startswith("#"):
            yield reference
        for value in node.values():
            yield from _outside_references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _outside_references(value)


def lax_values(schema: JsonSchema, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each string, 0 or 1 read as the scalar the schema wants there, if it is one.

    Anything that does not read as what is wanted is left as it is, for `config_errors` to name.
    """
    lax = _lax(values, schema, schema)
    return lax if isinstance(lax, dict) else values


def config_errors(schema: JsonSchema, values: Mapping[str, Any]) -> list[FieldError]:
    """Every rule of `schema` that `values` break, named `config.<path>`, in settings order."""
    found: dict[tuple[str, str], FieldError] = {}
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    for error in validator.iter_errors(values):
        for field_error in _field_errors(error, schema):
            found.setdefault((field_error.field, field_error.rule), field_error)
    # A choice of the wrong type is one mistake, a wrong choice, as pydantic counts it.
    chosen = {field for field, rule in found if rule == "literal_error"}
    found = {
        key: error
        for key, error in found.items()
        if not (key[0] in chosen and key[1] != "literal_error")
    }
    order = _order(schema, schema)
    rank = {name: position for position, name in enumerate(order)}

    def position(error: FieldError) -> tuple[int, str]:
        top = error.field.split(".")[1] if error.field.count(".") else ""
        return rank.get(top, len(rank)), error.field

    return sorted(found.values(), key=position)


def completed_config(schema: JsonSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    """Valid `values` with every default filled in, in the schema's order and types."""
    completed = _completed(dict(values), schema, schema)
    assert isinstance(completed, dict)
    return completed


# ----- following the schema -----


def _resolved(node: Any, root: JsonSchema) -> dict[str, Any]:
    """`node` with a local `$ref` (`#/$defs/Name`) replaced by its target, siblings kept."""
    if not isinstance(node, Mapping):
        return {}
    node = dict(node)
    seen = 0
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and seen < 32:
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            target = target.get(key) if isinstance(target, Mapping) else None
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**(target if isinstance(target, Mapping) else {}), **siblings}
        seen += 1
    return node


def _options(node: Mapping[str, Any], root: JsonSchema) -> list[dict[str, Any]]:
    return [_resolved(option, root) for option in node.get("anyOf", node.get("oneOf", ()))]


def _has_type(value: Any, kind: Any) -> bool:
    """Whether `value` is of the JSON Schema `type` `kind` (no type: anything is)."""
    if isinstance(kind, list):
        return any(_has_type(value, one) for one in kind)
    match kind:
        case None:
            return True
        case "null":
            return value is None
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and float(value).is_integer()
            )
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "string":
            return isinstance(value, str)
        case "array":
            return isinstance(value, list)
        case "object":
            return isinstance(value, dict)
    return False


def _order(node: Mapping[str, Any], root: JsonSchema) -> list[str]:
    properties = node.get("properties")
    names = list(properties) if isinstance(properties, Mapping) else []
    listed = node.get(ORDER_KEY)
    order = [name for name in listed if name in names] if isinstance(listed, list) else []
    return order + [name for name in names if name not in order]


# ----- lax values -----


class _Unread:
    """What a value that does not read as the wanted scalar becomes: nothing."""


UNREAD = _Unread()


def _lax(value: Any, node: Any, root: JsonSchema) -> Any:
    schema = _resolved(node, root)
    options = _options(schema, root)
    if options:
        fitting = next((option for option in options if _has_type(value, option.get("type"))), None)
        if fitting is not None:
            return _lax(value, fitting, root)
        for option in options:
            read = _scalar(value, option.get("type"))
            if not isinstance(read, _Unread):
                return read
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return value
        return {
            key: _lax(item, properties[key], root) if key in properties else item
            for key, item in value.items()
        }
    if isinstance(value, list):
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items")
        return [
            _lax(item, prefix[index] if index < len(prefix) else items, root)
            for index, item in enumerate(value)
        ]
    if "enum" in schema or "const" in schema:
        return value  # a choice is matched as given, as pydantic matches a Literal
    read = _scalar(value, schema.get("type"))
    return value if isinstance(read, _Unread) else read


def _scalar(value: Any, kind: Any) -> Any:
    """`value` read as the scalar type `kind`, as pydantic's lax mode reads it; else UNREAD."""
    if kind == "boolean":
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value)
        return UNREAD
    if kind not in ("integer", "number"):
        return UNREAD
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return UNREAD
    try:
        number = float(value.strip())
    except ValueError:
        return UNREAD
    if number != number or number in (float("inf"), float("-inf")):
        return UNREAD
    if kind == "integer":
        return int(number) if number.is_integer() else UNREAD
    return number


# ----- errors -----

_BOUNDS = {
    "minimum": ("greater_than_equal", "must be at least {}"),
    "exclusiveMinimum": ("greater_than", "must be greater than {}"),
    "maximum": ("less_than_equal", "must be at most {}"),
    "exclusiveMaximum": ("less_than", "must be less than {}"),
    "multipleOf": ("multiple_of", "must be a multiple of {}"),
}
# Lengths, worded as pydantic words them: (rule, what, at least or at most, unit).
_LENGTHS = {
    "minLength": ("string_too_short", "string", "at least", "character"),
    "maxLength": ("string_too_long", "string", "at most", "character"),
    "minItems": ("too_short", "list", "at least", "item"),
    "maxItems": ("too_long", "list", "at most", "item"),
}
# For each JSON type: pydantic's rule for a wrong value (a string that does not read as a
# number is `*_parsing`), and what to say.
_TYPES = {
    "integer": ("int_type", "int_parsing", "must be a whole number"),
    "number": ("float_type", "float_parsing", "must be a number"),
    "boolean": ("bool_type", "bool_parsing", "must be true or false"),
    "string": ("string_type", "string_type", "must be text"),
    "array": ("list_type", "list_type", "must be a list, e.g. [1, 2]"),
    "object": ("model_type", "model_type", "must be an object of settings"),
    "null": ("none_required", "none_required", "must be null"),
}


def _field_errors(error: ValidationError, root: JsonSchema) -> Iterable[FieldError]:
    path = [shorten(str(part)) for part in error.absolute_path]
    keyword = error.validator
    instance = error.instance
    node = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = _order(_resolved(node, root), root)
        for key in instance:
            if key not in known:
                yield _error([*path, shorten(str(key))], "extra_forbidden", _unknown(key, known))
        return
    required = error.validator_value
    if keyword == "required" and isinstance(instance, dict) and isinstance(required, list):
        for name in required:
            if name not in instance:
                yield _error([*path, shorten(str(name))], "missing", "is required: give it a value")
        return
    if keyword in ("anyOf", "oneOf") and error.context:
        yield from _field_errors(_closest(error.context, instance, root), root)
        return
    yield _error(path, *_rule(str(keyword), error.validator_value, instance, node))


def _closest(errors: Sequence[ValidationError], instance: Any, root: JsonSchema) -> ValidationError:
    """Of the errors of a union's options, the one of the option of the value's own type.

    `""` for an optional text of at least one character is too short, not "not null".
    """
    for error in errors:
        option = _resolved(error.schema, root)
        if error.validator != "type" and _has_type(instance, option.get("type")):
            return error
    typed = [
        error for error in errors if error.validator == "type" and error.validator_value != "null"
    ]
    return (typed or list(errors))[0]


def _rule(keyword: str, expected: Any, got: Any, node: Mapping[str, Any]) -> tuple[str, str]:
    shown = f", got {_show(got)}"
    if keyword in _BOUNDS:
        rule, template = _BOUNDS[keyword]
        # A float setting's bound reads as a float ("0.0"), as its declaration wrote it.
        bound = float(expected) if node.get("type") == "number" else expected
        return rule, template.format(bound) + shown
    if keyword in _LENGTHS:
        rule, what, side, unit = _LENGTHS[keyword]
        units = unit if expected == 1 else f"{unit}s"
        text = f"{what} should have {side} {expected} {units}"
        if what == "list" and isinstance(got, list):
            text += f" after validation, not {len(got)}"
        return rule, text + shown
    if keyword == "format":
        rule = "date_from_datetime_parsing" if expected == "date" else "format"
        return rule, f"should be a valid {expected}, e.g. 2024-01-31" + shown
    if keyword == "pattern":
        return "string_pattern_mismatch", f"string should match pattern {_show(expected)}" + shown
    if keyword == "type":
        kind = expected[0] if isinstance(expected, list) and expected else expected
        if kind == "object" and "title" in node:
            return "model_type", (
                f"should be a valid dictionary or instance of {node['title']}" + shown
            )
        wrong, parsing, text = _TYPES.get(
            str(kind), ("type_error", "type_error", f"must be {kind}")
        )
        if isinstance(got, float) and kind == "integer":
            return "int_from_float", text + shown
        read = isinstance(got, str) or (kind == "boolean" and isinstance(got, int | float))
        return (parsing if read else wrong), text + shown
    if keyword in ("enum", "const"):
        choices = list(expected) if keyword == "enum" else [expected]
        return "literal_error", f"must be {_either(choices)}" + shown
    return keyword, f"breaks the schema's rule {keyword!r}" + shown


def _error(path: Sequence[str], rule: str, text: str) -> FieldError:
    named = ".".join(path) or "(config)"
    field = ".".join(["config", *path])
    return FieldError(field, rule, f"{named}: {text}")


def _unknown(key: Any, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}valid settings are {', '.join(sorted(known))}"


def _either(choices: Sequence[Any]) -> str:
    shown = [_show(choice) for choice in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _show(value: Any) -> str:
    return quote(value) if isinstance(value, str) else shorten(json.dumps(value, default=str))


# ----- completing a valid config -----


def _completed(value: Any, node: Any, root: JsonSchema) -> Any:
    schema = _resolved(node, root)
    options = _options(schema, root)
    if options:
        fitting = next((option for option in options if _has_type(value, option.get("type"))), {})
        return _completed(value, fitting, root)
    kind = schema.get("type")
    if isinstance(value, dict) and isinstance(schema.get("properties"), Mapping):
        properties = schema["properties"]
        completed: dict[str, Any] = {}
        for name in _order(schema, root):
            if name in value:
                completed[name] = _completed(value[name], properties[name], root)
            elif "default" in (prop := _resolved(properties[name], root)):
                completed[name] = _completed(deepcopy(prop["default"]), prop, root)
        completed.update({key: item for key, item in value.items() if key not in completed})
        return completed
    if isinstance(value, list) and kind == "array":
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        return [
            _completed(item, prefix[index] if index < len(prefix) else schema.get("items"), root)
            for index, item in enumerate(value)
        ]
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
