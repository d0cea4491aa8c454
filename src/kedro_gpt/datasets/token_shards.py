"""A versioned dataset of packed token shards: ``shard_00000.bin`` … plus ``meta.json``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from kedro.io.core import DatasetError, Version

from kedro_gpt.datasets.remote import FsspecVersionedDataset
from kedro_gpt.tokenizer.shards import TokenShards

META_FILE = "meta.json"


class TokenShardsDataset(FsspecVersionedDataset[TokenShards, TokenShards]):
    """A folder of flat token arrays loaded as read-only ``np.memmap`` shards.

    Arrays are appended to the current shard file until it holds ``shard_size`` tokens, so
    saving streams whatever iterable of arrays the node returns. The folder is written under a
    temporary name and renamed when complete (uploaded, ``meta.json`` last, on a remote
    filesystem; remote shards are staged to the local cache to be memory-mapped).
    """

    marker = META_FILE

    def __init__(  # noqa: PLR0913
        self,
        filepath: str,
        version: Version | None = None,
        shard_size: int = 100_000_000,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(filepath, version, credentials, fs_args, metadata)
        if shard_size <= 0:
            raise DatasetError(f"shard_size must be positive, got {shard_size}")
        self._shard_size = shard_size

    def load(self) -> TokenShards:
        folder = self._reading()
        meta_path = folder / META_FILE
        if not meta_path.exists():
            raise DatasetError(f"No token shards at {folder} (missing {META_FILE})")
        meta = json.loads(meta_path.read_text())
        dtype = np.dtype(meta["dtype"])
        shards = [
            np.memmap(folder / name, dtype=dtype, mode="r") if count else np.zeros(0, dtype=dtype)
            for name, count in zip(meta["shard_files"], meta["shard_tokens"], strict=True)
        ]
        return TokenShards(shards=shards, meta=meta)

    def save(self, data: TokenShards) -> None:
        if not isinstance(data, TokenShards):
            raise DatasetError(f"TokenShardsDataset saves TokenShards, not {type(data).__name__}")
        if "dtype" not in data.meta:
            raise DatasetError("TokenShards.meta must name the token 'dtype'")
        dtype = np.dtype(data.meta["dtype"])
        with self._writing() as tmp:
            tmp.mkdir(parents=True)
            files: list[str] = []
            counts: list[int] = []
            handle = None
            try:
                for chunk in data.shards:
                    array = np.asarray(chunk)
                    if array.ndim != 1:
                        raise DatasetError(f"token arrays must be 1-D, got shape {array.shape}")
                    if array.size and array.max(initial=0) > np.iinfo(dtype).max:
                        raise DatasetError(f"token id {int(array.max())} does not fit {dtype}")
                    array = array.astype(dtype, copy=False)  # noqa: PLW2901
                    start = 0
                    while start < len(array):
                        if handle is None or counts[-1] >= self._shard_size:
                            if handle is not None:
                                handle.close()
                            files.append(f"shard_{len(files):05d}.bin")
                            counts.append(0)
                            handle = open(tmp / files[-1], "wb")  # noqa: SIM115
                        take = min(self._shard_size - counts[-1], len(array) - start)
                        handle.write(array[start : start + take].tobytes())
                        counts[-1] += take
                        start += take
            finally:
                if handle is not None:
                    handle.close()
            meta = {
                **data.meta,
                "dtype": dtype.name,
                "num_tokens": int(sum(counts)),
                "shard_files": files,
                "shard_tokens": counts,
            }
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "shard_size": self._shard_size}
