"""Our datasets on object storage: a real S3-compatible server (moto's server mode) on loopback,
reached through s3fs with credentials as conf/local/credentials.yml would give them."""

from __future__ import annotations

import socket

import numpy as np
import pyarrow as pa
import pytest
import torch
from kedro.io import DataCatalog
from kedro.io.core import DatasetError, Version

from kedro_gpt.datasets import (
    GPTModelDataset,
    SentencePieceModelDataset,
    StreamingParquetDataset,
    TokenShardsDataset,
)
from kedro_gpt.tokenizer.shards import TokenShards

s3fs = pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "kedro-gpt-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def credentials():
    """The server's credentials, shaped like a conf/local/credentials.yml entry for s3fs."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    creds = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": "eu-west-1"},
    }
    s3fs.S3FileSystem(**creds).mkdir(BUCKET)
    yield creds
    server.stop()


@pytest.fixture
def fs(credentials):
    s3 = s3fs.S3FileSystem(**credentials, skip_instance_cache=True)
    return s3


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KEDRO_GPT_CACHE", str(tmp_path / "cache"))


def _batches():
    for start in range(0, 30, 10):
        yield pa.record_batch({"id": [str(i) for i in range(start, start + 10)]})


def test_parquet_versions_land_in_the_bucket_and_load_back(credentials, fs, tmp_path):
    url = f"s3://{BUCKET}/{tmp_path.name}/documents.parquet"
    first = StreamingParquetDataset(url, Version(None, None), credentials=credentials)
    first.save(_batches())
    second = StreamingParquetDataset(url, Version(None, None), credentials=credentials)
    second.save(pa.table({"id": ["only"]}))
    versions = fs.ls(f"{BUCKET}/{tmp_path.name}/documents.parquet")
    assert len(versions) == 2
    latest = StreamingParquetDataset(url, Version(None, None), credentials=credentials).load()
    assert latest.read().column("id").to_pylist() == ["only"]
    oldest = versions[0].rsplit("/", 1)[1]
    pinned = StreamingParquetDataset(url, Version(oldest, None), credentials=credentials).load()
    assert pinned.read().num_rows == 30 and pinned.metadata.num_row_groups == 3


def test_a_failed_save_uploads_nothing(credentials, fs, tmp_path):
    url = f"s3://{BUCKET}/{tmp_path.name}/broken.parquet"
    dataset = StreamingParquetDataset(url, Version(None, None), credentials=credentials)

    def failing():
        yield pa.record_batch({"id": ["a"]})
        raise RuntimeError("the stream broke")

    with pytest.raises(DatasetError, match="the stream broke"):
        dataset.save(failing())
    assert not fs.exists(f"{BUCKET}/{tmp_path.name}/broken.parquet")
    assert not StreamingParquetDataset(url, Version(None, None), credentials=credentials).exists()


def test_token_shards_are_staged_locally_and_memory_mapped(credentials, tmp_path):
    url = f"s3://{BUCKET}/{tmp_path.name}/train_tokens"
    tokens = np.arange(2500, dtype=np.uint16)
    TokenShardsDataset(url, Version(None, None), shard_size=1000, credentials=credentials).save(
        TokenShards(shards=iter([tokens[:1200], tokens[1200:]]), meta={"dtype": "uint16"})
    )
    loaded = TokenShardsDataset(url, Version(None, None), credentials=credentials).load()
    assert [len(s) for s in loaded.shards] == [1000, 1000, 500]
    assert isinstance(loaded.shards[0], np.memmap)
    assert str(tmp_path / "cache") in str(loaded.shards[0].filename)
    np.testing.assert_array_equal(np.concatenate(loaded.shards), tokens)


def test_a_model_without_its_marker_is_not_a_version(
    credentials, fs, tmp_path, bundle, monkeypatch
):
    url = f"s3://{BUCKET}/{tmp_path.name}/gpt_model"
    GPTModelDataset(url, Version(None, None), credentials=credentials).save(bundle)
    loaded = GPTModelDataset(url, Version(None, None), credentials=credentials).load()
    for name, weight in bundle.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], weight), name
    (version,) = fs.ls(f"{BUCKET}/{tmp_path.name}/gpt_model")
    config = next(p for p in fs.find(version) if p.endswith("/config.json"))
    fs.rm(config)  # as if the upload stopped before its last file
    monkeypatch.setenv("KEDRO_GPT_CACHE", str(tmp_path / "fresh-cache"))
    with pytest.raises(DatasetError):
        GPTModelDataset(url, Version(None, None), credentials=credentials).load()


def test_the_catalog_resolves_credentials_by_name(credentials, tmp_path, sp):
    catalog = DataCatalog.from_config(
        {
            "tokenizer": {
                "type": "kedro_gpt.datasets.SentencePieceModelDataset",
                "filepath": f"s3://{BUCKET}/{tmp_path.name}/tokenizer.model",
                "versioned": True,
                "credentials": "object_store",
            }
        },
        credentials={"object_store": credentials},
    )
    catalog.save("tokenizer", sp)
    loaded = catalog.load("tokenizer")
    assert loaded.encode("To be, or not to be") == sp.encode("To be, or not to be")
    assert isinstance(catalog.get("tokenizer"), SentencePieceModelDataset)
