"""Contamination check: how many of an evaluation set's word n-grams occur in the training text.

N-grams are lower-cased word tuples hashed to 64 bits (``hashlib.blake2b``); the training side
is streamed, so a large corpus only costs its distinct n-gram hashes in memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

WORD = re.compile(r"\w+")


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Distinct 64-bit hashes of the text's lower-cased word n-grams."""
    words = WORD.findall(text.lower())
    grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    return np.unique(
        np.fromiter(
            (
                int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                for g in grams
            ),
            dtype=np.uint64,
            count=len(grams),
        )
    )


def corpus_hashes(texts: Iterable[str], n: int) -> np.ndarray:
    """Distinct n-gram hashes of a stream of training texts."""
    parts = [ngram_hashes(t, n) for t in texts]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)


def overlap(eval_texts: Iterable[str], train: np.ndarray, n: int) -> dict[str, float]:
    """Share of the evaluation set's n-grams (and of its texts with any) found in ``train``."""
    texts = list(eval_texts)
    per_text = [ngram_hashes(t, n) for t in texts]
    grams = np.unique(np.concatenate(per_text)) if per_text else np.empty(0, dtype=np.uint64)
    hit = np.isin(grams, train)
    touched = sum(bool(np.isin(h, train).any()) for h in per_text if len(h))
    return {
        "ngram": float(n),
        "eval_ngrams": float(len(grams)),
        "overlap": float(hit.mean()) if len(grams) else 0.0,
        "texts_with_overlap": float(touched / len(texts)) if texts else 0.0,
    }
