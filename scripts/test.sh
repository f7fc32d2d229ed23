#!/usr/bin/env bash
# Set up everything the tests need from the project's own files, then run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# The browser tests drive Debian's Chromium (never `playwright install`): install it when missing and we can.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# Two test processes (pytest-xdist) by default: most tests wait on PostgreSQL, servers or the browser, so two
# processes finish the suite in about two thirds of the time even on two cores. FHIRCRM_TEST_PROCESSES=0 runs
# in one process (e.g. to debug with -x or --pdb).
exec .venv/bin/python -m pytest -n "${FHIRCRM_TEST_PROCESSES:-2}" "$@"
