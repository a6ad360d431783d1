"""Discovery through `forge.pipelines` entry points: usable, broken and unknown pipelines."""

from __future__ import annotations

import logging
import site
import sys
from pathlib import Path

import pytest

from forge_learner import registry
from forge_learner.registry import (
    UnknownPipelineError,
    check_pipeline_class,
    discover,
    discover_pipelines,
    get_pipeline,
    refresh_installed,
)
from tests.forge_learner.toy_pipelines import LINE, LinePipeline, install_entry_points


def test_an_installed_pipeline_is_found_by_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, line=LINE)

    assert discover_pipelines() == {"line": LinePipeline}
    assert get_pipeline("line") is LinePipeline


def test_broken_plugins_are_listed_with_the_reason_and_the_rest_still_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "exploding_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    install_entry_points(
        monkeypatch,
        line=LINE,
        missing="tests.forge_learner.no_such_module:Pipeline",
        exploding="exploding_plugin:Pipeline",
        not_a_pipeline="tests.forge_learner.toy_pipelines:LineConfig",
        abstract="forge_learner.pipeline:BasePipeline",
        misnamed=LINE,
        twice=[LINE, "tests.forge_learner.test_registry:Twice"],
    )

    with caplog.at_level(logging.WARNING, logger="forge_learner.registry"):
        found = discover()

    assert found.pipelines == {"line": LinePipeline}
    assert sorted(found.broken) == sorted(
        ["missing", "exploding", "not_a_pipeline", "abstract", "misnamed", "twice"]
    )
    assert found.broken["missing"].startswith("ModuleNotFoundError")
    assert found.broken["exploding"] == "RuntimeError: boom at import"
    assert "is not a BasePipeline subclass" in found.broken["not_a_pipeline"]
    assert "does not implement create_model, load_data" in found.broken["abstract"]
    assert "named 'misnamed' but LinePipeline.name is 'line'" in found.broken["misnamed"]
    assert "registered twice" in found.broken["twice"]
    assert len(caplog.records) == 6
    assert "'exploding' is broken" in caplog.text


class Twice(LinePipeline):
    name = "twice"


def test_the_same_entry_point_seen_twice_is_one_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, line=[LINE, LINE])

    assert discover() == registry.Discovery({"line": LinePipeline}, {})


def test_an_unknown_name_lists_the_available_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    install_entry_points(monkeypatch, line=LINE, twice="tests.forge_learner.test_registry:Twice")

    with pytest.raises(UnknownPipelineError) as error_info:
        get_pipeline("lin")

    assert str(error_info.value) == "unknown pipeline 'lin'; available pipelines: line, twice"
    assert error_info.value.available == ["line", "twice"]
    assert isinstance(error_info.value, LookupError)


def test_asking_for_a_broken_pipeline_says_why_it_cannot_be_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_entry_points(monkeypatch, ghost="tests.forge_learner.no_such_module:Pipeline")

    with pytest.raises(UnknownPipelineError, match="'ghost' is installed but cannot be used"):
        get_pipeline("ghost")


@pytest.mark.parametrize(
    ("name", "message"),
    [("Line", "lowercase snake case"), ("", "lowercase snake case"), ("line-2", "snake")],
)
def test_a_pipeline_name_must_be_snake_case(name: str, message: str) -> None:
    class Renamed(LinePipeline):
        pass

    Renamed.name = name

    with pytest.raises(TypeError, match=message):
        check_pipeline_class(Renamed)


def test_a_pipeline_config_must_be_a_pipeline_config() -> None:
    class Unconfigured(LinePipeline):
        Config = dict  # type: ignore[assignment]

    with pytest.raises(TypeError, match="Config must subclass PipelineConfig"):
        check_pipeline_class(Unconfigured)


def test_every_pipeline_installed_here_loads() -> None:
    found = discover()

    assert found.broken == {}
    assert all(cls.name == name for name, cls in found.pipelines.items())


def test_broken_plugins_are_not_logged_when_the_caller_says_what_changed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install_entry_points(monkeypatch, ghost="tests.forge_learner.no_such_module:Pipeline")

    with caplog.at_level(logging.WARNING, logger="forge_learner.registry"):
        found = discover(warn=False)

    assert list(found.broken) == ["ghost"]
    assert caplog.records == []


def test_an_editable_install_made_after_start_is_found_once_its_site_folder_is_read_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder, source = tmp_path / "site-packages", tmp_path / "source"
    folder.mkdir()
    source.mkdir()
    # The interpreter read the site folder at start, when it was still empty.
    monkeypatch.setattr(sys, "path", [*sys.path, str(folder)])
    monkeypatch.setattr(registry, "site_folders", lambda: [str(folder)])
    monkeypatch.setattr(registry, "_pth_seen", {str(folder): frozenset()})
    reads: list[str] = []
    read = site.addsitedir

    def addsitedir(path: str) -> None:
        reads.append(path)
        read(path)

    monkeypatch.setattr(site, "addsitedir", addsitedir)
    # What `pip install -e` writes: the metadata, and a .pth file naming the source folder.
    (source / "late_plugin.py").write_text(f"from {LinePipeline.__module__} import LinePipeline\n")
    dist_info = folder / "late_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: late-plugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[forge.pipelines]\nline = late_plugin:LinePipeline\n"
    )
    (folder / "__editable__.late_plugin-1.0.pth").write_text(f"{source}\n")

    before = discover(warn=False)
    refresh_installed()
    refresh_installed()
    after = discover(warn=False)
    sys.modules.pop("late_plugin", None)

    assert before.broken["line"] == "ModuleNotFoundError: No module named 'late_plugin'"
    assert after.pipelines["line"] is LinePipeline
    assert reads == [str(folder)], "an unchanged site folder is not read again"
    assert sys.path.count(str(source)) == 1
