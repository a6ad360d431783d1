"""Experiments' configs answered as their pipelines' schemas type them (`azuraforge.configs`).

The scheduler sends a config as a `google.protobuf.Struct`, whose numbers are doubles and whose
keys have no order; a REST client should get `"epochs": 3` and the settings in the schema's
order, as it sent them. So an answer with experiments asks the scheduler for the pipelines'
schemas (one `ListPipelines` call, with the caller's credentials, offline pipelines included:
a past experiment's trainers may be gone) and puts each config back. A pipeline no trainer
ever announced keeps its config as the Struct gave it.
"""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web

from azuraforge.configs import typed_config
from azuraforge.v1 import scheduler_pb2
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.metadata import Metadata


async def with_typed_configs(
    request: web.Request, metadata: Metadata, experiments: list[dict[str, Any]]
) -> None:
    """Put each of `experiments` (in their JSON form) back to its schema's types and order."""
    if not experiments:
        return
    schemas = await _schemas(request, metadata)
    for experiment in experiments:
        schema = schemas.get(experiment.get("pipeline", ""))
        experiment["config"] = typed_config(experiment.get("config") or {}, schema)


async def _schemas(request: web.Request, metadata: Metadata) -> dict[str, dict[str, Any]]:
    stubs = scheduler(request)
    try:
        response = await stubs.scheduler.ListPipelines(
            scheduler_pb2.ListPipelinesRequest(include_offline=True),
            metadata=metadata,
            timeout=stubs.timeout,
        )
    except grpc.RpcError:
        # The experiments came; their configs are still right, only less neatly typed.
        return {}
    return {info.name: to_json(info.config_schema) for info in response.pipelines}
