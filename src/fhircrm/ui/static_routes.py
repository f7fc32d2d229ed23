"""``/ui/static/...``: the app's CSS and vendored scripts, served from ``smart_app/static`` (no build chain)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from fhircrm.ui.web import APP_DIR, PageError, PageRoute

router = APIRouter(route_class=PageRoute)
STATIC = (APP_DIR / "static").resolve()
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".txt": "text/plain"}


@router.get("/static/{path:path}", name="ui_static")
async def static(path: str) -> FileResponse:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file() or target.suffix not in TYPES:
        raise PageError("no such file", status=404, title="Not found")
    return FileResponse(target, media_type=TYPES[target.suffix], headers={"Cache-Control": "public, max-age=3600"})
