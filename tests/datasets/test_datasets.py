"""The custom versioned datasets: streaming Parquet, token shards, sentencepiece model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kedro.io.core import DatasetError, Version

from kedro_gpt.datasets import (
    SentencePieceModelDataset,
    StreamingParquetDataset,
    TokenShardsDataset,
)
from kedro_gpt.datasets.atomic import host_tag
from kedro_gpt.tokenizer.config import SentencePieceConfig
from kedro_gpt.tokenizer.shards import TokenShards, token_dtype
from kedro_gpt.tokenizer.train import train_sentencepiece


def _batches(n: int):
    for i in range(n):
        yield pa.RecordBatch.from_pydict({"id": [f"{i}-a", f"{i}-b"], "text": ["x" * i, "y"]})


def test_parquet_streams_batches_as_row_groups(tmp_path):
    ds = StreamingParquetDataset(str(tmp_path / "docs.parquet"), version=Version(None, None))
    ds.save(_batches(5))
    loaded = ds.load()
    assert loaded.metadata.num_rows == 10
    assert loaded.metadata.num_row_groups == 5
    assert loaded.read().column("id").to_pylist()[:2] == ["0-a", "0-b"]


def test_parquet_versions_accumulate(tmp_path):
    path = str(tmp_path / "docs.parquet")
    StreamingParquetDataset(path, version=Version(None, "2026-01-01T00.00.00.000Z")).save(
        pd.DataFrame({"a": [1]})
    )
    StreamingParquetDataset(path, version=Version(None, "2026-01-02T00.00.00.000Z")).save(
        pd.DataFrame({"a": [2]})
    )
    ds = StreamingParquetDataset(path, version=Version(None, None))
    assert len(ds.list_versions()) == 2
    assert ds.load().read().column("a").to_pylist() == [2]


@pytest.mark.parametrize(
    ("error", "raised"), [(RuntimeError, DatasetError), (KeyboardInterrupt, KeyboardInterrupt)]
)
def test_failed_save_leaves_nothing_that_looks_complete(tmp_path, error, raised):
    ds = StreamingParquetDataset(str(tmp_path / "docs.parquet"), version=Version(None, None))

    def broken():
        yield from _batches(2)
        raise error("source went away")

    with pytest.raises(raised, match="source went away"):
        ds.save(broken())
    assert not ds.exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_killed_saves_are_swept_by_the_next_save(tmp_path):
    root = tmp_path / "docs.parquet"
    killed = root / "2026-01-01T00.00.00.000Z"  # a save killed mid-write left only its temporary
    killed.mkdir(parents=True)
    stale = killed / f".docs.parquet.tmp-{host_tag()}-{_dead_pid()}-0123abcd"
    stale.write_bytes(b"PAR1 half a file")
    elsewhere = root / "2026-01-01T12.00.00.000Z"  # a run in another container: its pid is not ours
    elsewhere.mkdir()
    foreign = elsewhere / f".docs.parquet.tmp-otherhost-{_dead_pid()}-0123abcd"
    foreign.write_bytes(b"PAR1 maybe still being written")
    live_owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = root / "2026-01-02T00.00.00.000Z"  # another run, still writing
        running.mkdir()
        live = running / f".docs.parquet.tmp-{host_tag()}-{live_owner.pid}-4567cdef"
        live.write_bytes(b"PAR1 being written")
        unversioned_stale = tmp_path / f".plain.parquet.tmp-{_dead_pid()}-89abcdef"  # older name
        unversioned_stale.write_bytes(b"PAR1")

        StreamingParquetDataset(str(root), version=Version(None, None)).save(_batches(1))
        StreamingParquetDataset(str(tmp_path / "plain.parquet")).save(_batches(1))

        assert not stale.exists() and not killed.exists()
        assert live.exists() and foreign.exists()
        assert not unversioned_stale.exists()
    finally:
        live_owner.kill()
        live_owner.wait()


def test_token_shards_roll_over_and_memmap(tmp_path):
    ds = TokenShardsDataset(str(tmp_path / "tokens"), version=Version(None, None), shard_size=7)
    meta = {"dtype": "uint16", "vocab_size": 100}
    ds.save(TokenShards(shards=(np.arange(i * 5, i * 5 + 5) for i in range(4)), meta=meta))
    loaded = ds.load()
    assert [len(s) for s in loaded.shards] == [7, 7, 6]
    assert isinstance(loaded.shards[0], np.memmap)
    assert loaded.concatenated().tolist() == list(range(20))
    assert loaded.meta["num_tokens"] == 20 and loaded.meta["vocab_size"] == 100


def test_token_shards_reject_ids_that_do_not_fit(tmp_path):
    ds = TokenShardsDataset(str(tmp_path / "tokens"), version=Version(None, None))
    with pytest.raises(DatasetError, match="does not fit"):
        ds.save(TokenShards(shards=[np.array([70_000])], meta={"dtype": "uint16"}))
    assert not ds.exists()


def test_token_dtype_by_vocab():
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_sentencepiece_model_round_trip(tmp_path, shakespeare_text):
    sp = train_sentencepiece([shakespeare_text[:50_000]], SentencePieceConfig(vocab_size=400))
    ds = SentencePieceModelDataset(str(tmp_path / "tok.model"), version=Version(None, None))
    ds.save(sp)
    loaded = ds.load()
    assert loaded.encode("To be, or not") == sp.encode("To be, or not")


def test_json_report_is_written_atomically(tmp_path):
    from kedro_gpt.datasets import JSONReportDataset

    ds = JSONReportDataset(filepath=str(tmp_path / "r.json"), version=Version(None, None))
    ds.save({"documents_in": 3})
    assert ds.load() == {"documents_in": 3}

    class Unserialisable:
        pass

    ds2 = JSONReportDataset(filepath=str(tmp_path / "s.json"), version=Version(None, None))
    with pytest.raises(DatasetError):
        ds2.save({"bad": Unserialisable()})
    # kedro-datasets' JSONDataset would leave an empty file that loads as the latest version
    assert not [p for p in tmp_path.joinpath("s.json").rglob("*") if p.is_file()]


def test_a_streamed_load_holds_one_batch_not_the_file(tmp_path):
    """pyarrow pre-buffers every requested row group by default: a loaded file must stream."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdefghij "), 4000)) for _ in range(64)]
    batches = (pa.record_batch({"text": texts}) for _ in range(100))  # ~25 MB, 100 row groups
    ds = StreamingParquetDataset(str(tmp_path / "big.parquet"))
    ds.save(batches)
    peak = 0
    for batch in ds.load().iter_batches(batch_size=64):
        peak = max(peak, pa.total_allocated_bytes())
        assert batch.num_rows == 64
    assert peak < 5 * 2**20, f"{peak / 2**20:.0f} MiB held while streaming a 25 MB file"
