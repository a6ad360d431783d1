"""`/` serves the built web UI, falls back to `index.html` for the app's routes, never a 500."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import aiohttp
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


def fetch_encoded(webapp_dir: Path, path: str, accept: str) -> tuple[int, dict[str, str], bytes]:
    """`path` asked for with `Accept-Encoding: accept`: status, headers, and the bytes as sent."""

    async def scenario():
        settings = GatewaySettings(scheduler_addr="127.0.0.1:9", webapp_dir=webapp_dir)
        async with (
            lone_gateway(settings) as gateway,
            aiohttp.ClientSession(gateway.url, auto_decompress=False) as http,
            http.get(path, headers={"Accept-Encoding": accept}) as response,
        ):
            return response.status, dict(response.headers), await response.read()

    return asyncio.run(scenario())


@pytest.fixture
def compressed_dist(dist: Path) -> Path:
    """The build as `npm run build` leaves it: a `.br` and a `.gz` beside each text file."""
    for name in ("assets/index-3f2a.js", "index.html"):
        plain = (dist / name).read_bytes()
        (dist / f"{name}.gz").write_bytes(gzip.compress(plain))
        # Brotli's bytes are opaque to the gateway; a marker shows which file was sent.
        (dist / f"{name}.br").write_bytes(b"brotli:" + plain)
    return dist


def test_pre_compressed_files_answer_the_encoding_the_browser_accepts(compressed_dist: Path):
    path = "/assets/index-3f2a.js"

    status, headers, body = fetch_encoded(compressed_dist, path, "gzip, deflate, br, zstd")
    assert (status, headers["Content-Encoding"], body) == (200, "br", b"brotli:" + SCRIPT.encode())
    assert headers["Content-Type"].endswith("javascript")
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in headers["Vary"]

    status, headers, body = fetch_encoded(compressed_dist, path, "gzip")
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert gzip.decompress(body) == SCRIPT.encode()

    status, headers, body = fetch_encoded(compressed_dist, path, "identity")
    assert (status, body) == (200, SCRIPT.encode())
    assert "Content-Encoding" not in headers
    assert "Accept-Encoding" in headers["Vary"]


def test_index_html_is_compressed_too_and_always_revalidated(compressed_dist: Path):
    for path in ("/", "/experiments/42"):
        status, headers, body = fetch_encoded(compressed_dist, path, "gzip")
        assert (status, headers["Content-Encoding"]) == (200, "gzip")
        assert headers["Cache-Control"] == "no-cache"
        assert headers["Content-Type"].startswith("text/html")
        assert gzip.decompress(body) == INDEX.encode()


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
