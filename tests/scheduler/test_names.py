"""The rules of an experiment's name: trimmed, at most 100 characters, no control characters."""

from __future__ import annotations

import pytest

from scheduler.errors import BadRequest
from scheduler.names import MAX_NAME_LENGTH, check_name


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("baseline", "baseline"),
        ("  lr 0.01, two layers \t", "lr 0.01, two layers"),
        ("   ", ""),
        ("", ""),
        ("météo ☀ 天气", "météo ☀ 天气"),
        ("x" * MAX_NAME_LENGTH, "x" * MAX_NAME_LENGTH),
        (" " + "x" * MAX_NAME_LENGTH + "\n", "x" * MAX_NAME_LENGTH),
    ],
    ids=["plain", "trimmed", "blank", "empty", "unicode", "longest", "longest-trimmed"],
)
def test_good_names_are_kept_trimmed(given: str, kept: str):
    assert check_name(given) == kept


@pytest.mark.parametrize(
    ("given", "rule", "said"),
    [
        ("x" * (MAX_NAME_LENGTH + 1), "max_length", "at most 100 characters, got 101"),
        ("first\nsecond", "control_character", "must not contain control characters"),
        ("tab\there", "control_character", r"'tab\there'"),
        ("bell\x07", "control_character", "control characters"),
    ],
    ids=["too-long", "newline", "tab", "bell"],
)
def test_bad_names_are_refused_naming_the_field_and_rule(given: str, rule: str, said: str):
    with pytest.raises(BadRequest) as refused:
        check_name(given)

    [error] = refused.value.errors
    assert (error.field, error.rule) == ("name", rule)
    assert error.message.startswith("name: ")
    assert said in error.message


def test_a_long_bad_name_is_quoted_short():
    with pytest.raises(BadRequest) as refused:
        check_name("\n".join(["line"] * 5000)[:99])
    with pytest.raises(BadRequest) as long_one:
        check_name("x" * 100_000)

    assert len(str(refused.value)) < 300
    assert len(str(long_one.value)) < 300
