"""Fixtures live in tests/fixtures/, one module per kind of real part."""

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.api"]
