from __future__ import annotations

import pytest

from azuraforge.statuses import NAMES, parse_status, status_name
from azuraforge.v1 import experiment_pb2

RUNNING = experiment_pb2.EXPERIMENT_STATUS_RUNNING


def test_the_names_people_use_in_their_order_of_life() -> None:
    assert NAMES == ("pending", "running", "succeeded", "failed", "cancelled", "stopped_early")
    assert status_name(RUNNING) == "RUNNING"


@pytest.mark.parametrize("text", ["running", "RUNNING", " Running ", "EXPERIMENT_STATUS_RUNNING"])
def test_every_spelling_of_a_status_reads_as_it(text: str) -> None:
    assert parse_status(text) == RUNNING


@pytest.mark.parametrize("text", ["runing", "", "unspecified", "EXPERIMENT_STATUS_UNSPECIFIED"])
def test_anything_else_is_refused_naming_the_choices(text: str) -> None:
    with pytest.raises(ValueError, match="use one of pending, running, succeeded"):
        parse_status(text)
