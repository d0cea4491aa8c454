"""The cleaning node end to end, with real StreamingParquetDatasets in a temporary folder."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pytest
from kedro.io.core import DatasetError

from kedro_gpt.config import ConfigError
from kedro_gpt.datasets import StreamingParquetDataset
from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA, document_id
from kedro_gpt.pipelines.cleaning import create_pipeline
from kedro_gpt.pipelines.cleaning.nodes import clean_documents
from kedro_gpt.text.clean import Cleaner, EmptyCorpusError
from tests.conftest import TINY_SHAKESPEARE
from tests.text.conftest import BRITANNICA, PYTHON_DOCS, default_params, read


def row(source: str, fmt: str, text: str, position: int = 0) -> dict:
    return {
        "id": document_id(source, position),
        "source": source,
        "format": fmt,
        "title": None,
        "url": None,
        "text": text,
    }


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    """The bundled corpus as ingestion would give it, plus a copy and a too-short note."""
    shakespeare = TINY_SHAKESPEARE.read_text(encoding="utf-8")
    rows = [row("data/01_raw/tinyshakespeare/input.txt", "txt", shakespeare)]
    rows.append(row("britannica.html", "html", read(BRITANNICA)))
    for path in sorted(PYTHON_DOCS.glob("*.html")):
        rows.append(row(path.name, "html", read(path)))
    rows.append(row("notes.jsonl", "jsonl", "Too short to keep.", 1))
    rows.append(row("copy.txt", "txt", shakespeare.replace("\n", "\r\n")))
    return rows


def documents_dataset(tmp_path, rows) -> StreamingParquetDataset:
    dataset = StreamingParquetDataset(str(tmp_path / "documents.parquet"), row_group_size=2)
    dataset.save(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA))
    return dataset


def test_node_streams_the_clean_corpus(tmp_path, corpus):
    documents = documents_dataset(tmp_path, corpus).load()
    out = StreamingParquetDataset(str(tmp_path / "clean_documents.parquet"))
    stream, report, metrics = clean_documents(documents, default_params())
    with pytest.raises(RuntimeError, match="cleaning_report was read before"):
        json.dumps(report)
    out.save(stream)  # what Kedro does first; the two dicts are complete afterwards

    table = out.load().read()
    assert table.schema == DOCUMENT_SCHEMA
    rows = {r["source"]: r for r in table.to_pylist()}
    assert set(rows) == {"data/01_raw/tinyshakespeare/input.txt", "britannica.html"} | {
        p.name for p in PYTHON_DOCS.glob("*.html")
    }
    shakespeare = rows["data/01_raw/tinyshakespeare/input.txt"]["text"]
    assert shakespeare.encode("utf-8") == TINY_SHAKESPEARE.read_bytes()
    assert rows["britannica.html"]["title"] == "Britannica-11Th"

    data = json.loads(json.dumps(report))
    assert data["documents_in"] == len(corpus) and data["documents_kept"] == len(rows)
    dropped = data["dropped"]
    assert set(dropped) == set(Cleaner.rules())
    assert dropped["length"]["documents"] == 1 and dropped["exact_duplicate"]["documents"] == 1
    assert data["documents_in"] == data["documents_kept"] + sum(
        d["documents"] for d in dropped.values()
    )
    assert data["bytes_in"] == data["bytes_kept"] + sum(d["bytes"] for d in dropped.values())
    assert data["bytes_in"] == sum(len(r["text"].encode()) for r in corpus)
    assert data["parameters"]["html"]["extractor"] == "resiliparse"

    # the format kedro-mlflow's MlflowMetricsHistoryDataset logs: {name: {"value", "step"}}
    assert metrics["documents_in"] == {"value": float(len(corpus)), "step": 0}
    assert metrics["documents_kept"]["value"] == float(len(rows))
    assert metrics["dropped.exact_duplicate"]["value"] == 1.0


def test_empty_after_cleaning(tmp_path, corpus):
    documents = documents_dataset(tmp_path, corpus[-2:-1]).load()
    out = StreamingParquetDataset(str(tmp_path / "clean_documents.parquet"))
    stream, report, _ = clean_documents(documents, default_params())
    with pytest.raises(
        DatasetError, match=r"1 documents in .* 0 kept; dropped by rule: length: 1"
    ) as err:
        out.save(stream)
    assert isinstance(err.value.__cause__, EmptyCorpusError)
    assert not (tmp_path / "clean_documents.parquet").exists()  # no partial output
    assert report["dropped"]["length"]["documents"] == 1  # counted before the error


def test_bad_parameters_name_the_key(tmp_path, corpus):
    documents = documents_dataset(tmp_path, corpus[-2:-1]).load()
    params = copy.deepcopy(default_params())
    params["dedup"]["near"]["num_perm"] = 3
    with pytest.raises(ConfigError, match=r"parameters 'cleaning' -> dedup.near.num_perm"):
        clean_documents(documents, params)
    params = copy.deepcopy(default_params())
    params["filters"]["lenght"] = {"enabled": False}
    with pytest.raises(ConfigError, match=r"filters.lenght: Extra inputs are not permitted"):
        clean_documents(documents, params)


def test_pipeline_wiring():
    (node,) = create_pipeline().nodes
    assert node.name == "clean_documents"
    assert node.inputs == ["documents", "params:cleaning"]
    assert node.outputs == ["clean_documents", "cleaning_report", "cleaning_metrics"]
