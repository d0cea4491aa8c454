"""The bucket index: band files per batch, pairs confirmed per band, components keep the first;
through ``clean_batches`` it finds the same planted duplicates as the in-memory index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA
from kedro_gpt.text.clean import Cleaner, clean_batches
from kedro_gpt.text.config import CleaningConfig, ClusterConfig
from kedro_gpt.text.minhash_buckets import (
    BucketWriter,
    band_pairs,
    first_of_component,
    lsh_bands,
)
from kedro_gpt.text.report import CleaningReport
from tests.text.test_parallel import _corpus

NUM_PERM = 128


def _signature(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)


def _changed(signature: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A copy with ``share`` of its values replaced (estimated Jaccard ~ 1 - share)."""
    out = signature.copy()
    where = rng.choice(NUM_PERM, int(NUM_PERM * share), replace=False)
    out[where] = rng.integers(0, 2**32, len(where), dtype=np.uint64).astype(np.uint32)
    return out


def _components(tmp_path: Path, signatures: list[np.ndarray], batch: int = 3) -> np.ndarray:
    writer = BucketWriter(tmp_path, NUM_PERM, 0.8)
    for start in range(0, len(signatures), batch):
        writer.add(np.stack(signatures[start : start + batch]))
    writer.close()
    pairs = [
        band_pairs(str(tmp_path), band, writer.count, NUM_PERM, 0.8) for band in range(writer.bands)
    ]
    return first_of_component(writer.count, np.concatenate(pairs))


def test_near_copies_join_the_first_documents_component(tmp_path):
    rng = np.random.default_rng(0)
    a, b = _signature(rng), _signature(rng)
    docs = [a, b, _changed(a, 0.05, rng), _signature(rng), a.copy(), _changed(b, 0.1, rng)]
    assert _components(tmp_path, docs).tolist() == [0, 1, 0, 3, 0, 1]


def test_a_shared_band_below_the_threshold_is_not_a_duplicate(tmp_path):
    bands, rows = lsh_bands(0.8, NUM_PERM)
    rng = np.random.default_rng(1)
    a = _signature(rng)
    other = _changed(a, 0.5, rng)
    other[:rows] = a[:rows]  # the first band collides; half the values differ
    assert _components(tmp_path, [a, other]).tolist() == [0, 1]
    assert bands * rows <= NUM_PERM


def test_a_chain_is_one_component(tmp_path):
    """A ~ B and B ~ C: B and C go, even though A and C may differ (the components' rule)."""
    rng = np.random.default_rng(2)
    a = _signature(rng)
    b = _changed(a, 0.12, rng)
    c = b.copy()
    c[np.flatnonzero(b == a)[:20]] = 7  # C moves further from A than from B
    assert np.mean(a == c) < 0.8 <= np.mean(b == c)
    assert _components(tmp_path, [a, b, c]).tolist() == [0, 0, 0]


def test_signatures_of_the_wrong_width_are_refused(tmp_path):
    writer = BucketWriter(tmp_path, NUM_PERM, 0.8)
    with pytest.raises(ValueError, match="signatures must be n × 128"):
        writer.add(np.zeros((2, 64), np.uint32))
    writer.close()


def _clean(
    table: pa.Table, workers: int, cluster: ClusterConfig | None = None, **near
) -> tuple[list[dict], dict]:
    config = CleaningConfig.model_validate(
        {"batch_size": 32, "cluster": cluster, "dedup": {"near": near}}
    )
    report = CleaningReport(Cleaner.rules(), config.max_examples)
    out = clean_batches(table.to_batches(32), config, DOCUMENT_SCHEMA, report, workers)
    kept = pa.Table.from_batches(list(out), schema=DOCUMENT_SCHEMA).to_pylist()
    summary = report.to_dict()
    summary.pop("seconds")
    summary["dropped"] = {k: v["documents"] for k, v in summary["dropped"].items()}
    return kept, summary


@pytest.fixture(scope="module")
def in_memory(shakespeare_text) -> tuple[pa.Table, list[dict], dict]:
    table = _corpus(shakespeare_text)
    return table, *_clean(table, 1)


def test_buckets_keep_what_the_memory_index_keeps(in_memory, tmp_path):
    table, kept, report = in_memory
    work = tmp_path / "work"
    bucketed, bucket_report = _clean(table, 1, index="buckets", work_dir=str(work))
    assert [d["id"] for d in bucketed] == [d["id"] for d in kept]
    assert bucketed == kept
    assert bucket_report == report
    assert report["dropped"]["near_duplicate"] >= 15  # the planted near copies
    assert list(work.iterdir()) == []  # the signature and band files are gone


def test_buckets_on_two_workers_and_on_dask_give_the_same_output(in_memory):
    table, kept, report = in_memory
    two, two_report = _clean(table, 2, index="buckets")
    assert two == kept and two_report == report
    pytest.importorskip("distributed")
    on_dask, dask_report = _clean(table, 1, ClusterConfig(local_workers=2), index="buckets")
    assert on_dask == kept and dask_report == report


def test_the_reason_names_the_kept_document(shakespeare_text):
    table = _corpus(shakespeare_text)
    config = CleaningConfig.model_validate(
        {"batch_size": 32, "dedup": {"near": {"index": "buckets"}}}
    )
    report = CleaningReport(Cleaner.rules(), 100)
    list(clean_batches(table.to_batches(32), config, DOCUMENT_SCHEMA, report, 1))
    examples = report.to_dict()["dropped"]["near_duplicate"]["examples"]
    assert any("near1" in str(e) and "near copy of p1 " in str(e) for e in examples), examples
