"""What the routes take: each model refuses bad input with a 422 naming the field, and the
OpenAPI document describes exactly the fields each model takes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest

from gateway.errors import ApiError
from gateway.openapi import document
from gateway.routes.bodies import (
    EventsQuery,
    ExperimentsQuery,
    LoginForm,
    NewUser,
    Rename,
    Request,
    Submission,
    parse,
)


def refusal(model: type[Request], data: dict[str, Any]) -> tuple[int, str, str]:
    """(status, code, message) of the answer to `data`."""
    with pytest.raises(ApiError) as refused:
        parse(model, data)
    error = refused.value
    return error.status, error.code, error.message


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (Submission, {"config": {}}, "pipeline: is required: the name of an installed pipeline"),
        (Submission, {"pipeline": ""}, "pipeline: is required: the name of an installed pipeline"),
        (Submission, {"pipeline": 3}, "pipeline: must be a string"),
        (Submission, {"pipeline": "p", "config": [1]}, "config: must be a JSON object of the"),
        (
            Submission,
            {"confg": {}},
            "confg: unknown field; use config, max_restarts, name, pipeline",
        ),
        (Submission, {"pipeline": "p", "name": 3}, "name: must be a string"),
        (Rename, {}, 'name: is required: the new name, or "" to clear it'),
        (Rename, {"name": ["x"]}, "name: must be a string"),
        (Rename, {"name": "x", "pipeline": "p"}, "pipeline: unknown field; use name"),
        # JSON's "\ud800" escape: no character, and protobuf cannot send it.
        (Rename, {"name": "a\ud800"}, "name: must be text, without lone surrogates"),
        (Submission, {"pipeline": "p", "name": "\udfff"}, "name: must be text, without lone"),
        (NewUser, {"username": "\ud800"}, "username: must be text, without lone surrogates"),
        (Submission, {"pipeline": "p", "max_restarts": True}, "got true"),
        (Submission, {"pipeline": "p", "max_restarts": "2"}, "got a string"),
        (Submission, {"pipeline": "p", "max_restarts": -1}, "max_restarts: must be 0 to 100"),
        (NewUser, {"role": "boss"}, "role: must be one of user, admin, got 'boss'"),
        (NewUser, {"name": "x"}, "name: unknown field; use password, role, username"),
        (LoginForm, {"username": "admin"}, "password: is required"),
        (LoginForm, {"username": "admin", "password": None}, "password: is required"),
        (LoginForm, {"username": 5, "password": "p"}, "username: must be a string"),
        (ExperimentsQuery, {"page_size": "ten"}, "page_size: must be a whole number from 1 to"),
        (ExperimentsQuery, {"page_size": "501"}, "page_size: must be 1 to 500, got 501"),
        (ExperimentsQuery, {"status": ["running,lost"]}, "status: 'lost' is not a status; use"),
        (EventsQuery, {"after": "-1"}, "after: must be 0 to"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(model: type[Request], data: dict, message: str):
    status, code, said = refusal(model, data)

    assert (status, code) == (HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_argument")
    assert said.startswith(message) or message in said, said


def test_an_unknown_key_is_named_before_anything_else_is_wrong():
    assert refusal(Submission, {"pipelin": "p"})[2].startswith("pipelin: unknown field")


def test_another_grant_type_is_oauth2s_400_before_a_missing_password():
    status, code, message = refusal(LoginForm, {"grant_type": "client_credentials"})

    assert (status, code) == (HTTPStatus.BAD_REQUEST, "unsupported_grant_type")
    assert "'client_credentials'" in message


def test_json_reads_as_json_schema_says():
    submission = parse(Submission, {"pipeline": "p", "config": None, "max_restarts": 2.0})
    user = parse(NewUser, {"username": None, "role": None})
    login = parse(LoginForm, {"username": "a", "password": "p", "grant_type": "password"})

    assert (submission.config, submission.max_restarts) == ({}, 2)
    assert (user.username, user.role) == ("", "user")
    assert (login.username, login.password, login.grant_type) == ("a", "p", "password")
    assert parse(Submission, {"pipeline": "p"}).max_restarts is None
    assert parse(Submission, {"pipeline": "p", "name": None}).name == ""
    assert parse(Rename, {"name": None}).name == ""


def test_queries_read_text_and_take_short_or_full_status_names():
    query = parse(
        ExperimentsQuery,
        {"page_size": "20", "status": ["running, FAILED", "EXPERIMENT_STATUS_CANCELLED"]},
    )

    assert query.page_size == 20
    assert query.status == [
        "EXPERIMENT_STATUS_RUNNING",
        "EXPERIMENT_STATUS_FAILED",
        "EXPERIMENT_STATUS_CANCELLED",
    ]
    assert parse(ExperimentsQuery, {"page_size": ""}).page_size is None
    assert parse(EventsQuery, {"after": "7"}).after == 7


@pytest.mark.parametrize("model", [LoginForm, NewUser, Submission, Rename])
def test_the_document_describes_every_field_a_body_takes(model: type[Request]):
    schema = document()["components"]["schemas"][model.__name__]

    assert set(schema["properties"]) == set(model.model_fields)
    assert schema["additionalProperties"] is False
    assert "title" not in schema and all("title" not in p for p in schema["properties"].values())


def test_the_login_form_lists_the_oauth2_fields_the_route_accepts():
    login = document()["components"]["schemas"]["LoginForm"]

    assert set(login["properties"]) == {"username", "password", "grant_type", "scope", "client_id"}
    assert login["required"] == ["username", "password"]


def test_query_parameters_are_the_query_models_fields():
    paths = document()["paths"]
    listed = paths["/api/v1/experiments"]["get"]["parameters"]
    events = paths["/api/v1/experiments/{experiment_id}/events"]["get"]["parameters"]

    assert [p["name"] for p in listed] == list(ExperimentsQuery.model_fields)
    page_size = next(p for p in listed if p["name"] == "page_size")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 500)
    assert [p["name"] for p in events if p["in"] == "query"] == ["after"]
