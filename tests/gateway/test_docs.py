"""docs/api.md's Python client works as written, against the real stack behind a real gateway."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import Gateway, gateway_on_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def python_example() -> str:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    return str(code)


def test_the_documented_websocket_client_follows_a_run_to_its_end(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
):
    namespace: dict[str, Any] = {}
    exec(python_example(), namespace)

    async def scenario(gateway: Gateway) -> None:
        token = await gateway.admin()
        experiment = await gateway.submit(token, {"epochs": 2})
        await asyncio.wait_for(
            namespace["follow"](gateway.url, token, experiment["experiment_id"]), 60
        )

    async def main() -> None:
        async with gateway_on_stack(tmp_path, nats_url) as gateway:
            await scenario(gateway)

    asyncio.run(main())

    printed = capsys.readouterr().out.splitlines()
    events = [ast.literal_eval(line) for line in printed if line.startswith("{")]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert "files_stored" in events[-1]
    (ending,) = [e["experiment_finished"] for e in events if "experiment_finished" in e]
    assert ending["files_follow"]
