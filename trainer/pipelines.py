"""The pipelines this trainer offers, kept up to date with what is installed while it runs.

A trainer announces the pipelines it runs when it registers, each with its config's JSON Schema
(`announced`); the scheduler, which installs no pipeline, checks submissions against those schemas
and places an experiment only on a trainer that announced its pipeline. So a plugin installed into
the trainer's environment after it started must be found and announced, or it cannot even be
submitted. The trainer scans again every `FORGE_TRAINER_PIPELINE_SCAN_SECONDS` (30 s by default; 0
scans only on request) and at once on SIGHUP (`serve` asks for a scan); a scan first catches up on
what the interpreter reads only at start (`forge_learner.registry.refresh_installed`: the `.pth`
files of an editable install). When the usable pipelines changed, it logs what changed and
`trainer.registration` registers again, announcing the new set; a plugin that turned broken, or
whose error changed, is logged once, not at every scan.

A plugin upgraded or removed in place is not unloaded: a module imported once stays as it was
in this process (each job's process imports it afresh), and a removed pipeline is no longer
offered. Restart the trainer after an upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from google.protobuf import struct_pb2

from azuraforge.v1 import experiment_pb2
from forge_learner.config import config_json_schema
from forge_learner.registry import Discovery, PipelineClass, discover, refresh_installed

log = logging.getLogger(__name__)


class OfferedPipelines:
    """The names of the usable pipelines, as of the last scan; `changed` when they change."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self.classes: dict[str, PipelineClass] = {}
        self.broken: dict[str, str] = {}
        self.changed = asyncio.Event()
        self._scan_requested = asyncio.Event()
        self._scanned_once = False
        # Called when the names change, besides `changed` (the trainer renews its ready job
        # process, which imported the pipelines of its time).
        self.on_change: Callable[[], None] | None = None

    def scan(self) -> bool:
        """Look for installed pipelines now, blocking while plugins import; whether the names
        changed. `start` calls it once, before serving."""
        return self.apply(_look(warn=not self._scanned_once))

    def apply(self, found: Discovery) -> bool:
        """Take the outcome of a discovery, logging what changed; whether the names did."""
        names = tuple(sorted(found.pipelines))
        if self._scanned_once:
            for name, reason in sorted(found.broken.items()):
                if self.broken.get(name) != reason:
                    log.warning("pipeline plugin %r is broken: %s", name, reason)
        changed = self._scanned_once and names != self.names
        if changed:
            added, gone = set(names) - set(self.names), set(self.names) - set(names)
            what = [
                f"{label}: {', '.join(sorted(items))}"
                for label, items in [("new", added), ("gone", gone)]
                if items
            ]
            log.info(
                "pipelines changed (%s); offering %s", "; ".join(what), ", ".join(names) or "none"
            )
            self.changed.set()
            if self.on_change is not None:
                self.on_change()
        self.names, self.broken, self._scanned_once = names, dict(found.broken), True
        self.classes = dict(found.pipelines)
        return changed

    def announced(self) -> list[experiment_pb2.PipelineInfo]:
        """Each usable pipeline with its summary and config schema, as registering announces it."""
        return [pipeline_info(name, self.classes[name]) for name in self.names]

    def request_scan(self) -> None:
        """Scan as soon as possible (SIGHUP)."""
        self._scan_requested.set()

    async def keep_scanning(self, interval_s: float) -> None:
        """Scan every `interval_s` seconds (0: never on its own) and on request, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s or None):
                    await self._scan_requested.wait()
            self._scan_requested.clear()
            try:
                found = await asyncio.to_thread(_look, warn=False)
            except Exception:  # a plugin's import may do anything; the next scan tries again
                log.exception("looking for installed pipelines failed")
                continue
            self.apply(found)


def _look(*, warn: bool) -> Discovery:
    refresh_installed()
    return discover(warn=warn)


def pipeline_info(name: str, cls: PipelineClass) -> experiment_pb2.PipelineInfo:
    """A pipeline's name, summary and config JSON Schema, as the contract describes one."""
    schema = struct_pb2.Struct()
    schema.update(config_json_schema(cls.Config))
    return experiment_pb2.PipelineInfo(name=name, summary=cls.summary, config_schema=schema)
