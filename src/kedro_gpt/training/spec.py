"""The training spec: everything a worker process needs to rebuild a run, as JSON.

``{"model": {GPTConfig dict}, "train": {TrainConfig}, "train_data": {"paths", "dtype", "meta"},
"val_data": {…} | null, "out_dir": "…", "resume": false, "init_from": "…" | null}``. Token data travels as paths of flat
shard files that every worker memory-maps.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from kedro_gpt.config import StrictModel
from kedro_gpt.tokenizer.shards import TokenShards
from kedro_gpt.training.config import TrainConfig


def _file_backed(array: np.ndarray) -> str | None:
    """The file ``array`` maps in full, or None (in-memory arrays, slices, offsets)."""
    if not isinstance(array, np.memmap) or not array.filename or array.offset:
        return None
    path = Path(array.filename)
    try:
        whole = path.stat().st_size == array.size * array.itemsize
    except OSError:
        return None
    return str(path.resolve()) if whole and array.ndim == 1 else None


class ShardsSpec(StrictModel):
    """One split of token shards as files: flat arrays of ``dtype``, plus the split's meta."""

    paths: list[str]
    dtype: str
    meta: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_token_shards(
        cls, shards: TokenShards, spill_dir: str | os.PathLike[str], name: str
    ) -> ShardsSpec:
        """Describe ``shards`` by file; arrays that are not whole memmaps are written to
        ``spill_dir`` first (so in-memory data works too)."""
        dtype = np.dtype(shards.meta.get("dtype", "uint16"))
        paths: list[str] = []
        for i, array in enumerate(shards.shards):
            if len(array) == 0:
                continue
            path = _file_backed(array) if np.dtype(array.dtype) == dtype else None
            if path is None:
                target = Path(spill_dir) / f"{name}_{i:05d}.bin"
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
                np.ascontiguousarray(array, dtype=dtype).tofile(tmp)
                os.replace(tmp, target)
                path = str(target.resolve())
            paths.append(path)
        meta = {k: v for k, v in shards.meta.items() if _jsonable(v)}
        return cls(paths=paths, dtype=dtype.name, meta={**meta, "dtype": dtype.name})

    def load(self) -> TokenShards:
        """The shards as read-only memmaps (a missing file is an error naming it)."""
        arrays = []
        for path in self.paths:
            if not Path(path).is_file():
                raise FileNotFoundError(f"token shard file {path} named in the spec is missing")
            arrays.append(np.memmap(path, dtype=np.dtype(self.dtype), mode="r"))
        return TokenShards(shards=arrays, meta=dict(self.meta))


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class TrainSpec(StrictModel):
    """A complete, JSON-serialisable description of a training run."""

    model: dict[str, Any]
    train: TrainConfig
    train_data: ShardsSpec
    val_data: ShardsSpec | None = None
    out_dir: str
    resume: bool = False
    init_from: str | None = Field(
        None,
        description="a model or checkpoint folder (model.safetensors + config.json) whose weights "
        "start the run instead of a fresh init (continued pretraining); a resume wins over it",
    )

    @classmethod
    def build(
        cls,
        model: dict[str, Any],
        train: TrainConfig,
        train_data: TokenShards,
        out_dir: str | os.PathLike[str],
        val_data: TokenShards | None = None,
        resume: bool = False,
        init_from: str | os.PathLike[str] | None = None,
    ) -> TrainSpec:
        """A spec from live objects; in-memory shards are written under ``out_dir/.spec_data``."""
        spill = Path(out_dir) / ".spec_data"
        return cls(
            model=dict(model),
            train=train,
            train_data=ShardsSpec.from_token_shards(train_data, spill, "train"),
            val_data=None
            if val_data is None
            else ShardsSpec.from_token_shards(val_data, spill, "validation"),
            out_dir=str(Path(out_dir).resolve()),
            resume=resume,
            init_from=None if init_from is None else str(Path(init_from).resolve()),
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the spec as JSON (atomically); returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, target)
        return target

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> TrainSpec:
        try:
            return cls.model_validate_json(Path(path).read_text())
        except OSError as err:
            raise FileNotFoundError(f"cannot read training spec {path}: {err}") from None
