"""kedro-datasets' JSONDataset, written atomically on the local filesystem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset

from kedro_gpt.datasets.atomic import atomic_path


class JSONReportDataset(JSONDataset):
    """A versioned JSON report: a failed or interrupted save leaves no file behind.

    Remote filesystems (``s3://`` …) fall back to JSONDataset's own write.
    """

    def save(self, data: Any) -> None:
        if self._protocol != "file":
            super().save.__wrapped__(self, data)  # type: ignore[attr-defined]
            return
        path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        text = json.dumps(data, **self._save_args)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        self._invalidate_cache()
