"""What the long-running commands (``fhircrm serve``, ``fhircrm demo``) print to a terminal.

By default the chatty third-party loggers stay at WARNING: APScheduler logs two INFO lines per periodic job
X
person needs (the demo's banner with its URLs, uvicorn's "running on") stay readable. ``--verbose`` shows all.
"""

from __future__ import annotations

import logging

CHATTY = ("apscheduler", "httpx", "httpcore", "uvicorn.access", "alembic")


def quiet_logs(verbose: bool = False) -> None:
    """Chatty loggers at WARNING unless ``verbose`` (then everything at INFO, fhircrm's own at DEBUG)."""
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        logging.getLogger("fhircrm").setLevel(logging.DEBUG)
