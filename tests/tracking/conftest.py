"""The training tests' token shards and peak cache, for callbacks that follow a real run."""

from __future__ import annotations

from tests.training.conftest import _matmul_cache, _peak_cache, splits  # noqa: F401 - fixtures
