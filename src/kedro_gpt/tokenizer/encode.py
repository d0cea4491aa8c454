"""Parallel encoding of documents into flat token arrays with ``<|endoftext|>`` between documents."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import sentencepiece as spm

from kedro_gpt.tokenizer.shards import token_dtype
from kedro_gpt.tokenizer.special_tokens import NEWLINE, eos_id


def chunk_text(text: str, chunk_chars: int) -> list[str]:
    """Cut ``text`` after newlines into pieces of about ``chunk_chars``.

    Newline is a reserved piece, so encoding the chunks gives exactly the tokens of the whole
    text; the chunks let one long document be encoded on several threads.
    """
    chunks: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        cut = text.find(NEWLINE, pos + chunk_chars)
        end = n if cut == -1 else cut + 1
        chunks.append(text[pos:end])
        pos = end
    return chunks


@dataclass
class EncodeStats:
    """Running totals of an encoding pass; filled as the stream is consumed."""

    documents: int = 0
    tokens: int = 0
    chars: int = 0
    bytes: int = 0
    counts: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, float]:
        used = int((self.counts > 0).sum()) if self.counts is not None else 0
        return {
            "documents": self.documents,
            "tokens": self.tokens,
            "text_chars": self.chars,
            "text_bytes": self.bytes,
            "bytes_per_token": self.bytes / self.tokens if self.tokens else 0.0,
            "chars_per_token": self.chars / self.tokens if self.tokens else 0.0,
            "vocab_used": used,
            "vocab_coverage": used / len(self.counts) if self.counts is not None else 0.0,
        }


def encode_documents(
    texts: Iterable[list[str]],
    sp: spm.SentencePieceProcessor,
    stats: EncodeStats,
    *,
    num_threads: int = 0,
    chunk_chars: int = 65536,
) -> Iterator[np.ndarray]:
    """Encode batches of documents; yield one flat array per batch, EOS before every document but the first.

    ``stats`` is updated as arrays are yielded (documents, tokens, characters, UTF-8 bytes, id counts).
    """
    vocab = sp.get_piece_size()
    dtype = token_dtype(vocab)
    eos = eos_id(sp)
    threads = num_threads or os.cpu_count() or 1
    if stats.counts is None:
        stats.counts = np.zeros(vocab, dtype=np.int64)
    for docs in texts:
        pieces: list[str] = []
        owners: list[int] = []
        for i, text in enumerate(docs):
            for chunk in chunk_text(text, chunk_chars):
                pieces.append(chunk)
                owners.append(i)
        encoded = sp.encode(pieces, num_threads=threads) if pieces else []
        parts: list[np.ndarray] = []
        previous = -1
        for owner, ids in zip(owners, encoded, strict=True):
            if owner != previous:
                if stats.documents > 0 or parts:
                    parts.append(np.array([eos], dtype=dtype))
                previous = owner
            parts.append(np.asarray(ids, dtype=dtype))
        stats.documents += len(docs)
        stats.chars += sum(len(t) for t in docs)
        stats.bytes += sum(len(t.encode("utf-8")) for t in docs)
        if parts:
            flat = np.concatenate(parts)
            stats.tokens += len(flat)
            stats.counts += np.bincount(flat, minlength=vocab)
            yield flat
