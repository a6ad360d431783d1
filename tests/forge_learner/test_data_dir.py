"""`FORGE_DATA_DIR` as the learner reads it: stripped, blank is `./var`, like the services."""

from __future__ import annotations

from pathlib import Path

import pytest

from azuraforge.settings import read_environment
from forge_learner.artifacts import runs_root
from forge_learner.data_dir import data_dir


@pytest.mark.parametrize("given", ["", "  ", "\t\n", " var ", "/srv/forge", " ~/forge "])
def test_the_learner_reads_forge_data_dir_as_the_services_do(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", given)

    assert data_dir() == read_environment({"FORGE_DATA_DIR": given}).data_dir.expanduser()


def test_runs_and_the_cache_go_under_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", f" {tmp_path} ")
    assert runs_root() == tmp_path / "runs"

    monkeypatch.setenv("FORGE_DATA_DIR", "")
    assert runs_root() == Path("var") / "runs"
