"""A versioned Parquet dataset that streams: it saves batches as row groups and loads lazily.

Nodes that handle corpora larger than memory return an iterable of Arrow record batches;
this dataset writes them one row group at a time, so the whole table never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import DatasetError, Version
from kedro_datasets._typing import TablePreview

from kedro_gpt.datasets.atomic import sweep_stale_temporaries
from kedro_gpt.datasets.remote import FsspecVersionedDataset

TableLike = pa.Table | pa.RecordBatch | pd.DataFrame


def _to_table(part: TableLike) -> pa.Table:
    if isinstance(part, pa.Table):
        return part
    if isinstance(part, pa.RecordBatch):
        return pa.Table.from_batches([part])
    if isinstance(part, pd.DataFrame):
        return pa.Table.from_pandas(part, preserve_index=False)
    raise DatasetError(
        f"StreamingParquetDataset can save a pyarrow Table, RecordBatch, pandas DataFrame or an "
        f"iterable of them, not {type(part).__name__}"
    )


class StreamingParquetDataset(FsspecVersionedDataset[Any, pq.ParquetFile]):
    """Parquet file written row group by row group; loads as a ``pyarrow.parquet.ParquetFile``.

    ``save`` takes a Table, RecordBatch or DataFrame, or any iterable of them (for example a
    generator of batches). ``load`` returns a ``ParquetFile``: iterate ``iter_batches()`` to stream,
    or call ``read()`` for a small table. An empty iterable writes an empty file with ``schema``.

    A save that fails removes its temporary file; one that was killed (and so could not) has
    its temporary removed by the next save of the same dataset. Local or any fsspec URL (see
    ``remote``: a remote file is uploaded when complete and staged locally to be read).
    """

    def __init__(  # noqa: PLR0913
        self,
        filepath: str,
        version: Version | None = None,
        compression: str = "zstd",
        row_group_size: int = 8192,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, version, credentials, fs_args, metadata)
        self._compression = compression
        self._row_group_size = row_group_size

    def load(self) -> pq.ParquetFile:
        path = self._reading()
        if not path.exists():
            raise DatasetError(f"No Parquet file at {path}")
        # pre_buffer=False: pyarrow would otherwise read every row group iter_batches is asked
        # for into memory at once (a 1 GB file, 1 GB of RSS); local reads need no coalescing
        return pq.ParquetFile(path, pre_buffer=False)

    def save(self, data: TableLike | Iterable[TableLike]) -> None:
        path = self._url(self._get_save_path())
        if self.is_local:
            self._sweep()
        parts: Iterable[TableLike] = (
            [data] if isinstance(data, pa.Table | pa.RecordBatch | pd.DataFrame) else data
        )
        writer: pq.ParquetWriter | None = None
        schema = getattr(data, "schema", None)
        with self._writing() as tmp:
            try:
                for part in parts:
                    table = _to_table(part)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema, compression=self._compression)
                    writer.write_table(table, row_group_size=self._row_group_size)
                if writer is None:
                    if schema is None:
                        raise DatasetError(
                            f"Nothing to save to {path}: the data was empty and carried no schema"
                        )
                    writer = pq.ParquetWriter(tmp, schema, compression=self._compression)
            finally:
                if writer is not None:
                    writer.close()

    def _sweep(self) -> None:
        """Remove temporaries that killed saves of this dataset left behind (any version)."""
        target = Path(str(self._filepath))
        if self._version is not None:
            sweep_stale_temporaries(target, target.name, pattern="*/")
        else:
            sweep_stale_temporaries(target.parent, target.name)

    def preview(self, nrows: int = 5, max_chars: int = 300) -> TablePreview:
        """The first ``nrows`` rows of the latest version for kedro-viz (long text cut short)."""
        batch = next(self.load().iter_batches(batch_size=nrows), None)
        rows = batch.to_pylist() if batch is not None else []
        columns = list(rows[0]) if rows else []
        data = [
            [
                v[:max_chars] + "…" if isinstance(v, str) and len(v) > max_chars else v
                for v in row.values()
            ]
            for row in rows
        ]
        return TablePreview({"columns": columns, "index": list(range(len(rows))), "data": data})
