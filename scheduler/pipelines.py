"""The pipelines a client may choose from: the ones live trainers run, with their schemas.

The scheduler installs no pipeline; it lists what the trainers that registered announced
(`scheduler.store.pipelines`), each with the schema announced last. A pipeline counts while a
live trainer runs it, since only then does a submission of it start. A client that shows past
experiments' configs asks for the offline ones too (`include_offline`), whose trainers are
gone, so that it can still type their settings.
"""

from __future__ import annotations

from datetime import timedelta

from azuraforge.v1 import experiment_pb2
from scheduler.convert import pipeline_to_proto
from scheduler.store import Store


def listed_pipelines(
    store: Store, alive_within: timedelta, *, include_offline: bool = False
) -> list[experiment_pb2.PipelineInfo]:
    """What ListPipelines answers, by name. Blocks: call it in a thread."""
    if include_offline:
        announced = store.announced_pipelines()
    else:
        live = store.list_trainers(alive_within=alive_within)
        announced = store.announced_pipelines({name for t in live for name in t.pipelines})
    return [pipeline_to_proto(pipeline) for pipeline in announced]
