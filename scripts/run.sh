#!/usr/bin/env bash
# Set up and start fhircrm on the embedded default (a SQLite file under ./fhircrm-data).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/fhircrm serve "$@"
