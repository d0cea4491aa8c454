"""Near-duplicate detection that never holds an index of every document: MinHash signatures and
their LSH band hashes go to files as batches arrive, each band's file is then sorted on its own
(one task per band, on any executor), candidate pairs are confirmed by the signatures' estimated
Jaccard similarity, and duplicates are resolved by connected components (datatrove's and NeMo
Curator's approach). In each component the document that came first is kept.

Memory: a band task holds one band's records (12 bytes per document) and reads the signatures it
compares from a memory-mapped file; the components need ~16 bytes per document. Nothing grows
with the text. Every file lives in one folder, which must be shared when the band tasks run on
other machines.

Unlike the in-memory index (greedy: a document is compared with the documents kept before it),
a chain A ~ B ~ C drops B and C even when A and C differ: the components' rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIGNATURES = "signatures.u32"
_RECORD = np.dtype([("hash", "<u8"), ("index", "<u4")])
_MIX = np.uint64(0x9E3779B97F4A7C15)


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) for ``threshold``: datasketch's choice, so both indexes band alike."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit hash per (document, band): a wrapping polynomial over the band's rows."""
    sig = signatures.astype(np.uint64, copy=False)
    out = np.zeros((len(sig), bands), np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(len(sig), band + 1, np.uint64)
            for k in range(band * rows, (band + 1) * rows):
                h = h * _MIX + sig[:, k]
            out[:, band] = h ^ (h >> np.uint64(29))
    return out


class BucketWriter:
    """Appends each batch's signatures and band records to the folder's files."""

    def __init__(self, folder: Path, num_perm: int, threshold: float) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.num_perm = num_perm
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        self.count = 0
        self._signatures = open(self.folder / SIGNATURES, "wb")  # noqa: SIM115 - closed in close()
        self._bands = [
            open(self.folder / f"band_{b:03d}.bin", "wb")  # noqa: SIM115
            for b in range(self.bands)
        ]

    def add(self, signatures: np.ndarray) -> np.ndarray:
        """Record the next documents' signatures (``n × num_perm``); returns their indexes."""
        signatures = np.ascontiguousarray(signatures, dtype=np.uint32)
        if signatures.ndim != 2 or signatures.shape[1] != self.num_perm:
            raise ValueError(f"signatures must be n × {self.num_perm}, not {signatures.shape}")
        indexes = np.arange(self.count, self.count + len(signatures), dtype=np.uint32)
        self._signatures.write(signatures.tobytes())
        hashes = band_hashes(signatures, self.bands, self.rows)
        for band, file in enumerate(self._bands):
            records = np.empty(len(indexes), _RECORD)
            records["hash"], records["index"] = hashes[:, band], indexes
            file.write(records.tobytes())
        self.count += len(signatures)
        return indexes

    def close(self) -> None:
        for file in (self._signatures, *self._bands):
            file.close()


def band_pairs(
    folder: str, band: int, count: int, num_perm: int, threshold: float, max_checks: int = 8
) -> np.ndarray:
    """The confirmed pairs ``(earlier, later)`` of one band: documents whose band hashes are
    equal and whose signatures agree on at least ``threshold`` of their values. Each later member
    of a bucket is compared with up to ``max_checks`` earlier ones, first to last, until one
    confirms (a component needs one edge per member). Runs anywhere the folder is readable."""
    root = Path(folder)
    records = np.fromfile(root / f"band_{band:03d}.bin", dtype=_RECORD)
    order = np.lexsort((records["index"], records["hash"]))
    hashes, indexes = records["hash"][order], records["index"][order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(hashes)])
    signatures = np.memmap(root / SIGNATURES, np.uint32, mode="r", shape=(count, num_perm))
    pairs: list[tuple[int, int]] = []
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
        members = indexes[start : start + size]
        for k in range(1, len(members)):
            later = signatures[members[k]]
            for earlier in members[: min(k, max_checks)]:
                if np.mean(signatures[earlier] == later) >= threshold:
                    pairs.append((int(earlier), int(members[k])))
                    break
    return np.asarray(pairs, np.int64).reshape(-1, 2)


def first_of_component(count: int, pairs: np.ndarray) -> np.ndarray:
    """For each document, the smallest index in its connected component (itself when alone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(pairs) == 0:
        return np.arange(count, dtype=np.int64)
    graph = coo_matrix(
        (np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(count, count)
    )
    _, labels = connected_components(graph, directed=False)
    first = np.full(labels.max() + 1, count, np.int64)
    np.minimum.at(first, labels, np.arange(count, dtype=np.int64))
    return first[labels]
