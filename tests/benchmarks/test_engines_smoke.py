"""benchmarks/engines.py on a small corpus: every engine installed here runs the same
preparation and equals the in-process reference; an engine that is not installed is a row that
says so."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

from tests.benchmarks.scripts import run_script
from tests.conftest import TINY_SHAKESPEARE

pytestmark = pytest.mark.slow


def test_engines_prepare_the_same_batches(tmp_path: Path) -> None:
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    corpus = tmp_path / "tiny.txt.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as out:
        out.write(text[: text.index("\n", 300_000) + 1])
    proc = run_script(
        "engines.py", str(corpus), "--doc-chars", "2000", "--repeats", "1", "--no-write"
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Every pass of every engine gave the same preparations" in proc.stdout
    assert "| local process pool (workers: 0) | 0.0 |" in proc.stdout
    assert "| Dask LocalCluster | " in proc.stdout
    for engine, module in (("Ray", "ray"), ("Spark (local mode)", "pyspark")):
        if importlib.util.find_spec(module) is None:
            assert f"| {engine} | skipped: {module} is not installed |" in proc.stdout
