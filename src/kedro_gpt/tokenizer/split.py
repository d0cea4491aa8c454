"""Deterministic train/validation split of a documents stream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import pyarrow as pa

from kedro_gpt.tokenizer.config import SplitConfig

SPLIT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
        ("char_start", pa.int64()),
        ("doc_chars", pa.int64()),
        ("text", pa.string()),
    ]
)


def _hash_unit(doc_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\0{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_offset(n_chars: int, val_fraction: float) -> int:
    """Character offset where validation starts, as nanoGPT computes it: ``int(n * (1 - f))``."""
    return int(n_chars * (1.0 - val_fraction))


def split_batches(
    batches: Iterable[pa.RecordBatch], config: SplitConfig
) -> Iterator[pa.RecordBatch]:
    """Yield SPLIT_SCHEMA batches: every input document becomes one or two rows (train / val).

    ``char_start`` is the character offset of the row's text inside its document, so the exact
    validation characters can be checked against another tool's split.
    """
    for batch in batches:
        rows: list[tuple[str, str, str, int, int, str]] = []
        columns = batch.to_pydict()
        for doc_id, source, text in zip(
            columns["id"], columns["source"], columns["text"], strict=True
        ):
            n = len(text)
            if config.mode == "document":
                split = "val" if _hash_unit(doc_id, config.seed) < config.val_fraction else "train"
                rows.append((doc_id, source, split, 0, n, text))
                continue
            k = split_offset(n, config.val_fraction)
            if k > 0:
                rows.append((doc_id, source, "train", 0, n, text[:k]))
            if k < n:
                rows.append((doc_id, source, "val", k, n, text[k:]))
        if rows:
            columns_out = [list(column) for column in zip(*rows, strict=True)]
            yield pa.RecordBatch.from_arrays(
                [pa.array(c, type=f.type) for c, f in zip(columns_out, SPLIT_SCHEMA, strict=True)],
                schema=SPLIT_SCHEMA,
            )


def iter_split_texts(table_batches: Iterable[pa.RecordBatch], split: str) -> Iterator[str]:
    """The texts of one split, in order."""
    for batch in table_batches:
        columns = batch.to_pydict()
        for name, text in zip(columns["split"], columns["text"], strict=True):
            if name == split:
                yield text
