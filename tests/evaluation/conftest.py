"""Fixtures: the tiny bundle."""

from tests.bundle_fixtures import bundle, sp  # noqa: F401 - fixtures
