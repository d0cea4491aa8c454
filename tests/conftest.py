"""Shared fixtures: the project root and the bundled corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_SHAKESPEARE = PROJECT_ROOT / "data" / "01_raw" / "tinyshakespeare" / "input.txt"

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def shakespeare_text() -> str:
    return TINY_SHAKESPEARE.read_text(encoding="utf-8")
