"""``/ui/static/...``: the app's CSS and vendored scripts, served from ``smart_app/static`` (no build chain)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from fhircrm.assets import fingerprint
from fhircrm.ui.web import APP_DIR, PageError, PageRoute

router = APIRouter(route_class=PageRoute)
STATIC = (APP_DIR / "static").resolve()
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".txt": "text/plain"}


YEAR = "public, max-age=31536000, immutable"  # the URL names the content (fhircrm.assets): it never changes
HOUR = "public, max-age=3600"


@router.get("/static/{path:path}", name="ui_static")
async def static(path: str, v: str = "") -> FileResponse:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file() or target.suffix not in TYPES:
        raise PageError("no such file", status=404, title="Not found")
    cache = YEAR if v and v == fingerprint(path) else HOUR
    return FileResponse(target, media_type=TYPES[target.suffix], headers={"Cache-Control": cache})
