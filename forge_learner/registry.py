"""Finding pipelines: every installed ``forge.pipelines`` entry point, bundled apps included.

A plugin registers its pipeline class in its own packaging metadata::

    [project.entry-points."forge.pipelines"]
    tiny_regression = "tiny_forge_plugin:TinyRegression"

and from then on ``forge pipelines`` lists it, ``forge run tiny_regression`` runs it and the
scheduler accepts it. The bundled apps register the same way, so nothing is special-cased.

One broken plugin must not take the others down: an entry point that fails to import, or
names something that is not a usable pipeline, is logged and listed in ``broken`` with the
reason, and discovery goes on. Names are the contract between the CLI, the scheduler and the
web UI, so the entry point's name must equal the class's ``name``.

Discovery reads the installed metadata afresh at every call, so a plugin ``pip install``-ed into
a running service's environment is found by the next ``discover`` — except that the interpreter
learns some things only when it starts: ``.pth`` files in the site folders (where an editable
install, ``pip install -e``, puts the path of its source or the finder that imports it) and the
import system's caches of folder listings. ``refresh_installed`` catches up on both; a service
calls it before rescanning. A plugin upgraded or removed in place is another matter: a module
already imported stays as it was until the process restarts.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import site
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from forge_learner.config import PipelineConfig
from forge_learner.pipeline import NAME_PATTERN, BasePipeline
from forge_learner.quoting import quote

log = logging.getLogger(__name__)

GROUP = "forge.pipelines"

PipelineClass = type[BasePipeline[Any]]


@dataclass(frozen=True)
class Discovery:
    """The usable pipelines by name, and the broken entry points with what is wrong."""

    pipelines: dict[str, PipelineClass] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)


class UnknownPipelineError(LookupError):
    """No usable pipeline has this name; the message lists the ones there are."""

    def __init__(self, name: str, discovery: Discovery) -> None:
        self.name = name
        self.available = sorted(discovery.pipelines)
        listed = ", ".join(self.available) or "none are installed"
        if name in discovery.broken:
            message = (
                f"pipeline {quote(name)} is installed but cannot be used: "
                f"{discovery.broken[name]}. Usable pipelines: {listed}"
            )
        else:
            message = f"unknown pipeline {quote(name)}; available pipelines: {listed}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def discover(*, warn: bool = True) -> Discovery:
    """Load every ``forge.pipelines`` entry point, sorting the usable from the broken.

    Each broken one is logged as a warning, unless ``warn`` is False: a caller that rescans
    periodically says what changed itself, instead of repeating the same warning.
    """
    found = Discovery()
    by_name: dict[str, list[EntryPoint]] = {}
    for entry_point in entry_points(group=GROUP):
        by_name.setdefault(entry_point.name, []).append(entry_point)
    for name, points in sorted(by_name.items()):
        if len({p.value for p in points}) > 1:
            sources = " and ".join(repr(p.value) for p in points)
            _broken(found, name, f"registered twice, as {sources}: uninstall one of them", warn)
            continue
        try:
            found.pipelines[name] = _load(points[0])
        except Exception as error:  # a plugin's import may raise anything
            _broken(found, name, f"{type(error).__name__}: {error}", warn)
    return found


def discover_pipelines() -> dict[str, PipelineClass]:
    """The usable pipelines by name (see ``discover`` for the broken ones too)."""
    return discover().pipelines


def get_pipeline(name: str) -> PipelineClass:
    """The pipeline class registered as ``name``; ``UnknownPipelineError`` lists the others."""
    found = discover()
    if name not in found.pipelines:
        raise UnknownPipelineError(name, found)
    return found.pipelines[name]


def check_pipeline_class(cls: Any, name: str | None = None) -> PipelineClass:
    """``cls`` if it is a pipeline ``run`` can use (registered as ``name``); else TypeError."""
    if not (inspect.isclass(cls) and issubclass(cls, BasePipeline)):
        raise TypeError(f"{cls!r} is not a BasePipeline subclass")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise TypeError(f"{cls.__name__} does not implement {missing}")
    pipeline_name = getattr(cls, "name", None)
    if not isinstance(pipeline_name, str) or not NAME_PATTERN.fullmatch(pipeline_name):
        raise TypeError(
            f"{cls.__name__}.name must be lowercase snake case like 'weather_forecaster', "
            f"got {pipeline_name!r}"
        )
    if name is not None and pipeline_name != name:
        raise TypeError(
            f"the entry point is named {name!r} but {cls.__name__}.name is {pipeline_name!r}; "
            "they must be equal"
        )
    config = getattr(cls, "Config", None)
    if not (inspect.isclass(config) and issubclass(config, PipelineConfig)):
        raise TypeError(f"{cls.__name__}.Config must subclass PipelineConfig, got {config!r}")
    return cls


def _load(entry_point: EntryPoint) -> PipelineClass:
    return check_pipeline_class(entry_point.load(), entry_point.name)


def _broken(found: Discovery, name: str, reason: str, warn: bool) -> None:
    if warn:
        log.warning("pipeline plugin %r is broken: %s", name, reason)
    found.broken[name] = reason


def refresh_installed() -> None:
    """Make what was installed since this process started importable and discoverable.

    Forgets the import system's cached folder listings (``importlib.invalidate_caches``), and
    reads the ``.pth`` files of a site folder again, as the interpreter did at start, when one
    was added or changed there since, or when the folder itself is new (``site.addsitedir``: a
    path already on ``sys.path`` is not added twice). Cheap when nothing changed: a listing of
    each site folder.
    """
    importlib.invalidate_caches()
    on_path = _absolute(sys.path)
    for folder in site_folders():
        seen = _pth_files(folder)
        appeared = os.path.isdir(folder) and os.path.abspath(folder) not in on_path
        if appeared or seen != _pth_seen.get(folder, frozenset()):
            site.addsitedir(folder)
            _pth_seen[folder] = seen
    importlib.invalidate_caches()


def site_folders() -> list[str]:
    """The folders whose ``.pth`` files the interpreter reads at start: site-packages, and the
    user's site-packages where it is enabled (it is not in a virtual environment)."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return folders


def _absolute(paths: list[str]) -> set[str]:
    return {os.path.abspath(path) for path in paths if path}


def _pth_files(folder: str) -> frozenset[tuple[str, int]]:
    """The ``.pth`` files in ``folder`` with their modification times; none if it is missing."""
    try:
        return frozenset((p.name, p.stat().st_mtime_ns) for p in Path(folder).glob("*.pth"))
    except OSError:
        return frozenset()


# What the interpreter read at start, as far as this module can tell: the .pth files there were
# when it was first imported, which every service does while it starts.
_pth_seen: dict[str, frozenset[tuple[str, int]]] = {
    folder: _pth_files(folder) for folder in site_folders()
}
