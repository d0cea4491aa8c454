"""Tokenization nodes through the real datasets: split, tokenizer, shards, report."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from kedro.io.core import Version

from kedro_gpt.config import ConfigError
from kedro_gpt.datasets import StreamingParquetDataset, TokenShardsDataset
from kedro_gpt.pipelines.tokenization.nodes import encode_corpus, split_corpus, train_tokenizer

PARAMS = {"sentencepiece": {"vocab_size": 400}, "split": {"mode": "position", "val_fraction": 0.1}}


@pytest.fixture
def clean_documents(tmp_path, shakespeare_text):
    texts = [shakespeare_text[:150_000], "A short second document.\nWith two lines.\n" * 20]
    table = pa.table(
        {
            "id": ["a", "b"],
            "source": ["input.txt", "second.txt"],
            "format": ["txt", "txt"],
            "title": [None, None],
            "url": [None, None],
            "text": texts,
        }
    )
    ds = StreamingParquetDataset(str(tmp_path / "clean.parquet"), version=Version(None, None))
    ds.save(table)
    return ds.load(), texts


def test_nodes_produce_shards_whose_meta_adds_up(tmp_path, clean_documents):
    clean, texts = clean_documents
    split_ds = StreamingParquetDataset(str(tmp_path / "split.parquet"), version=Version(None, None))
    split_ds.save(split_corpus(clean, PARAMS))
    split = split_ds.load()
    sp = train_tokenizer(split, PARAMS)
    train, val, report, metrics = encode_corpus(split, sp, PARAMS)
    saved = {}
    for name, shards in (("train", train), ("val", val)):
        ds = TokenShardsDataset(str(tmp_path / name), version=Version(None, None))
        ds.save(shards)
        saved[name] = ds.load()
    # the report is complete only once both streams were consumed, as Kedro saves them first
    val_texts = [t[int(len(t) * 0.9) :] for t in texts]
    assert (
        saved["val"].meta["text_chars"]
        == sum(len(t) for t in val_texts)
        == report["val"]["text_chars"]
    )
    assert saved["val"].meta["documents"] == 2
    assert sp.decode(saved["val"].concatenated().tolist()) == "<|endoftext|>".join(val_texts)
    assert (
        saved["train"].meta["num_tokens"]
        == report["train"]["tokens"]
        > saved["val"].meta["num_tokens"]
    )
    assert metrics["val.tokens"]["value"] == float(saved["val"].meta["num_tokens"])
    assert saved["train"].meta["tokenizer_sha256"] == report["tokenizer_sha256"]
    assert np.asarray(saved["train"].shards[0]).dtype == np.uint16


def test_bad_parameter_names_the_key(clean_documents):
    clean, _ = clean_documents
    with pytest.raises(ConfigError, match=r"parameters 'tokenization' -> split.val_fraction"):
        split_corpus(clean, {"split": {"val_fraction": 1.5}})
    with pytest.raises(ConfigError, match=r"sentencepiece.vocab_sise"):
        split_corpus(clean, {"sentencepiece": {"vocab_sise": 100}})
