"""Input that once got a 502 or a 429 through the gateway is a 4xx naming the field (issue #12).

On the real stack: NaN and the infinities in a config (JSON as Python reads it), a page token
that decodes to JSON nested past the parser, and 10,000-character names and keys, whose error
once echoed them whole into gRPC metadata and came back as 429 instead of 422.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

LONG = 10_000
# What an answer may echo of an input: the quoted start and the rest of a sentence.
ECHO_LIMIT = 1_000

Answer = tuple[int, dict[str, Any]]


def run(tmp_path: Path, nats_url: str, scenario: Any) -> Any:
    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway:
            return await scenario(gateway, bearer(await gateway.admin()))

    return asyncio.run(main())


def named(answer: Answer) -> list[str]:
    """The fields a 422 names, after checking it is one and echoes no input whole."""
    status, body = answer
    assert status == 422, answer
    assert len(body["error"]["message"]) < ECHO_LIMIT
    return [detail["field"] for detail in body["error"]["details"]]


async def submit(gateway: Gateway, headers: dict[str, str], body: bytes) -> Answer:
    async with gateway.http.post(
        f"{API}/experiments", data=body, headers={**headers, "Content-Type": "application/json"}
    ) as response:
        return response.status, await response.json()


def test_nan_and_infinities_in_a_config_are_422_naming_the_field(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway, admin: dict[str, str]):
        answers = {}
        for written in ("NaN", "Infinity", "-Infinity", "1e99999"):
            config = '{"learning_rate": ' + written + "}"
            body = '{"pipeline": "trainer_probe", "config": ' + config + "}"
            answers[written] = await submit(gateway, admin, body.encode())
        nested = b'{"pipeline": "trainer_probe", "config": {"a": [1, {"b": NaN}]}}'
        answers["nested"] = await submit(gateway, admin, nested)
        return answers

    answers = run(tmp_path, nats_url, scenario)

    for written in ("NaN", "Infinity", "-Infinity", "1e99999"):
        assert named(answers[written]) == ["config.learning_rate"], written
        assert "finite number" in answers[written][1]["error"]["message"]
    assert named(answers["nested"]) == ["config.a.1.b"]


def test_a_page_token_nested_past_the_parser_is_422(tmp_path: Path, nats_url: str):
    token = base64.urlsafe_b64encode(b"[" * 2000 + b"]" * 2000).decode()

    async def scenario(gateway: Gateway, admin: dict[str, str]):
        async with gateway.http.get(
            f"{API}/experiments", params={"page_token": token}, headers=admin
        ) as response:
            return response.status, await response.json()

    assert named(run(tmp_path, nats_url, scenario)) == ["page_token"]


def test_10000_character_names_and_keys_are_422_naming_the_field(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway, admin: dict[str, str]):
        async def post(path: str, body: dict[str, Any]) -> Answer:
            async with gateway.http.post(f"{API}{path}", json=body, headers=admin) as response:
                return response.status, await response.json()

        return {
            "pipeline": await post("/experiments", {"pipeline": "p" * LONG}),
            "config key": await post(
                "/experiments", {"pipeline": "trainer_probe", "config": {"k" * LONG: 1}}
            ),
            "username": await post("/users", {"username": "u" * LONG, "password": "long-enough"}),
            "body key": await post("/users", {"u" * LONG: "x"}),
        }

    answers = run(tmp_path, nats_url, scenario)

    assert named(answers["pipeline"]) == ["pipeline"]
    assert named(answers["config key"]) == ["config." + "k" * 100 + "…"]
    assert named(answers["username"]) == ["username"]
    assert named(answers["body key"]) == ["u" * 100 + "…"]
