#!/usr/bin/env bash
# The README's first command: set up .venv from the project's own files, then run the demo clinic on the
# embedded default (a SQLite file under ./fhircrm-data): `fhircrm demo` loads it once, serves the API, the
# worker and the UI, and prints where to go. Arguments are passed to `fhircrm demo` (e.g. --port 8001).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/fhircrm demo "$@"
