"""Exact and near-duplicate detection; the first occurrence of a document is the one kept.

Both compare ``dedup_text(text)``: NFKC, case-folded, every run of whitespace one space.
Exact: a 128-bit BLAKE2b digest of it. Near: MinHash over word n-gram shingles (datasketch),
candidates from MinHash LSH, confirmed by the estimated Jaccard similarity.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.util import hash_array

if TYPE_CHECKING:
    from datasketch import MinHash

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
#: Shingles hashed per ``MinHash.update_batch`` call: bounds the (chunk x num_perm) work array.
SHINGLE_CHUNK = 4096


@lru_cache(maxsize=1)  # the exact digest and the MinHash signature of one document both ask
def dedup_text(text: str) -> str:
    """The text duplicates are compared on: NFKC, case-folded, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def exact_digest(text: str) -> bytes:
    """The 128-bit BLAKE2b digest of ``dedup_text(text)``: equal for exact duplicates."""
    return hashlib.blake2b(dedup_text(text).encode("utf-8"), digest_size=16).digest()


class ExactDeduplicator:
    """Remembers a digest of every document it has kept."""

    def __init__(self) -> None:
        self._seen: dict[bytes, str] = {}

    def check_and_add(self, doc_id: str, text: str) -> str | None:
        """The id of an earlier document with the same ``dedup_text``, else remember this one."""
        return self.check_and_add_digest(doc_id, exact_digest(text))

    def check_and_add_digest(self, doc_id: str, digest: bytes) -> str | None:
        """``check_and_add`` for a digest computed elsewhere (``exact_digest``, in a worker)."""
        earlier = self._seen.get(digest)
        if earlier is None:
            self._seen[digest] = doc_id
        return earlier

    def __len__(self) -> int:
        return len(self._seen)


def _identity(value: int) -> int:
    return value


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """Distinct 32-bit hashes of the word ``size``-grams of ``dedup_text(text)``, in order of
    first appearance.

    Vectorised: each word gets a stable 64-bit value (pandas' SipHash), an n-gram a polynomial of
    its words' values (numpy, wrapping uint64), folded to 32 bits like datasketch's own sha1_hash32.
    A text of at most ``size`` words is one shingle.
    """
    words = np.asarray(dedup_text(text).split(" "), dtype=object)
    # SipHash with a fixed key: the same value in every process. categorize=False hashes each
    # word (the same values; categorize's factorize first costs 2.5x here).
    values = hash_array(words, categorize=False)
    n = min(size, len(values))
    hashes = values[: len(values) - n + 1].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            hashes = hashes * _MULTIPLIER + values[k : len(values) - n + 1 + k]
    folded = (hashes ^ (hashes >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return pd.unique(folded.astype(np.uint32))  # in order of first appearance (hash table)


class MinHasher:
    """MinHash signatures of word shingles (datasketch), computed the same in every process.

    Every distinct shingle counts (no cap): ``shingle_hashes`` hashes them with numpy, and
    datasketch's ``update_batch`` takes those hashes ``SHINGLE_CHUNK`` at a time.
    """

    def __init__(self, num_perm: int = 128, shingle_size: int = 5, seed: int = 1) -> None:
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.seed = seed
        from datasketch import MinHash  # imports scipy: only when dedup is on

        self._minhash = MinHash
        self._template = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")

    def _empty(self, hashvalues: np.ndarray | None = None) -> MinHash:
        return self._minhash(
            num_perm=self.num_perm,
            seed=self.seed,
            permutations=self._template.permutations,
            scheme=self._template.scheme,
            hashfunc=_identity,
            hashvalues=hashvalues,
        )

    def minhash(self, text: str) -> MinHash:
        """The MinHash signature of ``text``'s shingles.

        Each chunk goes to ``update_batch`` as one item whose "hash" (``_identity``) is the whole
        array: datasketch makes an array of the items' hashes, so the result is the same as
        passing the chunk's values one by one, without a Python call per shingle (a third of
        the signature's time). ``tests/text/test_dedup.py`` checks the two agree.
        """
        m = self._empty()
        values = shingle_hashes(text, self.shingle_size)
        for start in range(0, len(values), SHINGLE_CHUNK):
            m.update_batch([values[start : start + SHINGLE_CHUNK]])
        return m

    def from_signature(self, hashvalues: np.ndarray) -> MinHash:
        """The MinHash whose ``hashvalues`` a worker computed (``minhash(text).hashvalues``)."""
        return self._empty(hashvalues)


class NearDeduplicator(MinHasher):
    """MinHash LSH over word shingles: is a document a near copy of one kept before?

    Kept documents' signatures stay in memory (``num_perm`` x 8 bytes each) to confirm LSH
    candidates.
    """

    def __init__(
        self, threshold: float = 0.8, num_perm: int = 128, shingle_size: int = 5, seed: int = 1
    ) -> None:
        super().__init__(num_perm, shingle_size, seed)
        self.threshold = threshold
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._kept: dict[str, MinHash] = {}

    def check_and_add(self, doc_id: str, text: str) -> tuple[str, float] | None:
        """(id, estimated Jaccard) of the most similar earlier document at or above the threshold;
        otherwise ``None``, and this document joins the index."""
        return self.check_and_add_minhash(doc_id, self.minhash(text))

    def check_and_add_minhash(self, doc_id: str, m: MinHash) -> tuple[str, float] | None:
        """``check_and_add`` for a signature computed elsewhere."""
        best: tuple[str, float] | None = None
        for candidate in self._lsh.query(m):
            similarity = float(m.jaccard(self._kept[candidate]))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (candidate, similarity)
        if best is None:
            self._lsh.insert(doc_id, m, check_duplication=False)
            self._kept[doc_id] = m
        return best

    def __len__(self) -> int:
        return len(self._kept)
