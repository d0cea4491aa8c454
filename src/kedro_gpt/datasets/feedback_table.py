"""The live feedback table as a (read-only) catalog dataset; its snapshot is a versioned Parquet.

kedro-datasets' ``pandas.SQLQueryDataset`` reads a table that exists; this one goes through
:class:`~kedro_gpt.feedback.store.FeedbackStore`, which creates the table in a new database, so a
project nobody has rated answers in yet loads an empty table instead of failing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.io import AbstractDataset
from kedro.io.core import DatasetError
from sqlalchemy.engine import make_url


class FeedbackTableDataset(AbstractDataset[None, pd.DataFrame]):
    """Every row of the feedback table at ``url`` (any SQLAlchemy URL), oldest first."""

    def __init__(self, url: str, metadata: dict[str, Any] | None = None) -> None:
        self.url = url
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        from kedro_gpt.feedback.store import FeedbackStore

        store = FeedbackStore(self.url)
        try:
            return store.table()
        finally:
            store.close()

    def save(self, data: None) -> None:
        raise DatasetError(
            "the feedback table is written by the server (POST /v1/feedback), not by a pipeline"
        )

    def _describe(self) -> dict[str, Any]:
        return {"url": make_url(self.url).render_as_string(hide_password=True)}
