"""Fixtures live in tests/fixtures/, one module per kind of real part."""

import os

# Tests deliver our Subscriptions to receivers on loopback (SEKMET, servers in threads) and to respx-faked hosts:
# the operator's allowlist for them, for every Settings the tests build, worker subprocesses included. Tests of
# the endpoint checks pass their own list.
os.environ.setdefault(
    "FHIRCRM_SUBSCRIPTIONS_ALLOWED_ENDPOINTS", '["127.0.0.0/8", "::1", "localhost", "subscriber.example.test"]'
)

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.api",
    "tests.fixtures.servers",
    "tests.fixtures.smtp",
    "tests.fixtures.sekmet",
    "tests.fixtures.hapi_like",
    "tests.fixtures.journeys",
    "tests.fixtures.browser",
    "tests.fixtures.populations",
]
