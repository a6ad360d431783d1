"""The OpenAPI 3.1 document of the REST API and its WebSockets, served at `/api/v1/openapi.json`.

The paths are written here by hand, next to nothing else, so that each route says in one place
what it takes and answers; `tests/gateway/test_openapi.py` checks them against the app's real
router, so a route cannot be added or removed without its description. The bodies' schemas are
not written by hand: what the routes answer with is derived from the `.proto` messages, in the
protobuf JSON form the gateway writes (`gateway.json_form`), and what they take (bodies and query
parameters) from the pydantic models that check it (`gateway.routes.bodies`), so neither can
drift from what the code does.
WebSocket routes appear as the `GET` that upgrades, with their messages described in words.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from azuraforge.v1 import auth_pb2, events_pb2, experiment_pb2, scheduler_pb2, sweep_pb2
from gateway.routes import API
from gateway.routes.bodies import (
    EventsQuery,
    ExperimentsQuery,
    LoginForm,
    NewUser,
    PredictionInputs,
    Rename,
    Request,
    Submission,
    SweepSubmission,
)

openapi_routes = web.RouteTableDef()

# The protobuf stubs type a descriptor as either the pure-Python class or upb's, which share
# what is read here but no base class; these names say which kind of descriptor is meant.
MessageDescriptor = Any
FieldDescriptorT = Any
EnumDescriptor = Any

OPENAPI_VERSION = "3.1.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The messages the routes answer with; the schemas of the messages they hold come along.
ROOT_MESSAGES: tuple[type[Message], ...] = (
    auth_pb2.LoginResponse,
    auth_pb2.User,
    scheduler_pb2.ListPipelinesResponse,
    scheduler_pb2.ListExperimentsResponse,
    experiment_pb2.Experiment,
    scheduler_pb2.PredictResponse,
    events_pb2.ExperimentEvent,
    experiment_pb2.ExperimentStatusChanged,
    sweep_pb2.Sweep,
    sweep_pb2.ListSweepsResponse,
    sweep_pb2.SweepEvent,
)
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
}
_FD = FieldDescriptor
SCALARS: dict[int, dict[str, Any]] = {
    _FD.TYPE_DOUBLE: {"type": "number"},
    _FD.TYPE_FLOAT: {"type": "number"},
    _FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    _FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _FD.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    _FD.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    # 64-bit integers are numbers where JavaScript reads them exactly, else strings.
    _FD.TYPE_INT64: {"type": ["integer", "string"], "format": "int64"},
    _FD.TYPE_SINT64: {"type": ["integer", "string"], "format": "int64"},
    _FD.TYPE_SFIXED64: {"type": ["integer", "string"], "format": "int64"},
    _FD.TYPE_UINT64: {"type": ["integer", "string"], "format": "uint64"},
    _FD.TYPE_FIXED64: {"type": ["integer", "string"], "format": "uint64"},
    _FD.TYPE_BOOL: {"type": "boolean"},
    _FD.TYPE_STRING: {"type": "string"},
    _FD.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}


@openapi_routes.get(f"{API}/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())


@functools.cache
def document() -> dict[str, Any]:
    """The whole document; built once, it depends on nothing but this code and the protos."""
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "info": {
            "title": "AzuraForge API",
            "version": "v1",
            "description": (
                "Train neural networks and watch them learn, live. Log in with "
                f"`POST {API}/auth/token` and send the token as `Authorization: Bearer <token>`. "
                'Errors are `{"error": {"code", "message", "details"}}`; a 422\'s `details` '
                "name each bad field. Messages are the protobuf JSON form of the "
                "`azuraforge.v1` messages with their `.proto` field names."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "schemas": {**message_schemas(ROOT_MESSAGES), **_request_schemas()},
            "responses": _error_responses(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "password": {
                    "type": "oauth2",
                    "flows": {"password": {"tokenUrl": f"{API}/auth/token", "scopes": {}}},
                },
            },
        },
    }


def _paths() -> dict[str, Any]:
    experiment_id = _path_parameter("experiment_id", "The experiment's id.")
    return {
        f"{API}/auth/token": {
            "post": {
                "operationId": "issueToken",
                "summary": "Log in: exchange a username and password for an access token",
                "description": "An OAuth2 password grant; the form fields or the same as JSON.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _ref("LoginForm")},
                        "application/json": {"schema": _ref("LoginForm")},
                    },
                },
                "responses": {
                    "200": _json("The token; send it as `Authorization: Bearer`.", "LoginResponse"),
                    **_errors("400", "401", "422", "429", "503"),
                },
            }
        },
        f"{API}/auth/me": {
            "get": {
                "operationId": "whoAmI",
                "summary": "The user the token stands for",
                "responses": {"200": _json("The caller.", "User"), **_errors("401", "503")},
            }
        },
        f"{API}/users": {
            "post": {
                "operationId": "createUser",
                "summary": "Add an account (admins only)",
                "requestBody": _json_body("NewUser"),
                "responses": {
                    "201": _json("The new account.", "User"),
                    **_errors("400", "401", "403", "409", "413", "422", "503"),
                },
            }
        },
        f"{API}/pipelines": {
            "get": {
                "operationId": "listPipelines",
                "summary": "The pipelines live trainers run, each with its config's JSON Schema",
                "responses": {
                    "200": _json("The pipelines.", "ListPipelinesResponse"),
                    **_errors("401", "503"),
                },
            }
        },
        f"{API}/experiments": {
            "post": {
                "operationId": "submitExperiment",
                "summary": "Submit an experiment: a pipeline, its config, how often to restart it",
                "requestBody": _json_body("Submission"),
                "responses": {
                    "201": {
                        **_json("The experiment, pending.", "Experiment"),
                        "links": _experiment_links(),
                    },
                    **_errors("400", "401", "413", "422", "503"),
                },
            },
            "get": {
                "operationId": "listExperiments",
                "summary": "Your experiments (everyone's for an admin), newest first",
                "parameters": query_parameters(ExperimentsQuery),
                "responses": {
                    "200": _json("A page of experiments.", "ListExperimentsResponse"),
                    **_errors("401", "422", "503"),
                },
            },
        },
        f"{API}/experiments/{{experiment_id}}": {
            "get": {
                "operationId": "getExperiment",
                "summary": "One experiment",
                "parameters": [experiment_id],
                "responses": {
                    "200": _json("The experiment.", "Experiment"),
                    **_errors("401", "404", "503"),
                },
            },
            "patch": {
                "operationId": "renameExperiment",
                "summary": "Rename an experiment, or clear its name with an empty one",
                "parameters": [experiment_id],
                "requestBody": _json_body("Rename"),
                "responses": {
                    "200": _json("The experiment, renamed.", "Experiment"),
                    **_errors("400", "401", "404", "413", "422", "503"),
                },
            },
        },
        f"{API}/experiments/{{experiment_id}}/cancel": {
            "post": {
                "operationId": "cancelExperiment",
                "summary": "Cancel a pending experiment, or stop a running one within seconds",
                "parameters": [experiment_id],
                "responses": {
                    "200": _json("The experiment.", "Experiment"),
                    **_errors("401", "404", "409", "503"),
                },
            }
        },
        f"{API}/experiments/{{experiment_id}}/predictions": {
            "post": {
                "operationId": "predict",
                "summary": "Predict with a succeeded experiment's model",
                "description": (
                    "JSON `{}` asks for the pipeline's default (a forecaster forecasts the "
                    '`horizon` steps after its data); `{"inputs": ...}` sends the model\'s '
                    "inputs (a forecaster: `lookback` rows, oldest first; an image classifier: "
                    "images as rows of pixel values at the training resolution). A multipart "
                    "form sends PNG or JPEG files as `image` fields to an image classifier. "
                    "The `prediction`'s `kind` says its shape (`forecast` or "
                    "`classification`); docs/api.md#predictions has both."
                ),
                "parameters": [experiment_id],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {"schema": _ref("PredictionInputs")},
                        "multipart/form-data": {"schema": _ref("PredictionImages")},
                    },
                },
                "responses": {
                    "200": _json("The model's answer.", "PredictResponse"),
                    **_errors("400", "401", "404", "409", "413", "422", "503"),
                },
            }
        },
        f"{API}/experiments/{{experiment_id}}/report": {
            "get": {
                "operationId": "getReport",
                "summary": "The run's report, as markdown",
                "parameters": [experiment_id],
                "responses": {
                    "200": {
                        "description": "`report.md`.",
                        "content": {"text/markdown": {"schema": {"type": "string"}}},
                    },
                    "304": {"description": "Unchanged since the `ETag` sent."},
                    **_errors("401", "404", "503"),
                },
            }
        },
        f"{API}/experiments/{{experiment_id}}/artifacts/{{name}}": {
            "get": {
                "operationId": "getArtifact",
                "summary": "A file the run wrote (`loss.png`, `checkpoints/best.npz`, ...)",
                "parameters": [
                    experiment_id,
                    _path_parameter("name", "The artifact's path in the run, `/`s included."),
                    _query("download", {"type": "string"}, "Any value: save, do not show."),
                ],
                "responses": {
                    "200": {
                        "description": "The file, with its type, size and SHA-256 `ETag`.",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "304": {"description": "Unchanged since the `ETag` sent."},
                    **_errors("401", "404", "503"),
                },
            }
        },
        f"{API}/experiments/{{experiment_id}}/events": {
            "get": {
                "operationId": "watchExperiment",
                "summary": "WebSocket: the experiment's events, history then live",
                "description": (
                    "Upgrade to a WebSocket. Each text message is one `ExperimentEvent`. "
                    "Send the token as the subprotocols `azuraforge.v1` and `bearer.<token>`, "
                    'the `Authorization` header, or a first message `{"token": "..."}`. '
                    "Closes with 1000 after the last event, 4401 for a bad or expired token, "
                    "4404, 4429 when too slow, 4503 without the scheduler: resume with `after`. "
                    "After an `experiment_resumed` event (the run was lost and placed again), "
                    "an `epoch_ended` supersedes an earlier one with the same `epoch`, and "
                    "earlier ones past its `from_epoch` are void: keep one point per epoch, "
                    "the latest."
                ),
                "parameters": [experiment_id, *query_parameters(EventsQuery)],
                "responses": {
                    "101": _websocket("ExperimentEvent"),
                    **_errors("400", "403", "422"),
                },
            }
        },
        f"{API}/events": {
            "get": {
                "operationId": "watchExperiments",
                "summary": "WebSocket: status changes of your experiments, for list pages",
                "description": (
                    "Upgrade to a WebSocket. Each text message is one `ExperimentStatusChanged`; "
                    "authentication and close codes as for an experiment's events."
                ),
                "responses": {
                    "101": _websocket("ExperimentStatusChanged"),
                    **_errors("400", "403"),
                },
            }
        },
        **_sweep_paths(),
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Whether this gateway can serve: up, and its scheduler answering",
                "description": "For load balancers and probes; asks the scheduler's health check.",
                "security": [],
                "responses": {
                    "200": _json("The scheduler is serving.", "Health"),
                    "503": _json(
                        "The scheduler is not serving (`not_serving`) or not answering "
                        "(`unreachable`).",
                        "Health",
                    ),
                },
            }
        },
        f"{API}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def message_schemas(roots: tuple[type[Message], ...]) -> dict[str, dict[str, Any]]:
    """JSON Schemas of the messages `roots` and every message they hold, by short name."""
    schemas: dict[str, dict[str, Any]] = {}
    pending = [root.DESCRIPTOR for root in roots]
    while pending:
        message = pending.pop()
        if message.name in schemas or message.full_name in WELL_KNOWN:
            continue
        properties = {}
        for field in message.fields:
            properties[field.name] = _field_schema(field)
            nested = _held_message(field)
            if nested is not None:
                pending.append(nested)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        choices = [
            "At most one of " + ", ".join(f"`{field.name}`" for field in oneof.fields) + " is set."
            for oneof in message.oneofs
        ]
        if choices:
            schema["description"] = " ".join(choices)
        schemas[message.name] = schema
    return dict(sorted(schemas.items()))


def _field_schema(field: FieldDescriptorT) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single_schema(value)}
    schema = _single_schema(field)
    return {"type": "array", "items": schema} if field.is_repeated else schema


def _single_schema(field: FieldDescriptorT) -> dict[str, Any]:
    if field.enum_type is not None:
        return _enum_schema(field.enum_type)
    if field.message_type is not None:
        known = WELL_KNOWN.get(field.message_type.full_name)
        return dict(known) if known is not None else _ref(field.message_type.name)
    return dict(SCALARS[field.type])


def _held_message(field: FieldDescriptorT) -> MessageDescriptor | None:
    message = field.message_type
    if message is None:
        return None
    if message.GetOptions().map_entry:
        return message.fields_by_name["value"].message_type
    return message


def request_schema(model: type[Request]) -> dict[str, Any]:
    """The JSON Schema of what a route takes, from its model (`gateway.routes.bodies`).

    Trimmed for readers and generators: no titles, and a field that may be null reads as the
    value it holds, since leaving it out is the way to say nothing.
    """
    schema = _plain(model.model_json_schema())
    if model.model_config.get("extra") == "forbid":
        schema["additionalProperties"] = False
    return {key: schema[key] for key in sorted(schema) if key != "description"}


def query_parameters(model: type[Request]) -> list[dict[str, Any]]:
    """The query parameters a route takes, one per field of its model."""
    schema = request_schema(model)
    parameters = []
    for name, field_schema in schema["properties"].items():
        description = field_schema.pop("description", "")
        if field_schema.get("type") == "array":
            parameters.append({**_query(name, field_schema, description), "explode": True})
        else:
            parameters.append(_query(name, field_schema, description))
    return parameters


def _plain(node: Any) -> Any:
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if not isinstance(node, dict):
        return node
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        (held,) = (option for option in options if option != {"type": "null"})
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
        return _plain({**held, **rest})
    return {key: _plain(value) for key, value in node.items() if key != "title"}


def _enum_schema(enum: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [value.name for value in enum.values]}


def _hoisted(schema: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """`schema` and the models it nests, each a component of its own: pydantic keeps them in
    `$defs` and refers to `#/$defs/...`, which an OpenAPI document reads from its root."""
    definitions = schema.pop("$defs", {})
    schemas = {name: schema, **definitions}
    for model in definitions.values():
        if model.get("type") == "object":
            model["additionalProperties"] = False
    return _relinked(schemas)


def _relinked(node: Any) -> Any:
    if isinstance(node, list):
        return [_relinked(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: value.replace("#/$defs/", "#/components/schemas/")
        if key == "$ref" and isinstance(value, str)
        else _relinked(value)
        for key, value in node.items()
    }


def _request_schemas() -> dict[str, dict[str, Any]]:
    return {
        **{
            model.__name__: request_schema(model)
            for model in (LoginForm, NewUser, Submission, Rename, PredictionInputs)
        },
        **_hoisted(request_schema(SweepSubmission), "SweepSubmission"),
        "PredictionImages": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {
                    "type": "array",
                    "items": {"type": "string", "format": "binary"},
                    "description": "PNG or JPEG files, one per `image` field.",
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "scheduler"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "scheduler": {
                    "type": "string",
                    "enum": ["serving", "not_serving", "unreachable"],
                },
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string", "examples": ["invalid_argument"]},
                        "message": {"type": "string"},
                        "details": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string", "examples": ["config.epochs"]},
                                    "rule": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                }
            },
        },
    }


def _sweep_paths() -> dict[str, Any]:
    sweep_id = _path_parameter("sweep_id", "The sweep's id.")
    return {
        f"{API}/sweeps": {
            "post": {
                "operationId": "submitSweep",
                "summary": "Start a sweep: search a pipeline's settings, with ASHA early stopping",
                "description": (
                    "Each trial is an experiment named `<name> #<n>`. A bad space is a 422 "
                    "naming the setting (`space.learning_rate`) and the rule."
                ),
                "requestBody": _json_body("SweepSubmission"),
                "responses": {
                    "201": {
                        **_json("The sweep, running.", "Sweep"),
                        "links": {
                            operation[0].upper() + operation[1:]: {
                                "operationId": operation,
                                "parameters": {"sweep_id": "$response.body#/sweep_id"},
                            }
                            for operation in ("getSweep", "cancelSweep", "watchSweep")
                        },
                    },
                    **_errors("400", "401", "413", "422", "503"),
                },
            },
            "get": {
                "operationId": "listSweeps",
                "summary": "Your sweeps (everyone's for an admin), newest first",
                "parameters": [
                    _query("page_size", {"type": "integer", "minimum": 1, "maximum": 500}),
                    _query("page_token", {"type": "string"}, "`next_page_token` of a page."),
                ],
                "responses": {
                    "200": _json("A page of sweeps, without rung histories.", "ListSweepsResponse"),
                    **_errors("401", "422", "503"),
                },
            },
        },
        f"{API}/sweeps/{{sweep_id}}": {
            "get": {
                "operationId": "getSweep",
                "summary": "One sweep: its status, trials with their rungs, and the best trial",
                "parameters": [sweep_id],
                "responses": {"200": _json("The sweep.", "Sweep"), **_errors("401", "404", "503")},
            }
        },
        f"{API}/sweeps/{{sweep_id}}/cancel": {
            "post": {
                "operationId": "cancelSweep",
                "summary": "Cancel a sweep: its pending and running trials, and draw no more",
                "parameters": [sweep_id],
                "responses": {"200": _json("The sweep.", "Sweep"), **_errors("401", "404", "503")},
            }
        },
        f"{API}/sweeps/{{sweep_id}}/events": {
            "get": {
                "operationId": "watchSweep",
                "summary": "WebSocket: a sweep's events (trials, ASHA decisions), past then live",
                "description": (
                    "Upgrade to a WebSocket. Each text message is one `SweepEvent`; "
                    "authentication, `after` and close codes as for an experiment's events. "
                    "Closes with 1000 after `finished`."
                ),
                "parameters": [sweep_id, *query_parameters(EventsQuery)],
                "responses": {"101": _websocket("SweepEvent"), **_errors("400", "403", "422")},
            }
        },
    }


ERRORS = {
    "400": "The request is malformed (not JSON, not a WebSocket upgrade, ...).",
    "401": "No token, or a bad or expired one: log in.",
    "403": "The token's user may not do this, or a WebSocket's page is of an origin not let in.",
    "404": "No such thing, or it is another user's.",
    "409": (
        "It conflicts with the current state (a name taken, an experiment already over, or "
        "not succeeded when asked to predict)."
    ),
    "413": "The body is larger than the gateway accepts.",
    "422": "A field is wrong; `details` names each one.",
    "429": "Too many failed logins; `Retry-After` says when to try again.",
    "503": "The scheduler cannot be reached.",
}


def _experiment_links() -> dict[str, Any]:
    """Where a new experiment's id leads: the operations that take it (OpenAPI links)."""
    operations = (
        "getExperiment",
        "renameExperiment",
        "cancelExperiment",
        "getReport",
        "watchExperiment",
        "predict",
    )
    return {
        operation[0].upper() + operation[1:]: {
            "operationId": operation,
            "parameters": {"experiment_id": "$response.body#/experiment_id"},
        }
        for operation in operations
    }


def _error_responses() -> dict[str, Any]:
    return {
        f"E{status}": {
            "description": text,
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for status, text in ERRORS.items()
    }


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/responses/E{status}"} for status in statuses}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


def _websocket(schema: str) -> dict[str, Any]:
    return {
        "description": f"Switching to the WebSocket protocol; each message is one `{schema}`.",
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "schema": schema}
    if description:
        parameter["description"] = description
    return parameter
