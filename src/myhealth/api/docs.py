"""The interactive docs page (`/docs`) and the index (`GET /`), served by this process alone.

A home server often has no internet, so the page loads nothing from another host: Swagger UI's
script, stylesheet and icon come from the `fastapi-offline` wheel (pinned in uv.lock) and are
served under `/docs/static/`. The page's start-up code is a static file too, not an inline
script, so the page's Content-Security-Policy can allow scripts from this origin only
(`guards.DOCS_CSP`).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.responses import HTMLResponse, Response

STATIC_PATH = "/docs/static"
# The files of the wheel the page needs, with the type browsers insist on under `nosniff`.
PACKAGED_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
START_SCRIPT = "start.js"


def _packaged(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def _start_script(openapi_url: str) -> bytes:
    # validatorUrl null: Swagger UI would otherwise fetch a badge from swagger.io.
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "validatorUrl": None,
    }
    return (
        f"const options = {json.dumps(options)};\n"
        "options.presets = [\n"
        "  SwaggerUIBundle.presets.apis,\n"
        "  SwaggerUIBundle.SwaggerUIStandalonePreset,\n"
        "];\n"
        "options.layout = 'BaseLayout';\n"
        "window.ui = SwaggerUIBundle(options);\n"
    ).encode()


def _page(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{STATIC_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{STATIC_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC_PATH}/swagger-ui-bundle.js"></script>
<script src="{STATIC_PATH}/{START_SCRIPT}"></script>
</body>
</html>
"""


def docs_router(*, title: str, version: str, docs_url: str, openapi_url: str) -> APIRouter:
    """`GET /`, `GET {docs_url}` and its assets; none of them is part of the OpenAPI document.

    The assets are read once, here: a missing file fails the app at start, not a browser later.
    """
    assets: dict[str, tuple[bytes, str]] = {
        name: (_packaged(name), media_type) for name, media_type in PACKAGED_ASSETS.items()
    }
    assets[START_SCRIPT] = (_start_script(openapi_url), "text/javascript; charset=utf-8")
    page = _page(f"{title} – interactive docs")
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def index() -> dict[str, Any]:
        return {
            "name": title,
            "version": version,
            "links": {
                "docs": docs_url,
                "openapi": openapi_url,
                "health": "/health",
                "ready": "/ready",
                "login": "/auth/login",
            },
        }

    @router.get(docs_url)
    async def interactive_docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(STATIC_PATH + "/{name}")
    async def docs_asset(name: str) -> Response:
        if name not in assets:
            raise HTTPException(404, "no such file")
        content, media_type = assets[name]
        return Response(content, media_type=media_type)

    return router
