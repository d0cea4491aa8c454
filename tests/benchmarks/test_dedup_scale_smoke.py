"""Smoke test of benchmarks/dedup_scale.py: planted copies through the real pipeline with the
bucket index; the dedup must find them (so the script, and the bucket index, cannot rot)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.benchmarks.scripts import run_script
from tests.conftest import TINY_SHAKESPEARE


@pytest.mark.slow
def test_planted_copies_are_found_through_the_pipeline(tmp_path: Path) -> None:
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    corpus = tmp_path / "tiny.txt.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as out:
        out.write(text[: text.index("\n", 300_000) + 1])
    figures = tmp_path / "figures.json"
    proc = run_script(
        "dedup_scale.py",
        *[str(corpus), "--target-mb", "3", "--doc-chars", "4000"],
        *["--json", str(figures), "--no-write"],
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    scores = json.loads(figures.read_text())["scores"]
    assert scores["planted"] > 300  # ~1.8 MB of copies of ~4 KB documents
    assert scores["recall"] >= 0.95 and scores["precision"] >= 0.95, scores
    assert scores["originals_kept_full"] == scores["originals_kept_4x"]  # no original lost
    assert "**Dedup recall" in proc.stdout
