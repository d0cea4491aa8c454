"""Packed token shards: flat uint16/uint32 arrays with a JSON sidecar, read back as memmaps."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

UINT16_LIMIT = 2**16


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every id of a ``vocab_size`` vocabulary."""
    return np.dtype(np.uint16) if vocab_size <= UINT16_LIMIT else np.dtype(np.uint32)


@dataclass
class TokenShards:
    """One split of a tokenized corpus.

    ``shards`` is a sequence of 1-D integer arrays (memmaps once loaded); when saving it may be
    any iterable of arrays, consumed once, so a corpus larger than memory streams through.
    ``meta`` holds at least ``dtype`` and ``vocab_size``; the dataset adds ``num_tokens`` and
    ``shard_tokens`` when it writes.
    """

    shards: Sequence[np.ndarray] | Iterable[np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        return int(sum(len(s) for s in self.shards))  # type: ignore[arg-type]

    def concatenated(self) -> np.ndarray:
        """All tokens in one array (copies unless there is a single shard)."""
        shards = list(self.shards)
        if len(shards) == 1:
            return shards[0]
        return (
            np.concatenate(shards)
            if shards
            else np.zeros(0, dtype=self.meta.get("dtype", "uint16"))
        )
