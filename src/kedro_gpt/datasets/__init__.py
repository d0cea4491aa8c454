"""Kedro datasets that the catalog needs beyond kedro-datasets, all versioned and written atomically.

``GPTModelDataset`` is imported on first use, so the data stages do not load torch.
"""

from typing import Any

from kedro_gpt.datasets.feedback_table import FeedbackTableDataset
from kedro_gpt.datasets.json_report import JSONReportDataset
from kedro_gpt.datasets.parquet_stream import StreamingParquetDataset
from kedro_gpt.datasets.sentencepiece_model import SentencePieceModelDataset
from kedro_gpt.datasets.text_report import TextReportDataset
from kedro_gpt.datasets.token_shards import TokenShardsDataset

__all__ = [
    "FeedbackTableDataset",
    "GPTModelDataset",
    "JSONReportDataset",
    "SentencePieceModelDataset",
    "StreamingParquetDataset",
    "TextReportDataset",
    "TokenShardsDataset",
]


def __getattr__(name: str) -> Any:
    if name == "GPTModelDataset":
        from kedro_gpt.datasets.gpt_model import GPTModelDataset

        return GPTModelDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
