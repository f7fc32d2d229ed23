"""Fixtures live in tests/fixtures/, one module per kind of real part."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.api",
    "tests.fixtures.servers",
    "tests.fixtures.smtp",
    "tests.fixtures.sekmet",
    "tests.fixtures.journeys",
    "tests.fixtures.browser",
    "tests.fixtures.populations",
]
