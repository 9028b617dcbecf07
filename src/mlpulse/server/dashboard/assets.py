"""Static files: the npm packages (ECharts, htmx) from ``settings.web_assets`` (the copy
an installed wheel carries, a checkout's ``web/node_modules`` or ``MLPULSE_WEB_ASSETS``),
the dashboard's own script, style sheet and favicon. No session needed: nothing here is
data. Only the listed files are served, so no path can reach outside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from mlpulse.errors import NotFoundError
from mlpulse.server.settings import Settings

STATIC_DIR: Final = Path(__file__).parent / "static"
VENDOR: Final = {
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}
STATIC: Final = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
_CACHE: Final = {"Cache-Control": "public, max-age=3600"}

router = APIRouter(include_in_schema=False)


def assets_missing(settings: Settings) -> bool:
    """True when the npm packages are not installed (the pages say how to install them)."""
    return not all((settings.web_assets / path).is_file() for path in VENDOR.values())


@router.get("/ui/vendor/{name}")
async def vendor(request: Request, name: str) -> Response:
    settings: Settings = request.app.state.settings
    relative = VENDOR.get(name)
    if relative is None or not (settings.web_assets / relative).is_file():
        raise NotFoundError(
            f"no vendor file {name!r}: run `make` or `npm ci --prefix web` to install them"
        )
    return FileResponse(
        settings.web_assets / relative, media_type="text/javascript", headers=_CACHE
    )


@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    media = STATIC.get(name)
    if media is None:
        raise NotFoundError(f"no static file {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media, headers=_CACHE)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers=_CACHE)
