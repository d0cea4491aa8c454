"""A real ``kedro run --pipeline=cleaning``: the report and the MLflow metrics hold the final counts.

Both are filled by the stream that writes ``clean_documents``; this checks that Kedro saves them
after it (a run that saved them first would log zeros or fail).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from kedro.io.core import Version

from kedro_gpt.datasets import StreamingParquetDataset
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA, document_id
from tests.integration.kedro_project import kedro_run, make_project, mlflow_runs, versions
from tests.text.conftest import PYTHON_DOCS, read

pytestmark = pytest.mark.slow


def test_kedro_run_logs_final_figures(tmp_path, shakespeare_text):
    project = make_project(tmp_path, raw=False)
    (project / "src").mkdir(exist_ok=True)  # kedro checks it exists; the package is installed
    rows = [
        {
            "id": document_id(path.name, 0),
            "source": path.name,
            "format": "html",
            "title": None,
            "url": None,
            "text": read(path),
        }
        for path in sorted(PYTHON_DOCS.glob("*.html"))
    ]
    rows.append({**rows[0], "id": "copy", "source": "copy.html"})  # an exact duplicate
    rows.append({**rows[0], "id": "tiny", "format": "txt", "source": "n.txt", "text": "Too short."})
    rows.append(
        {
            **rows[0],
            "id": "ts",
            "format": "txt",
            "source": "ts.txt",
            "text": shakespeare_text[:20_000],
        }
    )
    StreamingParquetDataset(
        str(project / "data/02_intermediate/documents.parquet"),
        version=Version(None, "2025-01-01T00.00.00.000Z"),
    ).save(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))

    kedro_run(project, "--pipeline=cleaning")

    folder = project / "data/08_reporting/cleaning_report.json"
    report = json.loads(
        (folder / versions(project, str(folder.relative_to(project)))[-1] / folder.name).read_text()
    )
    assert report["documents_in"] == len(rows) == 7
    assert report["documents_kept"] == 5
    assert report["dropped"]["exact_duplicate"]["documents"] == 1
    assert report["dropped"]["length"]["documents"] == 1

    (run,) = mlflow_runs(project)
    metrics = run["metrics"]
    assert metrics["cleaning/documents_in"] == 7.0
    assert metrics["cleaning/documents_kept"] == 5.0
    assert metrics["cleaning/dropped/exact_duplicate"] == 1.0
    assert metrics["cleaning/bytes_in"] == report["bytes_in"] > 0
    assert run["params"]["cleaning.html.extractor"] == "resiliparse"
