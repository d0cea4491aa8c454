"""A versioned dataset for a trained sentencepiece model (the ``.model`` protobuf)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import sentencepiece as spm
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from kedro_gpt.datasets.atomic import atomic_path


class SentencePieceModelDataset(AbstractVersionedDataset[Any, spm.SentencePieceProcessor]):
    """Saves a ``SentencePieceProcessor`` (or the serialized model bytes); loads a processor."""

    def __init__(
        self, filepath: str, version: Version | None = None, metadata: dict | None = None
    ) -> None:
        super().__init__(PurePosixPath(filepath), version)
        self.metadata = metadata

    def load(self) -> spm.SentencePieceProcessor:
        path = Path(str(self._get_load_path()))
        if not path.exists():
            raise DatasetError(f"No sentencepiece model at {path}")
        return spm.SentencePieceProcessor(model_file=str(path))

    def save(self, data: spm.SentencePieceProcessor | bytes) -> None:
        blob = (
            data.serialized_model_proto() if isinstance(data, spm.SentencePieceProcessor) else data
        )
        if not isinstance(blob, bytes | bytearray) or not blob:
            raise DatasetError(
                "SentencePieceModelDataset saves a processor or non-empty model bytes"
            )
        path = Path(str(self._get_save_path()))
        with atomic_path(path) as tmp:
            tmp.write_bytes(bytes(blob))

    def _exists(self) -> bool:
        try:
            return Path(str(self._get_load_path())).exists()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
