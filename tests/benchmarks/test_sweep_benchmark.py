"""benchmarks/sweep.py end to end on a tiny budget: the study starts from the hand-tuned default
when asked, reports its trials, and retrains the best beside the default."""

from __future__ import annotations

import importlib
import json

import pytest

from tests.benchmarks.scripts import BENCHMARKS, run_script

pytestmark = pytest.mark.slow


def test_a_study_started_from_the_default_tries_it_first(tmp_path, monkeypatch):
    proc = run_script(
        "sweep.py",
        *["--n-trials", "2", "--trial-minutes", "0.03", "--retrain-minutes", "0.02"],
        *["--threads", "1", "--start-from-default", "--study", "smoke", "--no-write"],
        *["--out", str(tmp_path)],
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    default = importlib.import_module("sweep").default_point()
    first, second = json.loads((tmp_path / "smoke.json").read_text())["trials"]
    assert first["overrides"] == default
    assert second["overrides"] != default  # the sampler's own point
    assert "| default |" in proc.stdout and "| sweep best |" in proc.stdout
    # the parent run's plots go beside its store, not to the working directory's mlruns/
    assert list((tmp_path / "artifacts").rglob("optimization_history.png"))
