"""A data run killed in the middle of cleaning leaves no output that looks complete, and
``kedro run --only-missing-outputs`` then runs only what is missing: cleaning and tokenization,
not ingestion again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration.kedro_project import KEDRO, kedro_run, make_project, versions

pytestmark = pytest.mark.slow

DOCUMENTS = "data/02_intermediate/documents.parquet"
REPORT = "data/08_reporting/ingestion_report.json"  # ingestion's last output
CLEAN = "data/03_primary/clean_documents.parquet"
TOKENS = "data/05_model_input/train_tokens"


def _corpus(project, shakespeare_text: str) -> None:
    """~9 MB of JSONL documents (Shakespeare in 4 kB pieces, each copy cut elsewhere), so
    cleaning takes seconds on two cores: long enough to be killed in."""
    rows = []
    for copy in range(8):
        text = shakespeare_text[copy * 500 :]
        rows += [{"text": text[i : i + 4000]} for i in range(0, len(text), 4000)]
    path = project / "data" / "01_raw" / "pieces.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_killed_run_resumes_with_only_the_missing_stages(tmp_path, shakespeare_text):
    project = make_project(
        tmp_path,
        local_params={
            "parameters_ingestion": {
                "ingestion": {"sources": [{"path": "data/01_raw/pieces.jsonl"}]}
            },
            "parameters_tokenization": {"tokenization": {"sentencepiece": {"vocab_size": 512}}},
        },
        raw=False,
    )
    _corpus(project, shakespeare_text)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(
        [str(KEDRO), "run", "--pipelines=data"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its cleaning workers too
    )
    deadline = time.monotonic() + 300
    while not (_complete(project, DOCUMENTS) and _complete(project, REPORT)):
        assert run.poll() is None, "the run ended before ingestion saved its outputs"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # cleaning under way
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert _complete(project, CLEAN) == []  # a killed save leaves at most a temporary file
    first = _complete(project, DOCUMENTS)

    proc = kedro_run(project, "--pipelines=data", "--only-missing-outputs")
    assert _complete(project, DOCUMENTS) == first  # ingestion did not run again
    assert len(_complete(project, CLEAN)) == 1
    assert len(_complete(project, TOKENS)) == 1
    assert "ingest_documents" not in _ran(proc.stdout + proc.stderr)


def _complete(project, relative: str) -> list[str]:
    """The versions of a dataset whose file (or folder) is in place: what Kedro can load."""
    folder = project / relative
    if not folder.exists():
        return []
    return [v for v in versions(project, relative) if (folder / v / folder.name).exists()]


def _ran(log: str) -> str:
    """The log lines of the nodes that ran."""
    return "\n".join(line for line in log.splitlines() if "Running node" in line)
