"""Tokenization nodes: split the corpus, train sentencepiece, encode into packed shards."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sentencepiece as spm

from kedro_gpt.config import parse_params
from kedro_gpt.tokenizer.config import TokenizationConfig
from kedro_gpt.tokenizer.encode import EncodeStats, encode_documents
from kedro_gpt.tokenizer.shards import TokenShards, token_dtype
from kedro_gpt.tokenizer.split import split_batches
from kedro_gpt.tracking.metrics import metric_history

READ_BATCH = 256


def _config(params: dict[str, Any]) -> TokenizationConfig:
    return parse_params(TokenizationConfig, params, "tokenization")


def split_corpus(
    clean_documents: pq.ParquetFile, params: dict[str, Any]
) -> Iterator[pa.RecordBatch]:
    """Split every clean document into train and validation rows (a stream of batches)."""
    config = _config(params)
    return split_batches(clean_documents.iter_batches(batch_size=READ_BATCH), config.split)


def _texts(split_documents: pq.ParquetFile, split: str, batch: int) -> Iterator[list[str]]:
    for record in split_documents.iter_batches(batch_size=batch, columns=["split", "text"]):
        texts = record.filter(pc.equal(record.column("split"), split)).column("text").to_pylist()
        if texts:
            yield texts


def train_tokenizer(
    split_documents: pq.ParquetFile, params: dict[str, Any]
) -> spm.SentencePieceProcessor:
    """Train sentencepiece on the training split only, so validation text stays unseen."""
    from kedro_gpt.tokenizer.train import train_sentencepiece

    config = _config(params)
    texts = (t for batch in _texts(split_documents, "train", READ_BATCH) for t in batch)
    return train_sentencepiece(texts, config.sentencepiece)


def model_tokenizer(base_model: Any) -> Any:
    """The tokenizer a model was trained with (new text for that model is encoded with it)."""
    return base_model.tokenizer


def _split_meta(
    split_documents: pq.ParquetFile, split: str, limit: int = 1000
) -> list[dict[str, Any]]:
    """Where each document's text of this split starts (character offsets), for the first ``limit`` rows."""
    rows: list[dict[str, Any]] = []
    for record in split_documents.iter_batches(
        batch_size=4096, columns=["id", "source", "split", "char_start", "doc_chars"]
    ):
        for row in record.to_pylist():
            if row["split"] == split:
                rows.append({k: row[k] for k in ("id", "source", "char_start", "doc_chars")})
                if len(rows) >= limit:
                    return rows
    return rows


def encode_corpus(
    split_documents: pq.ParquetFile, tokenizer: spm.SentencePieceProcessor, params: dict[str, Any]
) -> tuple[TokenShards, TokenShards, dict[str, Any], dict[str, dict[str, float]]]:
    """Encode both splits into packed shards; the report and metrics fill in as the shards are written."""
    config = _config(params)
    vocab = tokenizer.get_piece_size()
    tokenizer_sha = hashlib.sha256(tokenizer.serialized_model_proto()).hexdigest()
    report: dict[str, Any] = {
        "vocab_size": vocab,
        "tokenizer_sha256": tokenizer_sha,
        "split": config.split.model_dump(),
    }
    metrics: dict[str, dict[str, float]] = {}
    outputs = []
    for split in ("train", "val"):
        meta: dict[str, Any] = {
            "split": split,
            "dtype": token_dtype(vocab).name,
            "vocab_size": vocab,
            "tokenizer_sha256": tokenizer_sha,
            "split_mode": config.split.mode,
            "val_fraction": config.split.val_fraction,
            "documents_index": _split_meta(split_documents, split),
        }
        stats = EncodeStats()

        def shards(split: str = split, stats: EncodeStats = stats, meta: dict = meta) -> Iterator:
            yield from encode_documents(
                _texts(split_documents, split, config.encode.batch_documents),
                tokenizer,
                stats,
                num_threads=config.encode.num_threads,
                chunk_chars=config.encode.chunk_chars,
            )
            summary = stats.as_dict()
            meta.update(
                {k: summary[k] for k in ("documents", "text_chars", "text_bytes")},
                tokens=summary["tokens"],
            )
            report[split] = summary
            metrics.update(metric_history({f"{split}.{k}": v for k, v in summary.items()}))

        outputs.append(TokenShards(shards=shards(), meta=meta))
    return outputs[0], outputs[1], report, metrics
