"""Kedro datasets that the catalog needs beyond kedro-datasets, all versioned and written atomically."""

from kedro_gpt.datasets.gpt_model import GPTModelDataset
from kedro_gpt.datasets.json_report import JSONReportDataset
from kedro_gpt.datasets.parquet_stream import StreamingParquetDataset
from kedro_gpt.datasets.sentencepiece_model import SentencePieceModelDataset
from kedro_gpt.datasets.token_shards import TokenShardsDataset

__all__ = [
    "GPTModelDataset",
    "JSONReportDataset",
    "SentencePieceModelDataset",
    "StreamingParquetDataset",
    "TokenShardsDataset",
]
