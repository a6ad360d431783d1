"""A sweep's search space: per setting, the values a trial may draw, checked against the schema.

A space is plain JSON, one entry per setting to vary:

    {"learning_rate": {"loguniform": [0.0005, 0.05]}, "hidden_size": {"choice": [4, 16, 32]},
     "dropout": {"uniform": [0, 0.5]}, "layers": {"int": [1, 4]}}

It is checked against the pipeline's config JSON Schema before anything is drawn, so that a
space that could draw a value the pipeline refuses is answered at once, naming the setting and
the rule (`space.learning_rate: loguniform needs lo > 0`), instead of as the third trial's
failure. What the schema says that is checked here: the setting exists, its `type` (a
`uniform` over an integer setting cannot be drawn), its `enum`, and its bounds (`minimum`,
`maximum` and the exclusive ones). `epochs` is not searchable: it is each trial's budget, and
ASHA's rungs are counted in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.errors import BadRequest, FieldError
from scheduler.quoting import quote, shorten

KINDS = ("choice", "uniform", "loguniform", "int")
BUDGET_SETTING = "epochs"
# A choice of more values than this is a typo or a list meant as a range.
MAX_CHOICES = 1000


@dataclass(frozen=True)
class Choice:
    """One of the listed values, each as likely."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Uniform:
    """A number between `low` and `high`; with `log`, uniform in its logarithm."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    """A whole number from `low` to `high`, both included."""

    low: int
    high: int


Dimension = Choice | Uniform | IntRange
Space = dict[str, Dimension]
"""Setting name -> what it may draw, by name: the grid's order and the order of random draws.

Not the order the user wrote them in: the space travels as a `google.protobuf.Struct`, a map
that keeps no order, and the same space must draw the same trials whoever sent it."""


def parse_space(raw: Mapping[str, Any], schema: Mapping[str, Any]) -> Space:
    """`raw` as a `Space`, every value it can draw checked against `schema`; else `BadRequest`
    with one field error per bad setting."""
    errors: list[FieldError] = []
    if not raw:
        raise BadRequest.field(
            "space",
            "missing",
            'space is empty: name at least one setting to vary, e.g. {"learning_rate": '
            '{"loguniform": [0.0005, 0.05]}}',
        )
    properties = schema.get("properties", {})
    space: Space = {}
    for name, spec in sorted(raw.items()):
        path = f"space.{shorten(name)}"
        try:
            space[name] = _dimension(name, path, spec, properties)
        except _Refused as refused:
            errors.append(FieldError(path, refused.rule, f"{path}: {refused}"))
    if errors:
        raise BadRequest(errors, "invalid space")
    return space


class _Refused(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def _dimension(name: str, path: str, spec: Any, properties: Mapping[str, Any]) -> Dimension:
    if name == BUDGET_SETTING:
        raise _Refused(
            "not_searchable",
            "epochs is each trial's budget (and ASHA counts its rungs in it): set it in "
            "config instead",
        )
    setting = properties.get(name)
    if not isinstance(setting, Mapping):
        known = ", ".join(sorted(k for k in properties if k != BUDGET_SETTING))
        raise _Refused(
            "unknown_setting", f"the pipeline has no setting {quote(name)}; it has {known}"
        )
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise _Refused(
            "space_kind",
            'must be one of {"choice": [...]}, {"uniform": [lo, hi]}, '
            '{"loguniform": [lo, hi]}, {"int": [lo, hi]}',
        )
    kind, values = next(iter(spec.items()))
    if kind == "choice":
        return _choice(values, setting)
    low, high = _bounds(kind, values)
    if kind == "int":
        if not (_is_int(low) and _is_int(high)):
            raise _Refused("int_type", f"int needs whole numbers, got [{low}, {high}]")
        dimension: Dimension = IntRange(int(low), int(high))
    else:
        if kind == "loguniform" and low <= 0:
            raise _Refused("loguniform_positive", f"loguniform needs lo > 0, got {low}")
        if setting.get("type") == "integer":
            raise _Refused(
                "type",
                f'{quote(name)} is a whole number; use {{"int": [lo, hi]}} or a choice',
            )
        dimension = Uniform(float(low), float(high), log=kind == "loguniform")
    for end in (low, high):
        _check_value(end, setting)
    return dimension


def _choice(values: Any, setting: Mapping[str, Any]) -> Choice:
    if not isinstance(values, list) or not values:
        raise _Refused("choice_empty", "choice needs a non-empty list of values")
    if len(values) > MAX_CHOICES:
        raise _Refused("too_long", f"choice takes at most {MAX_CHOICES} values, got {len(values)}")
    for value in values:
        _check_value(value, setting)
    return Choice(tuple(values))


def _bounds(kind: str, values: Any) -> tuple[float, float]:
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(_is_number(v) and math.isfinite(v) for v in values)
    ):
        raise _Refused("range", f"{kind} needs [lo, hi], two finite numbers")
    low, high = values
    if low > high:
        raise _Refused("range", f"{kind} needs lo <= hi, got [{low}, {high}]")
    return low, high


def _check_value(value: Any, setting: Mapping[str, Any]) -> None:
    """Refuse `value` when the setting's schema would: its type, enum and bounds."""
    shown = repr(value) if isinstance(value, str) else str(value)
    kind = setting.get("type")
    if kind is not None and not _has_type(value, kind):
        raise _Refused("type", f"{shorten(shown)} is not of the setting's type ({kind})")
    if "enum" in setting and value not in setting["enum"]:
        allowed = ", ".join(repr(v) for v in setting["enum"])
        raise _Refused("enum", f"{shorten(shown)} is not one of the allowed values: {allowed}")
    if not _is_number(value):
        return
    for key, rule, broken in (
        ("minimum", "greater_than_equal", lambda bound: value < bound),
        ("exclusiveMinimum", "greater_than", lambda bound: value <= bound),
        ("maximum", "less_than_equal", lambda bound: value > bound),
        ("exclusiveMaximum", "less_than", lambda bound: value >= bound),
    ):
        bound = setting.get(key)
        if _is_number(bound) and broken(bound):
            words = {
                "minimum": ">=",
                "exclusiveMinimum": ">",
                "maximum": "<=",
                "exclusiveMaximum": "<",
            }[key]
            raise _Refused(rule, f"{shown} is out of bounds: the setting must be {words} {bound}")


def _has_type(value: Any, kind: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    return any(
        (k == "integer" and _is_int(value))
        or (k == "number" and _is_number(value))
        or (k == "string" and isinstance(value, str))
        or (k == "boolean" and isinstance(value, bool))
        or (k == "null" and value is None)
        or k in ("array", "object")
        for k in kinds
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()
