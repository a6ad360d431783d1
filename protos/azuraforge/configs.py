"""A config as its pipeline's JSON Schema types it: ints as ints, in the schema's order.

Configs travel as `google.protobuf.Struct`, which is plain JSON to a grpcurl user but carries
every number as a double and its keys as a map, so `{"epochs": 3, "channels": [8, 16]}` comes
out the other end as `{"channels": [8.0, 16.0], "epochs": 3.0}`, in any order. The pipeline's
config schema says what each setting is and, in `x-order`, their order (the schema itself
travels as a Struct too), so a client that shows a config puts it back with `typed_config`: the
gateway for the REST API, the `forge` CLI for `forge experiments show`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ORDER_KEY = "x-order"


def typed_config(config: Mapping[str, Any], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """`config` with the types and order `schema` gives its settings; others after, as they are.

    A whole number where the schema wants an integer becomes an int; a setting the schema does
    not describe keeps its value and comes after the described ones.
    """
    properties = _properties(schema)
    order = _order(schema, properties)
    typed = {name: _typed(config[name], properties[name]) for name in order if name in config}
    typed.update({name: value for name, value in config.items() if name not in typed})
    return typed


def _typed(value: Any, schema: Any) -> Any:
    if not isinstance(schema, Mapping):
        return value
    for option in schema.get("anyOf", ()):  # Optional settings: `{"anyOf": [{...}, null]}`
        if _fits(value, option):
            return _typed(value, option)
    kind = schema.get("type")
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "array" and isinstance(value, list):
        return [_typed(item, schema.get("items")) for item in value]
    if kind == "object" and isinstance(value, Mapping):
        return typed_config(value, schema)
    return value


def _fits(value: Any, schema: Any) -> bool:
    """Whether `value` has the JSON type `schema` names (no type: anything)."""
    if not isinstance(schema, Mapping) or "type" not in schema:
        return True
    kind = schema["type"]
    if value is None:
        return kind == "null"
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int | float):
        return kind == "number" or (kind == "integer" and float(value).is_integer())
    if isinstance(value, str):
        return kind == "string"
    if isinstance(value, list):
        return kind == "array"
    return kind == "object"


def _properties(schema: Mapping[str, Any] | None) -> Mapping[str, Any]:
    properties = (schema or {}).get("properties")
    return properties if isinstance(properties, Mapping) else {}


def _order(schema: Mapping[str, Any] | None, properties: Mapping[str, Any]) -> list[str]:
    listed = (schema or {}).get(ORDER_KEY)
    order = [name for name in listed if name in properties] if isinstance(listed, list) else []
    return order + [name for name in properties if name not in order]
