"""The layers hold: domain code imports neither Kedro nor MLflow, training/ reports through
callbacks, and nothing below the pipelines imports them (no import runs back up)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kedro_gpt"
DOMAIN = ["model", "training", "text", "tokenizer", "ingest", "finetune", "evaluation"]
FORBIDDEN = (
    "kedro",
    "kedro_mlflow",
    "kedro_datasets",
    "mlflow",
    "kedro_gpt.pipelines",
    "kedro_gpt.tracking",
    "kedro_gpt.serving",
    "kedro_gpt.hooks",
    "kedro_gpt.datasets",
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_code_imports_no_kedro_mlflow_or_upper_layer(package):
    bad = {
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / package).rglob("*.py")
        for name in _imports(path)
        if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    }
    assert not bad, sorted(bad)
