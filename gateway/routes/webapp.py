"""`/`: the built web UI (`webapp/dist`), with the single-page app's fallback to `index.html`.

The UI routes in the browser (`/experiments/42`), so any path that is not a file of the build
and does not look like one answers `index.html`, and the app draws the page. A missing file
with an extension (`/assets/app-1234.js`) is a 404 instead: answering HTML for a script only
trades a clear error for a confusing one. Vite names the files under `assets/` by their
content's hash, so those are cached for good; everything else (`index.html` above all, which
names the current hashes) is revalidated.

The build writes `name.br` and `name.gz` beside each text file (`webapp/scripts/compress.mjs`,
once, at maximum compression), and aiohttp's `FileResponse` answers with the one the request's
`Accept-Encoding` names (brotli first), with `Content-Encoding` set; a file without such a
sibling, or a client that asks for neither, gets the plain bytes. Every answer here says
`Vary: Accept-Encoding`, so a shared cache keeps the encodings apart.

The folder is looked up on every request, so building the UI needs no gateway restart, and a
gateway without one explains how to build it instead of failing. Paths under `/api/` never
fall back to the UI: an unknown API route is a JSON 404.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from aiohttp import web

from gateway.errors import ApiError
from gateway.keys import settings
from gateway.routes import API

routes = web.RouteTableDef()

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
VARY = "Accept-Encoding"
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AzuraForge</title></head>
<body>
<h1>The AzuraForge web UI is not built</h1>
<p>The gateway serves the UI from <code>{folder}</code>, which has no <code>index.html</code>.
Build it with <code>cd webapp &amp;&amp; npm ci &amp;&amp; npm run build</code>, or point
<code>FORGE_WEBAPP_DIR</code> at a built copy; no restart is needed.</p>
<p>The REST API works without it: see <a href="{api}/openapi.json">{api}/openapi.json</a>.</p>
</body></html>
"""


@routes.route("*", "/api/{path:.*}")
async def unknown_api_route(request: web.Request) -> web.StreamResponse:
    """404 for a path no API route has; 405 naming the methods for one that has other methods.

    aiohttp would answer 405 itself, but this catch-all, which takes every method, matches first.
    """
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical.startswith(f"{API}/"):
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
    raise ApiError(
        HTTPStatus.NOT_FOUND,
        "not_found",
        f"no API route {request.method} {request.path}; the routes are listed in "
        f"{API}/openapi.json",
    )


@routes.get("/{path:.*}")
async def serve_webapp(request: web.Request) -> web.StreamResponse:
    root = settings(request).webapp_dir.resolve()
    index = root / "index.html"
    if not index.is_file():
        return web.Response(
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            text=NOT_BUILT.format(folder=root, api=API),
            content_type="text/html",
            headers={"Cache-Control": REVALIDATE},
        )
    path = request.match_info["path"]
    file = _file_in(root, path)
    if file is not None:
        cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
        return web.FileResponse(file, headers={"Cache-Control": cache, "Vary": VARY})
    if "." in path.rsplit("/", 1)[-1]:
        raise web.HTTPNotFound(text=f"{request.path} is not part of the web UI")
    return web.FileResponse(index, headers={"Cache-Control": REVALIDATE, "Vary": VARY})


def _file_in(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None (also for one that escapes `root`)."""
    if not path:
        return None
    try:
        file = (root / path).resolve()
    except (OSError, ValueError):
        return None
    if not file.is_relative_to(root) or not file.is_file():
        return None
    return file
