"""A finished run's report and files, streamed through the gateway from the real scheduler."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]


def test_the_report_and_every_artifact_arrive_whole_with_their_type_and_hash(
    tmp_path: Path, nats_url: str
):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment_id = (await gateway.submit(token, {"epochs": 2}))["experiment_id"]
        experiment = await gateway.finished(token, experiment_id)
        base = f"{API}/experiments/{experiment_id}"
        files = {}
        for artifact in experiment["artifacts"]:
            async with gateway.http.get(
                f"{base}/artifacts/{artifact['name']}", headers=bearer(token)
            ) as response:
                files[artifact["name"]] = (
                    response.status,
                    response.headers,
                    await response.read(),
                )
        async with gateway.http.get(f"{base}/report", headers=bearer(token)) as response:
            report = response.status, response.headers, await response.text()
        stored = {name: await gateway.stack.artifact(token, experiment_id, name) for name in files}
        return experiment, files, report, stored

    experiment, files, report, stored = asyncio.run(run(tmp_path, nats_url, scenario))

    assert experiment["status"] == "EXPERIMENT_STATUS_SUCCEEDED"
    assert "report.md" in files
    for artifact in experiment["artifacts"]:
        status, headers, data = files[artifact["name"]]
        assert status == 200, artifact
        assert data == stored[artifact["name"]][1], artifact
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
        assert headers["ETag"] == f'"{artifact["sha256"]}"'
        assert headers["Content-Type"].startswith(artifact["content_type"].split(";")[0])
        assert int(headers["Content-Length"]) == artifact["size_bytes"]
        assert headers["Content-Security-Policy"].startswith("sandbox")
    status, headers, text = report
    assert status == 200
    assert headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert text.encode() == files["report.md"][2]


def test_an_unchanged_artifact_is_304_and_a_download_is_an_attachment(
    tmp_path: Path, nats_url: str
):
    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment_id = (await gateway.submit(token, {"epochs": 1}))["experiment_id"]
        experiment = await gateway.finished(token, experiment_id)
        report = next(a for a in experiment["artifacts"] if a["name"] == "report.md")
        url = f"{API}/experiments/{experiment_id}/report"
        headers = {**bearer(token), "If-None-Match": f'"{report["sha256"]}"'}
        async with gateway.http.get(url, headers=headers) as response:
            unchanged = response.status, await response.read()
        async with gateway.http.get(f"{url}?download=1", headers=bearer(token)) as response:
            download = response.status, response.headers["Content-Disposition"]
        return unchanged, download

    unchanged, download = asyncio.run(run(tmp_path, nats_url, scenario))

    assert unchanged == (304, b"")
    assert download == (200, "attachment; filename*=UTF-8''report.md")


def test_missing_artifacts_and_other_users_files_are_404(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway):
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        experiment_id = (await gateway.submit(alice, {"epochs": 1}))["experiment_id"]
        await gateway.finished(alice, experiment_id)
        base = f"{API}/experiments/{experiment_id}"
        answers = {}
        for name, path, token in (
            ("bob's report", f"{base}/report", bob),
            ("missing file", f"{base}/artifacts/plots/none.png", alice),
            ("no token", f"{base}/report", None),
        ):
            headers = bearer(token) if token else {}
            async with gateway.http.get(path, headers=headers) as response:
                answers[name] = response.status, await response.json()
        return answers

    answers = asyncio.run(run(tmp_path, nats_url, scenario))

    assert answers["bob's report"][0] == 404
    assert answers["missing file"][0] == 404
    assert answers["no token"][0] == 401


async def run(tmp_path: Path, nats_url: str, scenario: Any) -> Any:
    async with gateway_on_stack(tmp_path, nats_url) as gateway:
        return await scenario(gateway)
