"""`/` serves the built web UI, falls back to `index.html` for the app's routes, never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from yarl import URL

from gateway.settings import GatewaySettings
from tests.gateway.harness import API, lone_gateway

INDEX = "<!doctype html><title>AzuraForge</title><div id=root></div>"
SCRIPT = "console.log('forge')"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built web UI as Vite lays it out, and a secret beside it that must stay unreachable."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-3f2a.js").write_text(SCRIPT)
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret").write_text("do not serve")
    return root


def fetch(webapp_dir: Path, *paths: str) -> dict[str, tuple[int, str, str, str]]:
    """Each path's status, content type, Cache-Control and body."""

    async def scenario():
        answers = {}
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", webapp_dir=webapp_dir)
        async with lone_gateway(settings) as gateway:
            for path in paths:
                # As sent, not normalised by the client: `..` must reach the gateway.
                async with gateway.http.get(URL(path, encoded=True)) as response:
                    answers[path] = (
                        response.status,
                        response.content_type,
                        response.headers.get("Cache-Control", ""),
                        await response.text(),
                    )
        return answers

    return asyncio.run(scenario())


def test_files_of_the_build_are_served_and_hashed_assets_cached_for_good(dist: Path):
    answers = fetch(dist, "/", "/assets/index-3f2a.js", "/favicon.svg")

    assert answers["/"][:2] == (200, "text/html")
    assert answers["/"][3] == INDEX
    assert answers["/"][2] == "no-cache"
    assert answers["/assets/index-3f2a.js"][0] == 200
    assert answers["/assets/index-3f2a.js"][2] == "public, max-age=31536000, immutable"
    assert answers["/assets/index-3f2a.js"][3] == SCRIPT
    assert answers["/favicon.svg"][2] == "no-cache"


def test_the_apps_own_routes_fall_back_to_index_html(dist: Path):
    answers = fetch(dist, "/experiments", "/experiments/42/report", "/login")

    for path, (status, content_type, _cache, body) in answers.items():
        assert (status, content_type, body) == (200, "text/html", INDEX), path


def test_a_missing_file_is_404_and_nothing_outside_the_build_is_served(dist: Path):
    answers = fetch(dist, "/assets/gone-1234.js", "/../secret", "/%2e%2e/secret", "/a/../../secret")

    assert answers["/assets/gone-1234.js"][0] == 404
    for path, (status, _type, _cache, body) in answers.items():
        assert status in (200, 404), path
        assert "do not serve" not in body, path


def test_api_paths_never_fall_back_to_the_ui(dist: Path):
    status, content_type, _cache, body = fetch(dist, f"{API}/nothing-here")[f"{API}/nothing-here"]

    assert (status, content_type) == (404, "application/json")
    assert INDEX not in body


def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path):
    answers = fetch(tmp_path / "webapp" / "dist", "/", "/experiments/42")

    for status, content_type, _cache, body in answers.values():
        assert (status, content_type) == (503, "text/html")
        assert "npm run build" in body
        assert "FORGE_WEBAPP_DIR" in body
