"""Smoke test of benchmarks/data_pipeline.py on a tiny corpus, so the script cannot rot."""

from __future__ import annotations

import gzip
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, TINY_SHAKESPEARE

BENCHMARKS = PROJECT_ROOT / "benchmarks"
SCRIPT = BENCHMARKS / "data_pipeline.py"


@pytest.fixture
def data_pipeline(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their helper as `_common`
    return importlib.import_module("data_pipeline")


@pytest.fixture(scope="module")
def tiny_text() -> str:
    text = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    return text[: text.index("\n", 200_000) + 1]


def test_documents_cover_the_text_and_copies_cut_elsewhere(data_pipeline, tiny_text: str) -> None:
    copies = [list(data_pipeline.documents(tiny_text, 4000, offset)) for offset in (0, 1000)]
    longest_line = max(len(line) + 1 for line in tiny_text.splitlines())
    for docs in copies:
        assert "".join(docs) == tiny_text
        assert all(doc.endswith("\n") for doc in docs)
        # cuts fall at the first line end past each grid point, 4000 characters apart
        assert all(abs(len(doc) - 4000) < longest_line for doc in docs[1:-1])
    assert len(copies[1][0]) < 1000 + longest_line
    assert not set(copies[0]) & set(copies[1])


@pytest.mark.slow
def test_benchmark_runs_end_to_end_on_a_tiny_corpus(tmp_path: Path, tiny_text: str) -> None:
    corpus = tmp_path / "tiny.txt.gz"
    with gzip.open(corpus, "wt", encoding="utf-8") as out:
        out.write(tiny_text)
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        "# Benchmarks\n\n## HTML extraction\n\nkept as is\n\n## Data pipeline\n\nstale\n"
    )
    figures = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(corpus), "--doc-chars", "4000", "--repeats", "1"]
        + ["--multiples", "1", "4", "--workers", "1", "0"]
        + ["--docs", str(docs), "--json", str(figures)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| **whole pipeline** |" in proc.stdout

    summary = json.loads(figures.read_text())["summary"]
    assert list(summary) == ["1x, one core", "1x, every core", "4x, one core", "4x, every core"]
    one, four = summary["1x, every core"], summary["4x, every core"]
    assert "Every core over one core, 4x: whole pipeline" in proc.stdout
    # one core or every core, cleaning keeps the same documents
    assert summary["1x, one core"]["documents_kept"] == one["documents_kept"]
    assert summary["4x, one core"]["dropped"] == four["dropped"]
    text_bytes = len(tiny_text.encode("utf-8"))
    assert one["stages"]["ingestion"]["bytes"] == text_bytes
    assert four["stages"]["ingestion"]["bytes"] == 4 * text_bytes
    for run in (one, four):
        assert run["tokens_match"]  # the peer encoded exactly the stage's text
        assert run["peak_resets"]
        for stage in run["stages"].values():
            assert stage["mb_s"] > 0
            assert stage["peak_rss"] >= run["baseline_rss"] * 0.9
        assert run["pipeline"]["peak_rss"] == max(s["peak_rss"] for s in run["stages"].values())
        assert 0 < run["encode_ratio"] < 5
    # dedup keeps the shifted copies: 4x reaches tokenization with about 4x the documents
    assert four["documents_kept"] >= 3.5 * one["documents_kept"]
    assert "near_duplicate" not in four["dropped"]
    assert "exact_duplicate" not in four["dropped"]
    assert 3.5 * one["tokens"] < four["tokens"] < 4.5 * one["tokens"]

    written = docs.read_text()
    assert "## HTML extraction\n\nkept as is\n" in written
    assert "stale" not in written
    assert written.count("## Data pipeline") == 1
    assert "Encoding stage / raw `sp.encode` MB/s" in written
