"""A versioned dataset for a trained model folder (weights, config, tokenizer)."""

from __future__ import annotations

from typing import Any

from kedro.io.core import DatasetError, Version

from kedro_gpt.datasets.remote import FsspecVersionedDataset
from kedro_gpt.model.bundle import CONFIG_FILE, ModelBundle


class GPTModelDataset(FsspecVersionedDataset[ModelBundle, ModelBundle]):
    """Saves a :class:`ModelBundle` as a folder, written under a temporary name then renamed
    (or uploaded, its config last). Local or any fsspec URL (see ``remote``)."""

    marker = CONFIG_FILE

    def __init__(  # noqa: PLR0913
        self,
        filepath: str,
        version: Version | None = None,
        device: str = "cpu",
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict | None = None,
    ) -> None:
        super().__init__(filepath, version, credentials, fs_args, metadata)
        self._device = device

    def load(self) -> ModelBundle:
        folder = self._reading()
        if not (folder / CONFIG_FILE).exists():
            raise DatasetError(f"No model at {folder}")
        return ModelBundle.load(folder, device=self._device)

    def save(self, data: ModelBundle) -> None:
        if not isinstance(data, ModelBundle):
            raise DatasetError(f"GPTModelDataset saves a ModelBundle, not {type(data).__name__}")
        with self._writing() as tmp:
            tmp.mkdir(parents=True)
            data.save(tmp)
