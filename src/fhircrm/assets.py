"""URLs of the app's static files (``smart_app/static``, served at ``/ui/static``) with a content fingerprint.

A page names ``/ui/static/app.css?v=<hash of the file>``; a request carrying the current hash may be cached for a
year (a changed file gets a new URL), anything else for an hour. Shared by the workspace and the patient pages.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

STATIC_DIR = (Path(__file__).resolve().parents[2] / "smart_app" / "static").resolve()
PREFIX = "/ui/static/"


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def fingerprint(path: str) -> str:
    """The file's current content hash ("" when there is no such file); recomputed when the file changes."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return ""
    return _digest(path, target.stat().st_mtime_ns)


def asset_url(path: str) -> str:
    """``/ui/static/<path>?v=<fingerprint>``: the URL pages use, so browsers keep the file until it changes."""
    digest = fingerprint(path)
    return f"{PREFIX}{path}?v={digest}" if digest else f"{PREFIX}{path}"
