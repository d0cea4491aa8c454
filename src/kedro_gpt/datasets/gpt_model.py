"""A versioned dataset for a trained model folder (weights, config, tokenizer)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from kedro_gpt.datasets.atomic import atomic_path
from kedro_gpt.model.bundle import CONFIG_FILE, ModelBundle


class GPTModelDataset(AbstractVersionedDataset[ModelBundle, ModelBundle]):
    """Saves a :class:`ModelBundle` as a folder, written under a temporary name then renamed."""

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        device: str = "cpu",
        metadata: dict | None = None,
    ) -> None:
        super().__init__(PurePosixPath(filepath), version)
        self._device = device
        self.metadata = metadata

    def load(self) -> ModelBundle:
        folder = Path(str(self._get_load_path()))
        if not (folder / CONFIG_FILE).exists():
            raise DatasetError(f"No model at {folder}")
        return ModelBundle.load(folder, device=self._device)

    def save(self, data: ModelBundle) -> None:
        if not isinstance(data, ModelBundle):
            raise DatasetError(f"GPTModelDataset saves a ModelBundle, not {type(data).__name__}")
        with atomic_path(Path(str(self._get_save_path()))) as tmp:
            tmp.mkdir(parents=True)
            data.save(tmp)

    def _exists(self) -> bool:
        try:
            return (Path(str(self._get_load_path())) / CONFIG_FILE).exists()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
