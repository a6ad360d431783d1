"""The OpenAPI document describes exactly the routes the app has, and every reference resolves."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from azuraforge.v1 import events_pb2, experiment_pb2
from gateway.app import create_app
from gateway.openapi import document
from gateway.routes.bodies import MAX_RESTARTS, Submission
from gateway.settings import GatewaySettings
from tests.gateway.harness import API, lone_gateway

METHODS = {"get", "post", "put", "patch", "delete", "options"}


def router_operations() -> set[tuple[str, str]]:
    """(method, path) of every API route the app really has, and the health check's."""
    app = create_app(GatewaySettings())
    operations = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        # HEAD comes with every GET; `*` is the catch-all answering unknown API paths.
        documented = path.startswith(f"{API}/") or path == "/healthz"
        if documented and route.method not in ("HEAD", "*"):
            operations.add((route.method.lower(), path))
    return operations


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def test_the_document_lists_every_route_of_the_router_and_no_other():
    assert documented_operations(document()) == router_operations()


def test_every_path_parameter_is_declared_and_every_operation_answers():
    for path, item in document()["paths"].items():
        template = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == template, (method, path)
            assert operation["responses"], (method, path)
            assert operation["operationId"], (method, path)


def test_every_reference_resolves():
    doc = document()
    for ref in references(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_message_schemas_follow_the_protos():
    schemas = document()["components"]["schemas"]

    experiment = schemas["Experiment"]["properties"]
    assert set(experiment) == set(experiment_pb2.Experiment.DESCRIPTOR.fields_by_name)
    assert experiment["status"]["enum"][1] == "EXPERIMENT_STATUS_PENDING"
    assert experiment["created_at"] == {"type": "string", "format": "date-time"}
    assert experiment["metrics"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert experiment["artifacts"]["items"] == {"$ref": "#/components/schemas/Artifact"}
    event = schemas["ExperimentEvent"]
    assert set(event["properties"]) == set(events_pb2.ExperimentEvent.DESCRIPTOR.fields_by_name)
    assert "`epoch_ended`" in event["description"]
    assert event["properties"]["seq"]["format"] == "uint64"
    assert "`experiment_resumed`" in event["description"]
    assert experiment["attempts"]["items"] == {"$ref": "#/components/schemas/Attempt"}
    assert set(schemas["Attempt"]["properties"]) == set(
        experiment_pb2.Attempt.DESCRIPTOR.fields_by_name
    )
    assert set(schemas["ExperimentResumed"]["properties"]) == set(
        events_pb2.ExperimentResumed.DESCRIPTOR.fields_by_name
    )


def test_the_submission_schema_takes_what_the_gateway_takes():
    submission = document()["components"]["schemas"]["Submission"]

    assert set(submission["properties"]) == set(Submission.model_fields)
    max_restarts = submission["properties"]["max_restarts"]
    assert (max_restarts["minimum"], max_restarts["maximum"]) == (0, MAX_RESTARTS)


def test_the_gateway_serves_the_document(tmp_path: Path):
    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", webapp_dir=tmp_path)
        async with (
            lone_gateway(settings) as gateway,
            gateway.http.get(f"{API}/openapi.json") as response,
        ):
            return response.status, response.content_type, await response.json()

    status, content_type, served = asyncio.run(scenario())

    assert (status, content_type) == (200, "application/json")
    assert served == document()
    assert served["openapi"].startswith("3.1")


def test_links_name_operations_that_exist():
    operations = {
        operation["operationId"]
        for item in document()["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }
    for item in document()["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operations
