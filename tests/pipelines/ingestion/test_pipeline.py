"""The ingestion node and pipeline end to end, through the real StreamingParquetDataset."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.io.core import Version
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset

from kedro_gpt.config import ConfigError
from kedro_gpt.datasets import StreamingParquetDataset
from kedro_gpt.ingest import DOCUMENT_SCHEMA, document_id
from kedro_gpt.pipelines.ingestion import create_pipeline
from kedro_gpt.pipelines.ingestion.nodes import ingest_documents

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def corpus(tmp_path: Path) -> dict:
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "a.txt").write_text("To be, or not to be.")
    (folder / "b.html").write_text("<title>B</title><p>bee</p>")
    (folder / "c.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n')
    return {"sources": [{"path": str(folder), "glob": "*"}], "batch_size": 2}


def test_pipeline_wiring() -> None:
    [node] = create_pipeline().nodes
    assert node.name == "ingest_documents"
    assert node.inputs == ["params:ingestion"]
    assert node.outputs == ["documents", "ingestion_report"]


def test_node_output_saved_and_loaded_through_streaming_parquet(tmp_path: Path) -> None:
    params = corpus(tmp_path)
    ids = []
    for run in range(2):
        dataset = StreamingParquetDataset(filepath=str(tmp_path / f"documents_{run}.parquet"))
        batches, report = ingest_documents(params)
        dataset.save(batches)
        loaded = dataset.load()
        assert loaded.schema_arrow == DOCUMENT_SCHEMA
        assert loaded.metadata.num_row_groups == 2  # two batches of at most 2 documents
        table = loaded.read()
        assert table.column("text").to_pylist() == [
            "To be, or not to be.",
            "<title>B</title><p>bee</p>",
            "one",
            "two",
        ]
        assert table.column("title").to_pylist() == [None, "B", None, None]
        assert report["complete"] is True and report["total"]["documents"] == 4
        ids.append(table.column("id").to_pylist())
    assert ids[0] == ids[1]
    assert ids[0][3] == document_id(str(tmp_path / "raw" / "c.jsonl"), 2)


def test_kedro_run_saves_documents_then_a_complete_report(tmp_path: Path) -> None:
    catalog = DataCatalog(
        {
            "documents": StreamingParquetDataset(
                filepath=str(tmp_path / "documents.parquet"), version=Version(None, None)
            ),
            "ingestion_report": JSONDataset(filepath=str(tmp_path / "report.json")),
        }
    )
    catalog["params:ingestion"] = corpus(tmp_path)
    SequentialRunner().run(create_pipeline(), catalog)
    report = catalog.load("ingestion_report")
    assert report["complete"] is True
    assert report["total"]["documents"] == 4 and report["batches"] == 2
    assert catalog.load("documents").metadata.num_rows == 4


def test_bad_parameter_names_the_key(tmp_path: Path) -> None:
    params = corpus(tmp_path) | {"batch_size": "many"}
    with pytest.raises(
        ConfigError, match=r"parameters 'ingestion' -> batch_size: Input should be a valid integer"
    ):
        ingest_documents(params)


def test_default_parameters_ingest_the_bundled_corpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    params = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_ingestion.yml").read_text())
    batches, report = ingest_documents(params["ingestion"])
    dataset = StreamingParquetDataset(filepath=str(tmp_path / "documents.parquet"))
    dataset.save(batches)
    table = pq.read_table(tmp_path / "documents.parquet")
    assert table.column("format").to_pylist() == ["txt"] + ["html"] * 5
    assert table.column("text")[0].as_py().startswith("First Citizen:")
    assert report["total"]["documents"] == 6 and report["total"]["binary_files"] == 0
