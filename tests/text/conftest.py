"""Fixtures for the cleaning tests: real text excerpts and the default parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

PARAMETERS = PROJECT_ROOT / "conf" / "base" / "parameters_cleaning.yml"
HTML_DIR = PROJECT_ROOT / "data" / "01_raw" / "html"
BRITANNICA = HTML_DIR / "britannica" / "britannica_1911_shakespeare.html"
PYTHON_DOCS = HTML_DIR / "python_docs"


def default_params() -> dict[str, Any]:
    """The ``cleaning`` parameters exactly as conf/base ships them."""
    return yaml.safe_load(PARAMETERS.read_text(encoding="utf-8"))["cleaning"]


@pytest.fixture(scope="session")
def excerpts(shakespeare_text: str) -> list[str]:
    """Eight different 3,000-character passages of Tiny Shakespeare, cut at line ends."""
    out = []
    for k in range(8):
        start = shakespeare_text.index("\n\n", 100_000 * k + 1) + 2
        end = shakespeare_text.rindex("\n", start, start + 3000)
        out.append(shakespeare_text[start:end])
    return out


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
