"""Fixtures: the tiny model bundle and tokenizer (tests/bundle_fixtures.py)."""

from tests.bundle_fixtures import bundle, sp  # noqa: F401 - fixtures
