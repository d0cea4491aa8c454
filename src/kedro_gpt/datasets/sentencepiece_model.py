"""A versioned dataset for a trained sentencepiece model (the ``.model`` protobuf)."""

from __future__ import annotations

from typing import Any

import sentencepiece as spm
from kedro.io.core import DatasetError

from kedro_gpt.datasets.remote import FsspecVersionedDataset


class SentencePieceModelDataset(FsspecVersionedDataset[Any, spm.SentencePieceProcessor]):
    """Saves a ``SentencePieceProcessor`` (or the serialized model bytes); loads a processor.
    Local or any fsspec URL (see ``remote``)."""

    def load(self) -> spm.SentencePieceProcessor:
        path = self._reading()
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
        with self._writing() as tmp:
            tmp.write_bytes(bytes(blob))
