"""kedro-viz previews: the documents table and text reports show their latest version."""

from __future__ import annotations

import pyarrow as pa
from kedro.io.core import Version

from kedro_gpt.datasets import StreamingParquetDataset, TextReportDataset


def test_documents_preview_shows_the_first_rows_with_long_text_cut(tmp_path):
    dataset = StreamingParquetDataset(
        filepath=str(tmp_path / "documents.parquet"), version=Version(None, None)
    )
    texts = ["short text", "x" * 1000, "third", "fourth"]
    dataset.save(pa.table({"id": ["a", "b", "c", "d"], "text": texts}))
    preview = dataset.preview(nrows=3, max_chars=10)
    assert preview["columns"] == ["id", "text"]
    assert preview["index"] == [0, 1, 2]
    assert preview["data"][0] == ["a", "short text"]
    assert preview["data"][1] == ["b", "x" * 10 + "…"]
    assert len(preview["data"]) == 3


def test_text_report_preview_is_escaped_preformatted_text(tmp_path):
    dataset = TextReportDataset(filepath=str(tmp_path / "samples.txt"), version=Version(None, None))
    dataset.save("ROMEO: <b>speak</b> & be gone\n" * 3)
    preview = dataset.preview(max_chars=20)
    assert preview.startswith("<pre>ROMEO: &lt;b&gt;speak")
    assert preview.endswith("…</pre>")
    assert dataset.load().count("ROMEO") == 3  # still a plain text dataset
