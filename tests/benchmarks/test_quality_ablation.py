"""benchmarks/quality.py runs its configurations as the sweep's ablation mode: a base row, a row
per configuration, the table against the base, and a resumable study."""

from __future__ import annotations

import json
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.benchmarks.scripts import run_script

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, *configs: str) -> tuple[CompletedProcess, list[dict]]:
    rows = tmp_path / "rows.json"
    proc = run_script(
        "quality.py",
        *["--minutes", "0.02", "--configs", *configs, "--threads", "1"],
        *["--storage", f"sqlite:///{tmp_path / 'quality.db'}", "--json", str(rows), "--no-write"],
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, json.loads(rows.read_text())


def test_each_configuration_is_an_ablation_row_against_the_base(tmp_path):
    proc, rows = _run(tmp_path, "rope")
    assert [r["name"] for r in rows] == ["base (baseline)", "rope"]
    assert rows[0]["delta_vs_base"] == 0.0
    assert rows[1]["delta_vs_base"] == pytest.approx(
        rows[1]["bits_per_char"] - rows[0]["bits_per_char"]
    )
    assert all(2.0 < r["bits_per_char"] < 12.0 and r["steps"] > 0 for r in rows)
    assert "| rope | {'tokenizer.vocab': 2048, 'model.rope': True} |" in proc.stdout
    # the same command again: the study already holds both rows, nothing is trained
    again, rows_again = _run(tmp_path, "rope")
    assert rows_again == rows
    assert "Trial" not in again.stderr


def test_an_unknown_configuration_is_refused_by_name(tmp_path):
    proc = run_script("quality.py", "--configs", "ropee", "--no-write", timeout=120)
    assert proc.returncode == 2 and "unknown configs ['ropee']" in proc.stderr
